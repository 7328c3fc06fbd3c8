"""Two teams' Lambda handlers for the end-to-end chain: A trains, B scores with A's model."""

from __future__ import annotations

import os
from typing import Any


def train(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "model_uri": f"s3://models/{event['model_id']}/{event['version']}",
        "epochs": event["input"]["epochs"],
        "environment": {name: os.environ.get(name) for name in ("E2E_TEAM_SETTING", "PIE_TABLE_NAME")},
        "context": {
            "function_name": context.function_name,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "log_group_name": context.log_group_name,
            "has_request_id": bool(context.aws_request_id),
            "has_time_left": context.get_remaining_time_in_millis() > 0,
        },
    }


def score(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"scored_with": event["input"]["model_uri"], "triggered_by": event["trigger"]["source_model_id"]}

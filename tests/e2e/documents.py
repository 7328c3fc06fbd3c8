"""Request documents the end-to-end suite sends."""

from __future__ import annotations

import uuid
from typing import Any


def unique_id(prefix: str = "e2e") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def model_document(model_id: str, **overrides: Any) -> dict[str, Any]:
    document = {
        "id": model_id,
        "name": "Price recommendation",
        "description": "Domain-level price model",
        "handlers": {
            "training": {
                "type": "lambda",
                "arn": "arn:aws:lambda:us-west-2:123456789012:function:train",
                "version": "1",
            },
            "inference": {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:infer"},
        },
        "metadata": {"team": "pricing"},
    }
    document.update(overrides)
    return document


IN_PROCESS_HANDLERS = {
    "training": {"type": "in_process", "implementation": "echo"},
    "inference": {"type": "in_process", "implementation": "echo"},
}

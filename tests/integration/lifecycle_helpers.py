"""Arranging versions and subscriptions for the lifecycle and outbox tests."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from shared.data import keys
from shared.domain.entities import Subscription
from shared.runtime import subscription_store
from tests.conftest import invoke
from tests.integration.api_events import Response, event_for, with_claims

# How to reach each status from a new version's ``pending``.
PATH_TO: dict[str, list[str]] = {
    "pending": [],
    "training": ["training"],
    "active": ["training", "active"],
    "failed": ["failed"],
}


def set_status(
    model_id: str,
    version: str,
    status: str,
    *,
    sub: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """POST new_status through the set_version_status function."""
    event = event_for(
        "set_version_status",
        body={"status": status, **extra},
        headers=headers,
        model_id=model_id,
        model_version=version,
    )
    if sub is not None:
        with_claims(event, sub=sub)
    return invoke("set_version_status", event)


def walk_to(model_id: str, version: str, status: str) -> None:
    for step in PATH_TO[status]:
        code, body, _ = set_status(model_id, version, step)
        assert code == 200, body


def subscribe(
    source: str,
    target: str,
    *,
    event: str = "training_complete",
    action: str = "inference",
    input_source: str = "stored",
    stored_input: dict[str, Any] | None = None,
    status: str = "active",
) -> Subscription:
    """A subscription written straight through the data layer: firing must not care how."""
    now = datetime.now(UTC)
    subscription = Subscription(
        id=str(uuid.uuid4()),
        source_model_id=source,
        trigger_event=event,
        target_model_id=target,
        target_action=action,
        input_source=input_source,
        input=stored_input if input_source == "stored" else None,
        status=status,
        created_at=now,
        updated_at=now,
    )
    subscription_store().put_new(subscription)
    return subscription


def jobs_of(client: Any, model_id: str) -> list[dict[str, Any]]:
    """Every job document in a model's partition."""
    items: list[dict[str, Any]] = []
    query: dict[str, Any] = {
        "TableName": "pie-local",
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :job)",
        "ExpressionAttributeValues": {":pk": {"S": keys.model_partition(model_id)}, ":job": {"S": "JOB#"}},
    }
    while True:
        page = client.query(**query)
        items.extend(json.loads(item["doc"]["S"]) for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

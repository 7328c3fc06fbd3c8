"""The stream consumers' filter patterns, judged as Lambda's event filtering judges them: the same
patterns filter the deployed event source mappings and pie-local's replay of the stream."""

from __future__ import annotations

from typing import Any

import pytest

from shared.data import keys
from shared.data.stream_filters import DISPATCHER, WEBHOOK_DELIVERY, matches, matches_any


def image(event_name: str, **attributes: str) -> dict[str, Any]:
    return {"eventName": event_name, "dynamodb": {"NewImage": {k: {"S": v} for k, v in attributes.items()}}}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (image("INSERT", entity_type="JOB", status="queued"), True),
        (image("MODIFY", entity_type="JOB", status="queued"), True),
        (image("MODIFY", entity_type="JOB", status="running"), False),
        (image("REMOVE", entity_type="JOB", status="queued"), False),
        (image("INSERT", entity_type="JOB"), False),  # a field the pattern names is missing
        (image("INSERT", entity_type=keys.FANOUT_ENTITY), True),
        (image("MODIFY", entity_type=keys.FANOUT_ENTITY), False),
        (image("INSERT", entity_type="MODEL"), False),
        ({"eventName": "INSERT", "dynamodb": {"OldImage": {"entity_type": {"S": "JOB"}}}}, False),
        ({"eventName": "INSERT", "dynamodb": "not an object"}, False),
        (
            {
                "eventName": ["INSERT"],
                "dynamodb": {"NewImage": {"entity_type": {"S": ["JOB", "X"]}, "status": {"S": "queued"}}},
            },
            True,
        ),
        ({"eventName": {"S": "INSERT"}, "dynamodb": {}}, False),
    ],
)
def test_the_dispatcher_is_invoked_for_queued_jobs_and_fan_outs_only(record: dict[str, Any], expected: bool):
    assert keys.JOB_ENTITY == "JOB"
    assert matches_any(DISPATCHER, record) is expected


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (image("INSERT", entity_type=keys.EVENT_ENTITY), True),
        (image("REMOVE", entity_type=keys.EVENT_ENTITY), False),
        (image("INSERT", entity_type=keys.DELIVERY_ENTITY, status="pending"), True),
        (image("MODIFY", entity_type=keys.DELIVERY_ENTITY, status="pending"), True),
        (image("MODIFY", entity_type=keys.DELIVERY_ENTITY, status="delivered"), False),
        (image("INSERT", entity_type="MODEL"), False),
    ],
)
def test_webhook_delivery_is_invoked_for_new_events_and_pending_deliveries_only(record: dict[str, Any], expected: bool):
    assert matches_any(WEBHOOK_DELIVERY, record) is expected


@pytest.mark.parametrize("rule", [[{"prefix": "JO"}], [{"exists": True}], "JOB", [{"numeric": [">", 1]}]])
def test_a_rule_other_than_exact_values_is_refused_rather_than_judged_differently_from_lambda(rule: Any):
    with pytest.raises(ValueError, match="unsupported filter rule"):
        matches({"dynamodb": {"NewImage": {"entity_type": {"S": rule}}}}, image("INSERT", entity_type="JOB"))

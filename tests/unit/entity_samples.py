"""One sample of each stored entity, for the data layer's unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.domain.entities import Job, Model, StatusChange, Subscription, Version

NOW = datetime(2026, 1, 1, tzinfo=UTC)
HANDLERS = {
    "training": {"type": "in_process", "implementation": "echo"},
    "inference": {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:score"},
}


def a_model(workspace: str = "default", **changes: Any) -> Model:
    return Model.model_validate(
        {
            "id": "model_a",
            "workspace": workspace,
            "name": "A",
            "description": "",
            "handlers": HANDLERS,
            "handler_contracts": None,
            "metadata": {"score": 0.25, "nested": {"list": [1, 2.5, None]}},
            "status": "active",
            "latest_version": "12",
            "active_version": "12",
            "entity_version": 7,
            "created_at": NOW,
            "updated_at": NOW + timedelta(minutes=1),
            "created_by": "alice",
            **changes,
        }
    )


def a_version(training_job_id: str | None = None) -> Version:
    return Version.model_validate(
        {
            "model_id": "model_a",
            "version": "12",
            "description": "Q4",
            "metadata": {"dataset": "q4"},
            "status": "training" if training_job_id else "pending",
            "status_message": None,
            "status_history": [StatusChange(status="pending", status_message=None, at=NOW, by="alice")],
            "handlers": HANDLERS,
            "handler_contracts": None,
            "training_job_id": training_job_id,
            "entity_version": 2,
            "created_at": NOW,
            "updated_at": NOW,
            "created_by": "alice",
        }
    )


def a_subscription() -> Subscription:
    return Subscription.model_validate(
        {
            "id": "7d0f6a36-2fa1-11d2-883f-0016d3cca427",
            "source_model_id": "model_a",
            "trigger_event": "training_complete",
            "target_model_id": "model_b",
            "target_action": "inference",
            "input_source": "trigger_output",
            "status": "active",
            "entity_version": 3,
            "created_at": NOW,
            "updated_at": NOW,
            "warnings": ["a warning"],
        }
    )


def a_job(status: str = "queued", job_id: str = "2b4e28ba-2fa1-11d2-883f-0016d3cca427") -> Job:
    return Job.model_validate(
        {
            "id": job_id,
            "model_id": "model_a",
            "version": "12",
            "action": "inference",
            "status": status,
            "input": {"x": 1.5},
            "handler": HANDLERS["inference"],
            "trigger": None,
            "entity_version": 4,
            "created_at": NOW,
            "updated_at": NOW,
        }
    )

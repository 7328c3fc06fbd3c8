"""Entities as the stores hold them, for tests that start from a known state."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.domain.entities import Handlers, Job, Model, StatusChange, Subscription, Version
from shared.domain.records import ModelRecord

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ECHO = {"type": "in_process", "implementation": "echo"}
HANDLERS = Handlers.model_validate({"training": ECHO, "inference": ECHO})


def model(model_id: str = "m", **changes: Any) -> Model:
    base: dict[str, Any] = {
        "id": model_id,
        "workspace": "default",
        "name": model_id,
        "description": "",
        "handlers": HANDLERS,
        "handler_contracts": None,
        "metadata": {},
        "status": "pending",
        "latest_version": "1",
        "active_version": None,
        "entity_version": 1,
        "created_at": T0,
        "updated_at": T0,
        "created_by": "tester",
    }
    return Model.model_validate({**base, **changes})


def record(model_id: str = "m", sequence: int = 1, **changes: Any) -> ModelRecord:
    return ModelRecord(model(model_id, **changes), version_sequence=sequence, highest_numeric_version=sequence)


def version(model_id: str = "m", number: str = "1", **changes: Any) -> Version:
    base: dict[str, Any] = {
        "model_id": model_id,
        "version": number,
        "description": "",
        "metadata": {},
        "status": "pending",
        "status_message": None,
        "status_history": [StatusChange(status="pending", status_message=None, at=T0, by="tester")],
        "handlers": HANDLERS,
        "handler_contracts": None,
        "entity_version": 1,
        "created_at": T0,
        "updated_at": T0,
        "created_by": "tester",
    }
    return Version.model_validate({**base, **changes})


def subscription(source: str = "m", target: str = "t", **changes: Any) -> Subscription:
    base: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "source_model_id": source,
        "trigger_event": "training_complete",
        "target_model_id": target,
        "target_action": "inference",
        "input_source": "trigger_output",
        "status": "active",
        "created_at": T0,
        "updated_at": T0,
    }
    return Subscription.model_validate({**base, **changes})


def job(model_id: str = "m", minutes: int = 0, **changes: Any) -> Job:
    """A queued direct job, created ``minutes`` after T0."""
    at = T0 + timedelta(minutes=minutes)
    base: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "model_id": model_id,
        "version": "1",
        "action": "inference",
        "status": "queued",
        "input": {},
        "handler": ECHO,
        "trigger": None,
        "created_at": at,
        "updated_at": at,
    }
    return Job.model_validate({**base, **changes})

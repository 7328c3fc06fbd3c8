"""Versions as rules: cutting one from its model, moving one through its lifecycle, and what a move
does to its model. No I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from shared.domain.entities import Lineage, Model, StatusChange, Version
from shared.domain.lifecycle import bounded_history
from shared.domain.records import ModelRecord

# Who cuts and binds versions for a chain (a triggered training), in status histories.
CHAIN_ACTOR = "pie"
# The largest document a stored version may have: the data layer's MAX_DOCUMENT_BYTES (a test holds
# them equal; the model does not import the data layer).
MAX_VERSION_DOCUMENT_BYTES = 380_000


def cut_version(
    model: Model,
    version: str,
    description: str,
    metadata: dict[str, Any],
    actor: str,
    now: datetime,
    tags: dict[str, str] | None = None,
) -> Version:
    """A new ``pending`` version of ``model``, with the model's current handlers and contracts."""
    return Version(
        model_id=model.id,
        workspace=model.workspace,
        version=version,
        description=description,
        metadata=metadata,
        tags=tags or {},
        status="pending",
        status_message=None,
        status_history=[StatusChange(status="pending", status_message=None, at=now, by=actor)],
        handlers=model.handlers,
        handler_contracts=model.handler_contracts,
        entity_version=1,
        created_at=now,
        updated_at=now,
        created_by=actor,
    )


def moved_version(
    version: Version,
    status: str,
    message: str | None,
    actor: str,
    now: datetime,
    training_job_id: str | None = None,
    lineage: Lineage | None = None,
) -> Version:
    """The version after a move; ``training_job_id`` binds a version going ``training`` to the job
    training it (whose ``lineage`` it then records), and every other move (by a job's completion
    or by hand) unbinds it and keeps the lineage it has. Its status history keeps what fits
    (``bounded_history``), so a version can always move."""
    change = StatusChange(status=status, status_message=message, at=now, by=actor)
    update: dict[str, Any] = {
        "status": status,
        "status_message": message,
        "status_history": [*version.status_history, change],
        "training_job_id": training_job_id,
        "entity_version": version.entity_version + 1,
        "updated_at": now,
    }
    if lineage is not None:
        update["lineage"] = lineage
    return bounded_history(version.model_copy(update=update), MAX_VERSION_DOCUMENT_BYTES)


def model_after(record: ModelRecord, before: Version, after: Version, now: datetime) -> ModelRecord | None:
    """The model as a version's transition leaves it, or None when it does not change.

    Activating a version makes it the model's active version. Withdrawing one (active → failed)
    falls back to the most recently activated version that is still active; with none left, the
    model has no active version and returns to ``pending``.
    """
    order = [v for v in record.activation_order if v != after.version]
    if after.status == "active":
        order.append(after.version)
    elif before.status != "active":
        return None
    active = order[-1] if order else None
    model: Model = record.model.model_copy(
        update={
            "status": "active" if active else "pending",
            "active_version": active,
            "entity_version": record.model.entity_version + 1,
            "updated_at": now,
        }
    )
    return replace(record, model=model, activation_order=tuple(order))

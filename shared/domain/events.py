"""The outbound event catalogue: every event PIE sends to webhooks, one registration each (SPEC.md,
"Outbound events").

An event is written as an item in the same transaction as the change it reports (the data layer
adds ``Write.events`` to the write's transaction), so a change without its event, or an event
without its change, cannot happen. Its payload is ``{"type", "timestamp", "data"}``; ``data``
carries the resource's ids, its workspace and the fields of the change. The builders below are the
only way an event is made, and ``CATALOGUE`` lists what each type's ``data`` holds (the OpenAPI
document and the webhook filters read it).
"""

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.domain.entities import Alias, Job, Model, Subscription, Version


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    fields: tuple[str, ...]  # the keys of its ``data`` beside ``workspace``


CATALOGUE: dict[str, EventType] = {}


def _register(name: str, description: str, *fields: str) -> str:
    assert name not in CATALOGUE, f"event {name} registered twice"
    CATALOGUE[name] = EventType(name, description, fields)
    return name


MODEL_CREATED = _register("model.created", "A model was created.", "model_id", "name", "created_by")
MODEL_UPDATED = _register(
    "model.updated", "A model's fields were replaced (PUT).", "model_id", "name", "entity_version", "latest_version"
)
MODEL_DELETED = _register("model.deleted", "A model and everything in it was deleted.", "model_id")
VERSION_CREATED = _register("version.created", "A version was cut.", "model_id", "version", "status", "created_by")
VERSION_STATUS_CHANGED = _register(
    "version.status_changed",
    "A version moved from one status to another.",
    "model_id",
    "version",
    "from",
    "to",
    "status_message",
    "by",
)
ALIAS_SET = _register(
    "alias.set", "An alias was created or moved.", "model_id", "alias", "version", "previous_version", "reason", "by"
)
ALIAS_DELETED = _register("alias.deleted", "An alias was deleted.", "model_id", "alias", "previous_version", "by")
JOB_SUCCEEDED = _register(
    "job.succeeded", "A job succeeded.", "model_id", "job_id", "version", "action", "attempt", "output"
)
JOB_FAILED = _register(
    "job.failed", "A job failed after its last attempt.", "model_id", "job_id", "version", "action", "attempt", "error"
)
SUBSCRIPTION_STALE = _register(
    "subscription.stale",
    "A subscription was marked stale (its target changed or was deleted).",
    "model_id",
    "subscription_id",
    "target_model_id",
)
PING = _register("ping", "A test event sent by POST /v2/webhooks/{id}/ping.", "webhook_id")

EVENT_TYPES: tuple[str, ...] = tuple(CATALOGUE)
ALL_EVENTS = "*"


class Event(BaseModel):
    """One event, as stored (its ``id`` is what every delivery of it is named after)."""

    model_config = ConfigDict(frozen=True)

    id: str
    type: str
    timestamp: datetime
    workspace: str
    model_id: str | None
    data: dict[str, Any]

    def payload(self) -> dict[str, Any]:
        """What a receiver gets: ``{"type", "timestamp", "data"}``."""
        return {
            "type": self.type,
            "timestamp": self.timestamp.isoformat().replace("+00:00", "Z"),
            "data": {**self.data, "workspace": self.workspace},
        }


def new_event_id(now: datetime) -> str:
    """Sortable by time (milliseconds in hex), then 64 random bits."""
    return f"evt_{int(now.timestamp() * 1000):012x}{secrets.token_hex(8)}"


def _event(kind: str, now: datetime, workspace: str, **data: Any) -> Event:
    """``data["model_id"]``, when the type has one, is also what webhooks filter models on."""
    assert set(data) == set(CATALOGUE[kind].fields), f"{kind}: {sorted(data)}"
    model_id = data.get("model_id")
    return Event(id=new_event_id(now), type=kind, timestamp=now, workspace=workspace, model_id=model_id, data=data)


# Builders ---------------------------------------------------------------------------------------


def model_created(model: Model) -> Event:
    return _event(
        MODEL_CREATED, model.created_at, model.workspace, model_id=model.id, name=model.name,
        created_by=model.created_by,
    )  # fmt: skip


def model_updated(model: Model) -> Event:
    return _event(
        MODEL_UPDATED, model.updated_at, model.workspace, model_id=model.id, name=model.name,
        entity_version=model.entity_version, latest_version=model.latest_version,
    )  # fmt: skip


def model_deleted(model: Model, now: datetime) -> Event:
    return _event(MODEL_DELETED, now, model.workspace, model_id=model.id)


def version_created(version: Version) -> Event:
    return _event(
        VERSION_CREATED, version.created_at, version.workspace, model_id=version.model_id,
        version=version.version, status=version.status, created_by=version.created_by,
    )  # fmt: skip


def version_status_changed(before: Version, after: Version) -> Event | None:
    """None when the status did not change (an update that only binds or unbinds a job)."""
    if before.status == after.status:
        return None
    by = after.status_history[-1].by if after.status_history else after.created_by
    return _event(
        VERSION_STATUS_CHANGED, after.updated_at, after.workspace, model_id=after.model_id,
        version=after.version, status_message=after.status_message, by=by, **{"from": before.status, "to": after.status},
    )  # fmt: skip


def alias_set(alias: Alias, workspace: str, previous_version: str | None) -> Event:
    return _event(
        ALIAS_SET, alias.updated_at, workspace, model_id=alias.model_id, alias=alias.name,
        version=alias.version, previous_version=previous_version, reason=alias.reason, by=alias.updated_by,
    )  # fmt: skip


def alias_deleted(alias: Alias, workspace: str, by: str, now: datetime) -> Event:
    return _event(
        ALIAS_DELETED, now, workspace, model_id=alias.model_id, alias=alias.name,
        previous_version=alias.version, by=by,
    )  # fmt: skip


def job_ended(before: Job, after: Job) -> Event | None:
    """``job.succeeded`` or ``job.failed`` when a job reaches that end (a failed attempt that is
    retried leaves it ``queued``: no event), else None."""
    if after.status == before.status or after.status not in ("succeeded", "failed"):
        return None
    common = {
        "model_id": after.model_id, "job_id": after.id, "version": after.version, "action": after.action,
        "attempt": after.attempt,
    }  # fmt: skip
    if after.status == "succeeded":
        return _event(JOB_SUCCEEDED, after.updated_at, after.workspace, **common, output=after.output)
    return _event(JOB_FAILED, after.updated_at, after.workspace, **common, error=after.error)


def subscription_stale(subscription: Subscription) -> Event:
    return _event(
        SUBSCRIPTION_STALE, subscription.updated_at, subscription.workspace,
        model_id=subscription.source_model_id, subscription_id=subscription.id,
        target_model_id=subscription.target_model_id,
    )  # fmt: skip


def ping(webhook_id: str, workspace: str, now: datetime) -> Event:
    return _event(PING, now, workspace, webhook_id=webhook_id)

"""Webhook endpoints and their deliveries: the entities and the rules (SPEC.md, "Outbound events").

Signing follows the Standard Webhooks specification: ``webhook-id``, ``webhook-timestamp`` (Unix
seconds) and ``webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, keyed by
the bytes the secret's base64 (after ``whsec_``) decodes to. A delivery's id is derived from its
event and its endpoint, so each event reaches each endpoint under exactly one ``webhook-id``, on
every retry and every redrive.
"""

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, WithJsonSchema, field_validator

from shared.domain.entities import ModelId, Resource, Strict, WorkspaceName
from shared.domain.events import ALL_EVENTS, EVENT_TYPES, PING, Event

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24
RESPONSE_EXCERPT_BYTES = 1024
# A delivery keeps its latest attempts (automatic ones are bounded by the schedule; redrives are not).
ATTEMPTS_KEPT = 20
ERROR_LIMIT = 500

MAX_MODEL_IDS = 100
WebhookStatus = Literal["active", "disabled"]
DeliveryStatus = Literal["pending", "delivered", "failed"]


class Webhook(Resource):
    id: str
    workspace: str = Field(description='The workspace whose events it receives ("*": every workspace; admins only).')
    url: str
    events: list[str]
    model_ids: list[str] | None = None
    description: str | None = None
    status: WebhookStatus
    disabled_reason: str | None = None
    failing_since: datetime | None = Field(
        default=None, description="When its deliveries started failing (null while they succeed)."
    )
    entity_version: int
    created_at: datetime
    updated_at: datetime
    created_by: str


class Attempt(Resource):
    at: datetime
    status_code: int | None = None
    duration_ms: int
    error: str | None = None
    response_excerpt: str | None = None


class Delivery(Resource):
    id: str = Field(description="The webhook-id header of every attempt.")
    webhook_id: str
    event_id: str
    event_type: str
    workspace: str
    payload: dict[str, Any]
    status: DeliveryStatus
    attempts: list[Attempt] = Field(default_factory=list)
    next_attempt_at: datetime | None = None
    entity_version: int
    created_at: datetime
    updated_at: datetime


# Requests and responses --------------------------------------------------------------------------

WebhookUrl = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
WebhookDescription = Annotated[str, StringConstraints(max_length=1000)]
# An event type of the catalogue, or "*"; published as an enum, checked by ``_known_events`` (whose
# message lists the known types).
EventTypeName = Annotated[
    str, WithJsonSchema({"type": "string", "enum": [*EVENT_TYPES, ALL_EVENTS]}, mode="validation")
]


def _known_events(events: list[str]) -> list[str]:
    unknown = [event for event in events if event != ALL_EVENTS and event not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"unknown event types {unknown}; known: {list(EVENT_TYPES)} or ['*']")
    return sorted(set(events), key=events.index)


class CreateWebhookRequest(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"url": "https://hooks.example.com/pie", "events": ["version.status_changed", "alias.set"]}]
        }
    )

    url: WebhookUrl = Field(description="https only (pie-local also allows http to loopback).")
    events: list[EventTypeName] = Field(min_length=1, max_length=32, description='Event types, or ["*"] for all.')
    workspace: WorkspaceName | Literal["*"] | None = Field(
        default=None,
        description='Whose events it receives; default: the caller\'s only workspace; "*" (admins): every workspace.',
    )
    model_ids: list[ModelId] | None = Field(
        default=None, max_length=MAX_MODEL_IDS, description="Only these models' events (default: every model's)."
    )
    description: WebhookDescription | None = None

    _events = field_validator("events")(_known_events)


class UpdateWebhookRequest(Strict):
    """Changes the fields given; the others keep their values. ``status: active`` re-enables a
    disabled endpoint (and forgets how long it had been failing)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"events": ["*"], "status": "active"}]})

    url: WebhookUrl | None = None
    events: list[EventTypeName] | None = Field(default=None, min_length=1, max_length=32)
    model_ids: list[ModelId] | None = Field(default=None, max_length=MAX_MODEL_IDS)
    description: WebhookDescription | None = None
    status: WebhookStatus | None = None

    @field_validator("events")
    @classmethod
    def _events(cls, events: list[str] | None) -> list[str] | None:
        return None if events is None else _known_events(events)


class WebhookResponse(Resource):
    webhook: Webhook


class WebhookWithSecret(Webhook):
    secret: str = Field(description="whsec_ + base64 of 24 random bytes: shown in this answer only.")


class WebhookSecretResponse(Resource):
    """The answer of a creation or a rotation: the only answers that hold the secret."""

    webhook: WebhookWithSecret


class WebhookList(Resource):
    webhooks: list[Webhook]
    next_token: str | None


class DeliveryResponse(Resource):
    delivery: Delivery


class DeliveryList(Resource):
    deliveries: list[Delivery] = Field(description="Newest first.")
    next_token: str | None


@dataclass(frozen=True)
class DeliveryPolicy:
    """When a failed attempt is tried again, when a delivery gives up, when an endpoint is disabled."""

    # After the n-th failed attempt, the next is due this much later; past the last, it has failed.
    retry_after: tuple[timedelta, ...] = (
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
    )
    disable_after: timedelta = timedelta(days=3)
    timeout_seconds: float = 10.0
    # An attempt holds its delivery this long before another worker may take it (past the timeout).
    claim: timedelta = timedelta(seconds=30)

    @classmethod
    def scaled(cls, factor: float) -> "DeliveryPolicy":
        """The same schedule, every interval times ``factor``, to try a receiver quickly (the claim
        too, down to a second: a receiver slower than that may then be sent an attempt twice)."""
        base = cls()
        return cls(
            tuple(step * factor for step in base.retry_after),
            base.disable_after * factor,
            base.timeout_seconds,
            max(base.claim * factor, timedelta(seconds=1)),
        )


# Ids and secrets ---------------------------------------------------------------------------------


def new_webhook_id() -> str:
    return f"wh_{secrets.token_hex(12)}"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def delivery_id(event_id: str, webhook_id: str) -> str:
    """One per (event, endpoint), the same whoever computes it: time-ordered like its event."""
    event_part = event_id.removeprefix("evt_")
    return f"msg_{event_part}{hashlib.sha256(webhook_id.encode()).hexdigest()[:8]}"


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,<base64>`` signature of a delivery (Standard Webhooks)."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(secrets_in_force: list[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers; one signature per secret in force (a rotated secret is
    honoured for a while, so receivers can switch over)."""
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(secret, message_id, timestamp, body) for secret in secrets_in_force),
    }


# Rules -------------------------------------------------------------------------------------------


def wants(webhook: Webhook, event: Event) -> bool:
    """Whether ``webhook`` receives ``event``: active, of its workspace, of its types and models. A
    ping goes only to the webhook it was sent to."""
    if webhook.status != "active" or event.timestamp < webhook.created_at:
        return False  # nor an event from before it existed (a stream replayed from its start)
    if event.type == PING:
        return event.data.get("webhook_id") == webhook.id
    if webhook.workspace not in (ALL_EVENTS, event.workspace):
        return False
    if ALL_EVENTS not in webhook.events and event.type not in webhook.events:
        return False
    return webhook.model_ids is None or event.model_id in webhook.model_ids


def new_delivery(webhook: Webhook, event: Event, now: datetime) -> Delivery:
    return Delivery(
        id=delivery_id(event.id, webhook.id),
        webhook_id=webhook.id,
        event_id=event.id,
        event_type=event.type,
        workspace=event.workspace,
        payload=event.payload(),
        status="pending",
        next_attempt_at=now,
        entity_version=1,
        created_at=now,
        updated_at=now,
    )


def excerpt(text: bytes) -> str:
    return text[:RESPONSE_EXCERPT_BYTES].decode("utf-8", errors="replace")


def after_attempt(delivery: Delivery, attempt: Attempt, delivered: bool, policy: DeliveryPolicy) -> Delivery:
    """The delivery after an attempt: delivered, due again per the schedule, or failed. A redrive
    (an attempt of a delivery that had failed) that fails leaves it failed."""
    attempts = [*delivery.attempts, attempt][-ATTEMPTS_KEPT:]
    failures = len([a for a in attempts if not _succeeded(a)])
    update: dict[str, Any] = {
        "attempts": attempts,
        "entity_version": delivery.entity_version + 1,
        "updated_at": attempt.at,
        "next_attempt_at": None,
    }
    if delivered:
        update["status"] = "delivered"
    elif delivery.status == "pending" and failures <= len(policy.retry_after):
        update["status"] = "pending"
        update["next_attempt_at"] = attempt.at + policy.retry_after[failures - 1]
    else:
        update["status"] = "failed"
    return delivery.model_copy(update=update)


def _succeeded(attempt: Attempt) -> bool:
    return attempt.status_code is not None and 200 <= attempt.status_code < 300


def redriven(delivery: Delivery, now: datetime) -> Delivery:
    """A failed delivery made due now again (the same id, so the same ``webhook-id``)."""
    return delivery.model_copy(
        update={"status": "pending", "next_attempt_at": now, "entity_version": delivery.entity_version + 1,
                "updated_at": now, "attempts": delivery.attempts[-(ATTEMPTS_KEPT - 1):]}
    )  # fmt: skip


def endpoint_after(webhook: Webhook, delivered: bool, now: datetime, policy: DeliveryPolicy) -> Webhook | None:
    """The endpoint after a delivery's attempt, or None when nothing about it changes: a success
    clears ``failing_since``; a failure sets it, and one ``disable_after`` past it disables the
    endpoint with the reason."""
    if delivered:
        if webhook.failing_since is None:
            return None
        return _bumped(webhook, now, failing_since=None)
    if webhook.failing_since is None:
        return _bumped(webhook, now, failing_since=now)
    if webhook.status == "active" and now - webhook.failing_since >= policy.disable_after:
        reason = (
            f"every delivery failed since {webhook.failing_since.isoformat()}: disabled after {policy.disable_after}"
        )
        return _bumped(webhook, now, status="disabled", disabled_reason=reason)
    return None


def _bumped(webhook: Webhook, now: datetime, **changes: Any) -> Webhook:
    return webhook.model_copy(update={**changes, "entity_version": webhook.entity_version + 1, "updated_at": now})

"""The world each benchmarked request finds, written straight into the table as items.

The ``events/`` samples name one source model (``model_price_reco_v1``), the model its subscription
targets (``model_price_elasticity``), one subscription and one job. ``seed`` writes them with the
data layer's item builders and the caller's own DynamoDB client, so no route function runs and
nothing the function under test would build (its client, its services) is warmed before it is
timed. The statuses differ per function so that every sample is a request that succeeds.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from shared.data.entities import (
    ALIAS_CHANGES,
    ALIASES,
    FIRING_INDEXES,
    JOBS,
    MODEL_TAGS,
    MODELS,
    VERSION_TAGS,
    VERSIONS,
    VersionRecord,
    firing_indexes,
    model_tags,
    subscription_items,
    version_tags,
)
from shared.data.items import BATCH_WRITE_LIMIT
from shared.data.webhook_entities import DELIVERIES, WEBHOOKS, WebhookRecord
from shared.domain.entities import Alias, AliasChange, Handlers, Job, Model, StatusChange, Subscription, Version
from shared.domain.events import ping
from shared.domain.records import AliasChangeRecord, ModelRecord
from shared.domain.webhooks import Attempt, Webhook, new_delivery, new_secret
from shared.kinds.envelope import JobEnvelope
from shared.routes import route_for

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"

SOURCE_MODEL = "model_price_reco_v1"
TARGET_MODEL = "model_price_elasticity"
SUBSCRIPTION_ID = "6ba7b811-9dad-11d1-80b4-00c04fd430c8"
JOB_ID = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
QUEUED_JOB_ID = "0c1d2e3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5"
ACTOR = "bench"
STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/pie-local/stream/2026-01-01T00:00:00.000"

ALIAS = "champion"
# The alias routes' samples name the alias ``champion`` of the source model, at its active version "1".
ALIAS_FUNCTIONS = ("set_alias", "list_aliases", "get_alias", "get_alias_history", "delete_alias")

# The tag routes' samples name the tag ``team`` of the source model and of its version "1".
TAG_FUNCTIONS = ("set_model_tag", "delete_model_tag", "set_version_tag", "delete_version_tag")
TAG = {"team": "bench"}

# Functions that are not HTTP routes, so have no events/ sample: their events are built here.
NON_ROUTE_FUNCTIONS = ("dispatch_jobs", "complete_job_events")


def load_event(function: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((EVENTS / f"{function}.json").read_text()))


def sample_event(function: str) -> dict[str, Any]:
    """The event the function's first invocation serves."""
    if function == "dispatch_jobs":
        return {"Records": [stream_record(queued_job(), sequence=1)]}
    if function == "complete_job_events":
        return destination_record(training_job("dispatched"), {"model_path": "s3://models/price/1"})
    return load_event(function)


def route_event(function: str, body: Any = None, **path: str) -> dict[str, Any]:
    """The sample event of a route with other path parameters or another body (payload 2.0 keeps
    the path in three places; the resolver routes on ``rawPath``)."""
    event = load_event(function)
    route = route_for(function)
    parameters = {**(event.get("pathParameters") or {}), **path}
    raw_path = route.path
    for name in route.path_parameters:
        raw_path = raw_path.replace(f"{{{name}}}", quote(parameters[name], safe=""))
    event["rawPath"] = raw_path
    event["requestContext"]["http"]["path"] = raw_path
    if route.path_parameters:
        event["pathParameters"] = {name: parameters[name] for name in route.path_parameters}
    if body is not None:
        event["body"] = json.dumps(body)
        event["headers"]["content-length"] = str(len(event["body"].encode()))
    return event


def seed(client: Any, table: str, function: str) -> None:
    """Write the world ``function``'s sample expects."""
    now = datetime.now(UTC)
    items: list[dict[str, Any]] = []
    if function != "create_model":
        source_status = {"start_inference": "active", "complete_job": "training", "complete_job_events": "training"}
        version_status = "active" if function in ALIAS_FUNCTIONS else source_status.get(function, "pending")
        items += model_items(SOURCE_MODEL, version_status, now, tags=TAG if function in TAG_FUNCTIONS else None)
        if function in ALIAS_FUNCTIONS:
            items += alias_items(SOURCE_MODEL, ALIAS, "1", now)
        items += subscription_items(subscription(SOURCE_MODEL, TARGET_MODEL, SUBSCRIPTION_ID, now))
        items.append(JOBS.encode(training_job("dispatched", now)))
    items += model_items(TARGET_MODEL, "active", now)
    if function == "dispatch_jobs":
        items.append(JOBS.encode(queued_job(now)))
    if "webhook" in function:
        items += webhook_items(now)
    write_items(client, table, items)


def webhook_items(now: datetime) -> list[dict[str, Any]]:
    """The webhook the samples name, with the failed delivery ``retry_webhook_delivery`` names."""
    sample = load_event("get_webhook")["pathParameters"]["webhook_id"]
    webhook = Webhook(
        id=sample, workspace="default", url="https://127.0.0.1:9/pie", events=["*"], status="active",
        entity_version=1, created_at=now, updated_at=now, created_by="bench",
    )  # fmt: skip
    delivery = new_delivery(webhook, ping(webhook.id, "default", now), now)
    failed = delivery.model_copy(
        update={
            "id": load_event("retry_webhook_delivery")["pathParameters"]["delivery_id"],
            "status": "failed",
            "next_attempt_at": None,
            "attempts": [Attempt(at=now, duration_ms=1, error="x")],
        }
    )
    return [WEBHOOKS.encode(WebhookRecord(webhook, new_secret())), DELIVERIES.encode(failed)]


def sample_handlers() -> Handlers:
    return Handlers.model_validate(json.loads(load_event("create_model")["body"])["handlers"])


def model_items(
    model_id: str,
    version_status: str,
    now: datetime,
    handlers: Handlers | None = None,
    tags: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """A model with one version "1" in ``version_status`` (the model is active when it is); with
    ``tags``, both carry them (and their tag index items)."""
    handlers = handlers or sample_handlers()
    active = version_status == "active"
    model = Model(
        id=model_id,
        name=model_id,
        description="benchmark model",
        handlers=handlers,
        handler_contracts=None,
        metadata={"team": "bench"},
        tags=tags or {},
        status="active" if active else "pending",
        latest_version="1",
        active_version="1" if active else None,
        entity_version=2 if active else 1,
        created_at=now,
        updated_at=now,
        created_by=ACTOR,
    )
    history = [StatusChange(status="pending", status_message=None, at=now, by=ACTOR)]
    if version_status != "pending":
        history.append(StatusChange(status=version_status, status_message=None, at=now, by=ACTOR))
    version = Version(
        model_id=model_id,
        version="1",
        description="",
        metadata={},
        status=version_status,
        status_message=None,
        status_history=history,
        handlers=handlers,
        handler_contracts=None,
        entity_version=len(history),
        created_at=now,
        updated_at=now,
        created_by=ACTOR,
    )
    record = ModelRecord(
        model, version_sequence=1, highest_numeric_version=1, activation_order=("1",) if active else ()
    )
    version_record = VersionRecord(version.model_copy(update={"tags": tags or {}}), sequence=1)
    return [
        MODELS.encode(record),
        VERSIONS.encode(version_record),
        *(MODEL_TAGS.encode(tag) for tag in model_tags(model)),
        *(VERSION_TAGS.encode(tag) for tag in version_tags(version_record)),
        *(FIRING_INDEXES.encode(marker) for marker in firing_indexes(model_id)),
    ]


def alias_items(model_id: str, name: str, version: str, now: datetime) -> list[dict[str, Any]]:
    """An alias just created at ``version``, with its history entry."""
    alias = Alias(name=name, model_id=model_id, version=version, updated_at=now, updated_by=ACTOR)
    change = AliasChange(version=version, previous_version=None, reason=None, at=now, by=ACTOR)
    return [ALIASES.encode(alias), ALIAS_CHANGES.encode(AliasChangeRecord(model_id, name, change, 1))]


def subscription(source: str, target: str, subscription_id: str, now: datetime | None = None) -> Subscription:
    now = now or datetime.now(UTC)
    return Subscription(
        id=subscription_id,
        source_model_id=source,
        trigger_event="training_complete",
        target_model_id=target,
        target_action="inference",
        input_source="stored",
        input={"features": [0.2, 0.4]},
        label="benchmark",
        status="active",
        created_at=now,
        updated_at=now,
    )


BENCH_COMPLETION_TOKEN = "bench-completion-token-of-the-samples-training-attempt"


def training_job(status: str, now: datetime | None = None) -> Job:
    """The samples' job: a training of the source model's version "1" on its Lambda handler."""
    now = now or datetime.now(UTC)
    job = Job(
        id=JOB_ID,
        model_id=SOURCE_MODEL,
        version="1",
        action="training",
        status=status,
        input={"data_path": "s3://pie-datasets/prices/2025-q4/"},
        handler=sample_handlers().training,
        trigger=None,
        attempts=1 if status != "queued" else 0,
        entity_version=2 if status != "queued" else 1,
        created_at=now,
        updated_at=now,
    )
    # A dispatched attempt holds its completion token, which its handler's result carries back.
    return job if status == "queued" else job.with_completion_token(BENCH_COMPLETION_TOKEN)


def queued_job(now: datetime | None = None, job_id: str = QUEUED_JOB_ID, handler: Any = None) -> Job:
    """A queued inference on the target model; by default on the in-process ``echo``
    implementation, which the dispatcher claims, runs and completes with no AWS service to call."""
    now = now or datetime.now(UTC)
    return Job(
        id=job_id,
        model_id=TARGET_MODEL,
        version="1",
        action="inference",
        status="queued",
        input={"features": [0.2, 0.4]},
        handler=handler or {"type": "in_process", "implementation": "echo"},
        trigger=None,
        created_at=now,
        updated_at=now,
    )


def stream_record(job: Job, sequence: int) -> dict[str, Any]:
    """The DynamoDB stream record (Lambda's event format) of a new job item."""
    item = JOBS.encode(job)
    return {
        "eventID": f"bench-{sequence}",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "Keys": {"PK": item["PK"], "SK": item["SK"]},
            "NewImage": item,
            "SequenceNumber": f"{sequence:021d}",
            "SizeBytes": len(json.dumps(item)),
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": STREAM_ARN,
    }


def destination_record(job: Job, output: dict[str, Any]) -> dict[str, Any]:
    """A Lambda asynchronous-invocation destination record (on success) for ``job``."""
    qualifier = getattr(job.handler, "version", None) or "$LATEST"
    return {
        "version": "1.0",
        "timestamp": "2026-01-01T00:05:00.000Z",
        "requestContext": {
            "requestId": "c2a6f2bd-1b8e-4f0e-9d3c-3b1f0f6b9a11",
            "functionArn": f"{job.handler.arn}:{qualifier}",
            "condition": "Success",
            "approximateInvokeCount": 1,
        },
        "requestPayload": JobEnvelope.of(job).model_dump(mode="json"),
        "responseContext": {"statusCode": 200, "executedVersion": qualifier},
        "responsePayload": output,
    }


def write_items(client: Any, table: str, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), BATCH_WRITE_LIMIT):
        unprocessed: dict[str, Any] = {
            table: [{"PutRequest": {"Item": item}} for item in items[start : start + BATCH_WRITE_LIMIT]]
        }
        while unprocessed:
            unprocessed = client.batch_write_item(RequestItems=unprocessed).get("UnprocessedItems") or {}

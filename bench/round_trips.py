"""DynamoDB round trips of each route's typical request, next to the minimum the data model allows.

Each request runs in this process on a fresh embedded table holding the world its ``events/``
sample names (``bench.world``); the calls are counted on the runtime's own DynamoDB client.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from typing import Any

from bench.calls import CallLog, counted_calls
from bench.environment import LambdaContext
from bench.report import Figure
from bench.stand_ins import InstantLambda
from bench.world import queued_job, sample_event, sample_handlers, seed, stream_record, training_job, write_items
from pie_local.settings import LOCAL_TABLE_NAME
from pie_local.table.dynamodb import embedded_dynamodb
from shared import runtime
from shared.data.entities import JOBS
from shared.routes import ROUTES

SECTION = "round trips"


@dataclass(frozen=True)
class Minimum:
    calls: int
    why: str


# The fewest calls the single-table design allows for the sample request, and why.
MINIMUMS: dict[str, Minimum] = {
    "create_model": Minimum(1, "model + version 1 in one conditional transaction"),
    "list_models": Minimum(1, "one Query page of GSI1"),
    "get_model": Minimum(1, "GetItem by key"),
    "update_model": Minimum(
        5,
        "read the model; write it; read the latest version the response carries; contracts changed, so "
        "query subscriptions targeting it (GSI1) and its own trigger_output ones (partition)",
    ),
    "delete_model": Minimum(
        6,
        "read the model (its workspace and protected aliases decide who may delete it; the partition's Query "
        "cannot carry it, the model item need not be on its first page); Query + BatchWriteItem of the "
        "partition; the model item's delete with its model.deleted event in one transaction; Query the "
        "partition again (jobs, subscriptions and aliases written during the purge do not touch the model "
        "item, so no condition can refuse them); Query the subscriptions targeting it (GSI1) to mark them",
    ),
    "create_version": Minimum(2, "read the model (sequence, handlers); model + version in one transaction"),
    "list_versions": Minimum(1, "one Query page of LSI1"),
    "get_version": Minimum(1, "BatchGetItem of model + version"),
    "set_version_status": Minimum(2, "BatchGetItem of model + version; one transaction"),
    "create_subscription": Minimum(
        4,
        "BatchGetItem of source + target model; the cycle check's walk from the target (one Query per model "
        "reached: the sample's target has none); query the source's firing index for the event (at most 100 "
        "active per event); the subscription and its index entry in one conditional transaction",
    ),
    "list_subscriptions": Minimum(1, "one Query page of the partition"),
    "get_subscription": Minimum(1, "GetItem by key"),
    "update_subscription": Minimum(
        3,
        "read the subscription; BatchGetItem of source + target (re-validation); the subscription and its "
        "firing-index entry in one conditional transaction",
    ),
    "delete_subscription": Minimum(
        2,
        "read the subscription: the caller's write access is decided on its workspace, which lives in its "
        "document where no condition can test it; then the conditional delete (If-Match, or exists) with its "
        "firing-index entry, in one transaction",
    ),
    "test_subscription": Minimum(
        3,
        "read the subscription; query the firing index for the event's other active subscriptions (the "
        "firing decides them together); BatchGetItem of source + targets",
    ),
    "get_version_lineage": Minimum(1, "BatchGetItem of model + version; then one GetItem per upstream job"),
    "get_model_impact": Minimum(
        4,
        "read the model; per level one Query per model reached and one BatchGetItem of the targets not read "
        "yet (the sample: one link, whose target has no subscriptions)",
    ),
    "set_alias": Minimum(
        2,
        "BatchGetItem of model + alias + version; alias, history and version check in one transaction (a "
        "model whose subscriptions count says alias_set ones exist adds one Query of them, their jobs join)",
    ),
    "list_aliases": Minimum(2, "read the model (workspace, 404); one Query of its aliases"),
    "get_alias": Minimum(1, "BatchGetItem of model + alias"),
    "get_alias_history": Minimum(2, "read the model (workspace, 404); one Query page of the history"),
    "delete_alias": Minimum(2, "BatchGetItem of model + alias; alias and tombstone in one transaction"),
    "set_model_tag": Minimum(2, "read the model; model + its tag index item in one transaction"),
    "delete_model_tag": Minimum(2, "read the model; model + its tag index item in one transaction"),
    "set_version_tag": Minimum(2, "BatchGetItem of model + version; version + its tag index item in one transaction"),
    "delete_version_tag": Minimum(
        2, "BatchGetItem of model + version; version + its tag index item in one transaction"
    ),
    "start_inference": Minimum(2, "read the model (active version, contract); put the job"),
    "start_training": Minimum(2, "BatchGetItem of model + version; version + job in one transaction"),
    "list_jobs": Minimum(1, "one Query page of LSI1"),
    "get_job": Minimum(1, "GetItem by key"),
    "complete_job": Minimum(
        5,
        "read the job; then BatchGetItem of model + its version (named by the job); query the source's "
        "firing index for the event; BatchGetItem of their targets; one transaction",
    ),
    "cancel_job": Minimum(
        3, "read the job; BatchGetItem of its model + version (workspace, the version it trains); conditional put"
    ),
    "retry_job": Minimum(
        3, "read the job; read the version it trains (training job); job + version in one transaction"
    ),
    "list_all_jobs": Minimum(4, "one Query page of each of the delivery log's 4 write-shards (docs/jobs.md)"),
    "check_handlers": Minimum(0, "the handler policy is the deployment's settings; reads no table"),
    "create_webhook": Minimum(2, "query the workspace's webhooks (at most 100); conditional PutItem"),
    "list_webhooks": Minimum(1, "one Query of the caller's workspace's webhooks (GSI1)"),
    "get_webhook": Minimum(1, "GetItem by key"),
    "update_webhook": Minimum(2, "read the webhook (workspace); conditional PutItem"),
    "delete_webhook": Minimum(3, "read the webhook (workspace); one Query of its partition; one BatchWriteItem"),
    "rotate_webhook_secret": Minimum(2, "read the webhook (workspace); conditional PutItem"),
    "ping_webhook": Minimum(2, "read the webhook (workspace); put the ping event"),
    "list_webhook_deliveries": Minimum(2, "read the webhook (workspace); one Query page of its partition"),
    "retry_webhook_delivery": Minimum(3, "read the webhook (workspace) and the delivery; conditional PutItem"),
    "get_openapi": Minimum(0, "serves the document packaged with the code; reads no table"),
    "complete_job_events": Minimum(5, "as complete_job: the record names the job, which must be read once"),
    "dispatch_jobs (lambda job)": Minimum(
        2,
        "conditional claim queued -> dispatched with a short start deadline; Lambda Invoke; conditional "
        "dispatched -> running with the handler's deadline. One write cannot do both: a job marked running "
        "before its Invoke would, if the dispatcher died in between, wait out the handler's whole timeout "
        "instead of the start deadline (docs/jobs.md)",
    ),
    "dispatch_jobs (in_process job)": Minimum(
        4, "claim; read the model (contract, firing); query its firing index for the event; conditional completion"
    ),
    "create_model + Idempotency-Key": Minimum(
        3, "the create's transaction, plus Powertools' in-progress put and completion update"
    ),
}


def measure() -> tuple[list[Figure], dict[str, Any]]:
    runtime.use_stand_in("lambda", InstantLambda())
    figures: list[Figure] = []
    details: dict[str, Any] = {}
    cases = [(route.function, route.function, _PREPARE.get(route.function)) for route in ROUTES]
    cases += [
        ("complete_job_events", "complete_job_events", None),
        ("dispatch_jobs (lambda job)", "dispatch_jobs", _lambda_job_batch),
        ("dispatch_jobs (in_process job)", "dispatch_jobs", None),
        ("create_model + Idempotency-Key", "create_model", _with_idempotency_key),
    ]
    for label, function, prepare in cases:
        outcome, succeeded, log = _count(function, prepare)
        minimum = MINIMUMS[label]
        details[label] = {
            "calls": log.total,
            "operations": dict(log.operations),
            "minimum": minimum.calls,
            "minimum_why": minimum.why,
            "outcome": outcome,
        }
        figures.append(
            Figure(
                SECTION,
                label,
                f"{log.total} ({log.summary()}; {outcome})",
                f"minimum {minimum.calls}",
                succeeded and log.total <= minimum.calls,  # a refused request proves nothing
                details[label],
            )
        )
    return figures, details


def _count(function: str, prepare: Any) -> tuple[str, bool, CallLog]:
    handler = importlib.import_module(f"functions.{function}.handler")
    with embedded_dynamodb(LOCAL_TABLE_NAME) as setup:
        runtime.reset()
        seed(setup, LOCAL_TABLE_NAME, function)
        event = sample_event(function)
        if prepare is not None:
            event = prepare(setup, event)
        with counted_calls(runtime.dynamodb_client()) as log:
            response = handler.lambda_handler(event, LambdaContext())
    return (*_outcome(response), log)


def _outcome(response: dict[str, Any]) -> tuple[str, bool]:
    if "statusCode" in response:
        return f"HTTP {response['statusCode']}", 200 <= response["statusCode"] < 300
    if "batchItemFailures" in response:
        return f"{len(response['batchItemFailures'])} failed records", not response["batchItemFailures"]
    return str(response.get("outcome")), response.get("outcome") == "succeeded"


def _failed_job(client: Any, event: dict[str, Any]) -> dict[str, Any]:
    """Only a failed job can be retried; the sample names the seed's training job."""
    write_items(client, LOCAL_TABLE_NAME, [JOBS.encode(training_job("failed"))])
    return event


def _loopback_receiver(client: Any, event: dict[str, Any]) -> dict[str, Any]:
    """A literal loopback address (the local stack's setting allows it): nothing is resolved."""
    body = json.loads(event["body"])
    event["body"] = json.dumps({**body, "url": "https://127.0.0.1:9/pie"})
    return event


_PREPARE = {"retry_job": _failed_job, "create_webhook": _loopback_receiver}


def _lambda_job_batch(client: Any, event: dict[str, Any]) -> dict[str, Any]:
    job = queued_job(job_id="5d6e7f80-9a1b-4c2d-8e3f-405162738495", handler=sample_handlers().inference)
    write_items(client, LOCAL_TABLE_NAME, [JOBS.encode(job)])
    return {"Records": [stream_record(job, sequence=2)]}


def _with_idempotency_key(client: Any, event: dict[str, Any]) -> dict[str, Any]:
    event["headers"]["idempotency-key"] = "bench-create-model-1"
    return event

"""Warm overhead: PIE's route functions against minimal Powertools handlers making the same calls.

Both run in this process on the same embedded table, with the same client, called alternately so
the machine's noise falls on both alike. A minimal handler is what a team would write with the
same framework and nothing of PIE: Powertools' HTTP resolver (with validation on, as PIE's) routing
the one path to a function that makes the route's DynamoDB calls and returns the same JSON, under
Powertools' Logger and Tracer decorators. The ratio of the two is what PIE's own layers
(authorization, workspaces, typed models and errors, ETags) cost on top of the framework.
"""

from __future__ import annotations

import importlib
import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from bench.calls import CallLog, counted_calls
from bench.environment import LambdaContext
from bench.report import Figure, ratio
from bench.world import model_items, route_event, write_items
from pie_local.settings import LOCAL_TABLE_NAME
from pie_local.table.dynamodb import embedded_dynamodb
from shared import runtime
from shared.data import keys
from shared.data.items import key
from shared.data.table import GSI1
from shared.observability import logger, tracer

SECTION = "warm overhead"
CALLS = 1000
WARM_UP_CALLS = 50
LISTED_MODELS = 10  # one page of the sample's limit=50 holds them all: no next_token to sign
STATUS_MODELS = 5  # new_status cycles over this many models per handler (a small table: moto copies it per transaction)
BUDGET = 1.2

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def measure(calls: int = CALLS) -> tuple[list[Figure], dict[str, Any]]:
    figures: list[Figure] = []
    details: dict[str, Any] = {}
    scenarios = {
        "GET /v2/models/{model_id}": (
            "get_model",
            [f"listed-{index:03d}" for index in range(LISTED_MODELS)],
            lambda owner, i: route_event("get_model", model_id="listed-000"),
            _minimal_get_model,
        ),
        "GET /v2/models": (
            "list_models",
            [f"listed-{index:03d}" for index in range(LISTED_MODELS)],
            lambda owner, i: route_event("list_models"),
            _minimal_list_models,
        ),
        "POST .../new_status": (
            "set_version_status",
            [f"status-{owner}-{index:03d}" for owner in ("pie", "minimal") for index in range(STATUS_MODELS)],
            _status_event,
            _minimal_new_status,
        ),
    }
    for label, (function, model_ids, event_for, minimal_for) in scenarios.items():
        with embedded_dynamodb(LOCAL_TABLE_NAME) as setup:
            runtime.reset()
            now = datetime.now(UTC)
            status = "pending" if function == "set_version_status" else "active"
            write_items(setup, LOCAL_TABLE_NAME, [i for m in model_ids for i in model_items(m, status, now)])
            pie = importlib.import_module(f"functions.{function}.handler").lambda_handler
            minimal = minimal_for(runtime.dynamodb_client())
            _check_same_json(
                label, pie(event_for("pie", 0), LambdaContext()), minimal(event_for("minimal", 0), LambdaContext())
            )
            with counted_calls(runtime.dynamodb_client()) as log:
                (pie_times, pie_own), (minimal_times, minimal_own) = _alternate(pie, minimal, event_for, calls, log)
        result = {
            "calls": calls,
            "pie_p50_ms": _percentile(pie_times, 50),
            "pie_p99_ms": _percentile(pie_times, 99),
            "minimal_p50_ms": _percentile(minimal_times, 50),
            "minimal_p99_ms": _percentile(minimal_times, 99),
            "pie_own_p50_ms": _percentile(pie_own, 50),
            "minimal_own_p50_ms": _percentile(minimal_own, 50),
        }
        result["p50_ratio"] = result["pie_p50_ms"] / result["minimal_p50_ms"]
        result["p50_overhead_ms"] = result["pie_p50_ms"] - result["minimal_p50_ms"]
        details[label] = result
        figures.append(
            Figure(
                SECTION,
                f"{label} p50 vs minimal Powertools handler",
                f"{ratio(result['p50_ratio'])} (p50 {result['pie_p50_ms']:.2f} vs {result['minimal_p50_ms']:.2f} ms; "
                f"p99 {result['pie_p99_ms']:.2f} vs {result['minimal_p99_ms']:.2f} ms; outside DynamoDB calls "
                f"p50 {result['pie_own_p50_ms']:.2f} vs {result['minimal_own_p50_ms']:.2f} ms; n={calls})",
                f"≤ {BUDGET}×",
                result["p50_ratio"] <= BUDGET,
                result,
            )
        )
    return figures, details


def _alternate(
    pie: Handler, minimal: Handler, event_for: Callable[[str, int], dict], calls: int, log: CallLog
) -> tuple[tuple[list[float], list[float]], tuple[list[float], list[float]]]:
    """(wall, outside-DynamoDB) milliseconds of each call, PIE's and the minimal handler's."""
    context = LambdaContext()
    timings: dict[str, tuple[list[float], list[float]]] = {"pie": ([], []), "minimal": ([], [])}
    for index in range(1, WARM_UP_CALLS + calls + 1):
        for owner, handler in (("pie", pie), ("minimal", minimal)):
            # Events are built outside the clock: API Gateway hands the function a ready event.
            event = event_for(owner, index)
            inside_before = log.seconds_inside
            started = time.perf_counter()
            answer = handler(event, context)
            wall = time.perf_counter() - started
            if answer["statusCode"] >= 300:
                raise AssertionError(f"{owner} answered {answer['statusCode']}: {answer.get('body')}")
            if index > WARM_UP_CALLS:
                timings[owner][0].append(wall * 1000)
                timings[owner][1].append((wall - (log.seconds_inside - inside_before)) * 1000)
    return timings["pie"], timings["minimal"]


def _status_event(owner: str, index: int) -> dict[str, Any]:
    """Call ``index`` moves model ``index % STATUS_MODELS`` pending -> training or back."""
    model_id = f"status-{owner}-{index % STATUS_MODELS:03d}"
    status = "training" if (index // STATUS_MODELS) % 2 == 0 else "pending"
    return route_event("set_version_status", body={"status": status}, model_id=model_id, model_version="1")


def _check_same_json(label: str, pie: dict[str, Any], minimal: dict[str, Any]) -> None:
    pie_body, minimal_body = json.loads(pie["body"]), json.loads(minimal["body"])
    if _shape(pie_body) != _shape(minimal_body):
        raise AssertionError(f"{label}: the minimal handler's JSON differs from PIE's")


def _shape(value: Any) -> Any:
    """The JSON's structure (keys, types, list lengths), with timestamps and ids left out."""
    if isinstance(value, dict):
        return {name: _shape(item) for name, item in value.items() if not name.endswith(("_at", "id", "by"))}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__


def _percentile(samples: list[float], percent: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[percent - 1] if percent < 100 else max(samples)


# Minimal handlers: the same calls, the same JSON, on the same framework, nothing else. ----------


def _powertools(method: str, path: str, answer: Callable[..., dict[str, Any]]) -> Handler:
    """A Powertools function serving ``answer`` (the route's calls, returning the raw response
    parts) on one route, as the framework's own documentation shapes one."""
    app = APIGatewayHttpResolver(enable_validation=True)

    def respond(**path_parameters: str) -> Response:
        parts = answer(app.current_event, **path_parameters)
        return Response(status_code=parts["statusCode"], headers=parts["headers"], body=parts["body"])

    # Validation reads the route function's signature: one with the path's parameters by name.
    names = [part[1:-1] for part in path.split("/") if part.startswith("<")]
    if names == ["model_id"]:

        def route(model_id: str):  # no return annotation: validation would model the Response
            return respond(model_id=model_id)

    elif names == ["model_id", "model_version"]:

        def route(model_id: str, model_version: str):  # type: ignore[misc]
            return respond(model_id=model_id, model_version=model_version)

    else:

        def route():  # type: ignore[misc]
            return respond()

    app.route(path, method=method)(route)

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return app.resolve(event, context)

    return handler


def _json_response(body: str, entity_version: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if entity_version is not None:
        headers["ETag"] = f'"{entity_version}"'
    return {"statusCode": 200, "headers": headers, "body": body, "isBase64Encoded": False}


def _minimal_get_model(client: Any) -> Handler:
    def answer(event: Any, model_id: str) -> dict[str, Any]:
        model_key = key(keys.model_key(model_id))
        item = client.get_item(TableName=LOCAL_TABLE_NAME, Key=model_key, ConsistentRead=True)["Item"]
        return _json_response('{"model":' + item["doc"]["S"] + "}", item["entity_version"]["N"])

    return _powertools("GET", "/v2/models/<model_id>", answer)


def _minimal_list_models(client: Any) -> Handler:
    def answer(event: Any) -> dict[str, Any]:
        limit = int((event.query_string_parameters or {}).get("limit", 50))
        items = client.query(
            TableName=LOCAL_TABLE_NAME,
            IndexName=GSI1.name,
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.all_models_partition()}},
            Limit=limit + 1,
        )["Items"]
        return _json_response(
            '{"models":[' + ",".join(item["doc"]["S"] for item in items[:limit]) + '],"next_token":null}'
        )

    return _powertools("GET", "/v2/models", answer)


def _minimal_new_status(client: Any) -> Handler:
    def answer(event: Any, model_id: str, model_version: str) -> dict[str, Any]:
        version_id = model_version
        request = event.json_body
        wanted = [key(keys.model_key(model_id)), key(keys.version_key(model_id, version_id))]
        found = client.batch_get_item(RequestItems={LOCAL_TABLE_NAME: {"Keys": wanted, "ConsistentRead": True}})
        by_type = {item["entity_type"]["S"]: item for item in found["Responses"][LOCAL_TABLE_NAME]}
        model, version = (
            json.loads(by_type[keys.MODEL_ENTITY]["doc"]["S"]),
            json.loads(by_type[keys.VERSION_ENTITY]["doc"]["S"]),
        )
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        previous_status, previous_entity_version = version["status"], version["entity_version"]
        version["status_history"].append(
            {"status": request["status"], "status_message": None, "at": now, "by": "minimal"}
        )
        version.update(
            status=request["status"], status_message=None, entity_version=previous_entity_version + 1, updated_at=now
        )
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": LOCAL_TABLE_NAME,
                        "Key": wanted[1],
                        "UpdateExpression": "SET #doc = :doc, #status = :status, entity_version = :next, updated_at = :updated",
                        "ConditionExpression": "entity_version = :expected AND #status = :previous",
                        "ExpressionAttributeNames": {"#doc": "doc", "#status": "status"},
                        "ExpressionAttributeValues": {
                            ":doc": {"S": json.dumps(version)},
                            ":status": {"S": version["status"]},
                            ":next": {"N": str(version["entity_version"])},
                            ":updated": {"S": now},
                            ":expected": {"N": str(previous_entity_version)},
                            ":previous": {"S": previous_status},
                        },
                    }
                }
            ]
        )
        body = json.dumps({"model": model, "version": version, "triggered_events": []})
        return _json_response(body, str(version["entity_version"]))

    return _powertools("POST", "/v2/models/<model_id>/versions/<model_version>/new_status", answer)

"""Arranging event subscriptions through their route functions, and looking at what they left.

Every helper goes through the deployed code path (the function's handler on its sample event), so
the subscription tests prove the routes, not the domain objects behind them.

The subscription test modules import ``module_table`` and ``table`` from here: one moto backend
per module with a new table for each test, instead of a new backend per test (which is most of an
integration test's time).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared import runtime
from shared.data.table import create_table
from shared.local.dynamodb import embedded_dynamodb
from shared.local.settings import LOCAL_TABLE_NAME, local_environment
from tests.conftest import invoke
from tests.integration.api_events import Response, call, event_for, sample_body

Json = dict[str, Any]


@pytest.fixture(scope="module")
def module_table() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as environment:
        for name, value in local_environment().items():
            environment.setenv(name, value)
        with embedded_dynamodb(LOCAL_TABLE_NAME) as client:
            yield client


@pytest.fixture
def table(module_table: Any) -> Any:
    """A fresh table for this test, in the module's moto backend (dropping and re-creating the
    table costs far less than a new backend)."""
    module_table.delete_table(TableName=LOCAL_TABLE_NAME)
    create_table(module_table, LOCAL_TABLE_NAME)
    runtime.reset()
    return module_table


# A target whose inference takes ``{"features": [number, ...]}`` (required) and whose training
# takes ``{"data_path": string}``; both produce objects.
FEATURES_INPUT = {
    "type": "object",
    "properties": {"features": {"type": "array", "items": {"type": "number"}}},
    "required": ["features"],
    "additionalProperties": False,
}
DATA_PATH_INPUT = {
    "type": "object",
    "properties": {"data_path": {"type": "string"}},
    "required": ["data_path"],
}
MODEL_PATH_OUTPUT = {"type": "object", "properties": {"model_path": {"type": "string"}}}
PREDICTIONS_OUTPUT = {"type": "object", "properties": {"predictions": {"type": "array"}}}


def contracts(
    *,
    inference_input: Json | None = FEATURES_INPUT,
    inference_output: Json | None = PREDICTIONS_OUTPUT,
    training_input: Json | None = DATA_PATH_INPUT,
    training_output: Json | None = MODEL_PATH_OUTPUT,
) -> Json:
    """A ``handler_contracts`` document; each schema defaults to the one above."""
    return {
        "inference": {"input_schema": inference_input, "output_schema": inference_output},
        "training": {"input_schema": training_input, "output_schema": training_output},
    }


def subscription_body(target: str, **changes: Any) -> Json:
    """The sample create body (stored inference input on training_complete), aimed at ``target``."""
    body = {**sample_body("create_subscription"), "target_model_id": target, **changes}
    return {name: value for name, value in body.items() if value is not None}


def create_subscription_call(source: str, target: str, **changes: Any) -> Response:
    return call("create_subscription", body=subscription_body(target, **changes), model_id=source)


def create_subscription(source: str, target: str, **changes: Any) -> Json:
    """POST a subscription of ``source`` to ``target``; returns the 201 body (the subscription)."""
    status, body, _ = create_subscription_call(source, target, **changes)
    assert status == 201, body
    assert body is not None
    return body


def get_subscription(source: str, subscription_id: str) -> Json:
    status, body, _ = call("get_subscription", model_id=source, subscription_id=subscription_id)
    assert status == 200, body
    assert body is not None
    return body


def update_subscription_call(source: str, subscription_id: str, body: Json) -> Response:
    return call("update_subscription", body=body, model_id=source, subscription_id=subscription_id)


def update_subscription(source: str, subscription_id: str, **body: Any) -> Json:
    status, response, _ = update_subscription_call(source, subscription_id, body)
    assert status == 200, response
    assert response is not None
    return response


def dry_run(source: str, subscription_id: str, body: Json | None = None) -> Response:
    """POST .../test with ``body``, or with no body at all when it is None."""
    event = event_for("test_subscription", body=body, model_id=source, subscription_id=subscription_id)
    if body is None:
        event.pop("body", None)
        event["headers"].pop("content-length", None)
        event["headers"].pop("content-type", None)
    return invoke("test_subscription", event)


def current_model(model_id: str) -> Json:
    status, body, _ = call("get_model", model_id=model_id)
    assert status == 200, body
    assert body is not None
    return body["model"]


def replace_model(model_id: str, **changes: Any) -> Json:
    """PUT /v2/models/{id}: the model's current fields with ``changes`` (a full replacement, so
    ``handler_contracts`` is carried over unless changed)."""
    model = current_model(model_id)
    body = {
        "name": model["name"],
        "description": model["description"],
        "handlers": model["handlers"],
        "handler_contracts": model["handler_contracts"],
        "metadata": model["metadata"],
        **changes,
    }
    status, response, _ = call("update_model", body=body, model_id=model_id)
    assert status == 200, response
    assert response is not None
    return response


def lambda_handler(name: str) -> Json:
    return {"type": "lambda", "arn": f"arn:aws:lambda:us-west-2:123456789012:function:{name}"}


def whole_table(client: Any) -> list[Json]:
    """Every item of the table, in a stable order: the proof that a call wrote nothing."""
    items: list[Json] = []
    request: Json = {"TableName": LOCAL_TABLE_NAME, "ConsistentRead": True}
    while True:
        page = client.scan(**request)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda item: (item["PK"]["S"], item["SK"]["S"]))
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@pytest.fixture
def network_attempts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every attempt to reach the network, each refused. A library may swallow the refusal (a
    failed ``$ref`` retrieval becomes "unresolvable"), so tests assert on the record, not on an
    exception."""
    import socket
    import urllib.request

    attempts: list[str] = []

    def refuse(what: str):
        def refused(*args: Any, **kwargs: Any) -> Any:
            attempts.append(f"{what}{args!r}")
            raise OSError(f"network access refused in tests: {what}")

        return refused

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("socket.getaddrinfo"))
    monkeypatch.setattr(urllib.request, "urlopen", refuse("urllib.request.urlopen"))
    return attempts

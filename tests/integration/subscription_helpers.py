"""Arranging event subscriptions through their route functions, and looking at what they left.

Every helper goes through the deployed code path (the function's handler on its sample event), so
the subscription tests prove the routes, not the domain objects behind them.

The subscription test modules import ``module_table`` and ``table`` from here: one moto backend
per module with a new table for each test, instead of a new backend per test (which is most of an
integration test's time).
"""

from __future__ import annotations

from typing import Any

from pie_local.settings import LOCAL_TABLE_NAME
from tests.conftest import invoke
from tests.integration.api_events import Response, call, event_for, sample_body

Json = dict[str, Any]


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

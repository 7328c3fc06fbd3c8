"""Requests PIE refuses before touching the registry: authentication, scopes and validation.

Every refusal answers exactly ``{"success": false, "message": "..."}``. No table is needed: DynamoDB
is pointed at a closed local port, so a request that got past validation would fail (500) at once
instead of being answered, and nothing can reach AWS.
"""

from __future__ import annotations

import importlib
import inspect
import json
from typing import Any

import pytest

from shared import runtime
from shared.routes import ALL_SCOPES, ROUTES, Route
from tests.conftest import invoke, load_event
from tests.integration.api_events import (
    assert_error,
    call,
    event_for,
    sample_body,
    with_claims,
)

# The public route (the OpenAPI document) has no caller to check and no input to refuse.
CHECKED_ROUTES = [route for route in ROUTES if not route.public]
ROUTE_IDS = [route.function for route in CHECKED_ROUTES]
MODEL_ROUTES = [route for route in ROUTES if "model_id" in route.path_parameters]
LIST_ROUTES = [route for route in ROUTES if route.function.startswith("list_")]


def _body_parameter(route: Route) -> inspect.Parameter | None:
    handler = importlib.import_module(f"functions.{route.function}.handler")
    return inspect.signature(getattr(handler, route.function)).parameters.get("body")


BODY_ROUTES = [route for route in CHECKED_ROUTES if _body_parameter(route) is not None]
REQUIRED_BODY_ROUTES = [route for route in BODY_ROUTES if _body_parameter(route).default is inspect.Parameter.empty]


def _ids(routes: list[Route]) -> list[str]:
    return [route.function for route in routes]


@pytest.fixture(autouse=True)
def _dynamodb_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIE_DYNAMODB_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    runtime.reset()


# 401 / 403 --------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", CHECKED_ROUTES, ids=ROUTE_IDS)
def test_a_request_without_jwt_claims_is_a_401(route: Route):
    event = load_event(route.function)
    del event["requestContext"]["authorizer"]["jwt"]["claims"]

    assert_error(invoke(route.function, event), 401)


@pytest.mark.parametrize("route", CHECKED_ROUTES, ids=ROUTE_IDS)
def test_a_request_without_an_authorizer_context_is_a_401(route: Route):
    event = load_event(route.function)
    del event["requestContext"]["authorizer"]

    assert_error(invoke(route.function, event), 401)


def test_a_token_without_a_subject_is_a_401():
    event = with_claims(load_event("list_models"), sub=None)
    assert_error(invoke("list_models", event), 401)


@pytest.mark.parametrize("route", CHECKED_ROUTES, ids=ROUTE_IDS)
def test_a_token_lacking_the_routes_scope_is_a_403_naming_the_scope(route: Route):
    other_scopes = " ".join(scope for scope in ALL_SCOPES if scope != route.scope)
    event = with_claims(load_event(route.function), scope=other_scopes)

    message = assert_error(invoke(route.function, event), 403)
    assert route.scope in message


def test_a_token_with_no_scope_at_all_is_a_403():
    event = with_claims(load_event("get_model"), scope=None)
    assert_error(invoke("get_model", event), 403)


def test_a_read_scope_does_not_grant_writes():
    event = with_claims(load_event("create_model"), scope="models:read")
    assert_error(invoke("create_model", event), 403)


# 400: path and query ----------------------------------------------------------------------------


@pytest.mark.parametrize("route", MODEL_ROUTES, ids=_ids(MODEL_ROUTES))
@pytest.mark.parametrize(
    "model_id",
    ["bad id!", "-leading-dash", "a" * 129, "x#y"],
    ids=["space-and-bang", "leading-dash", "too-long", "hash"],
)
def test_a_malformed_model_id_in_the_path_is_a_400(route: Route, model_id: str):
    message = assert_error(invoke(route.function, event_for(route.function, model_id=model_id)), 400)
    assert "model_id" in message


@pytest.mark.parametrize(
    "model_version", ["bad version!", ".hidden", "v" * 65], ids=["space-and-bang", "leading-dot", "too-long"]
)
def test_a_malformed_version_in_the_path_is_a_400(model_version: str):
    event = event_for("get_version", model_version=model_version)
    message = assert_error(invoke("get_version", event), 400)
    assert "model_version" in message


@pytest.mark.parametrize("route", LIST_ROUTES, ids=_ids(LIST_ROUTES))
@pytest.mark.parametrize("limit", ["0", "101", "abc", "-1", "2.5"])
def test_a_limit_outside_1_to_100_is_a_400(route: Route, limit: str):
    message = assert_error(call(route.function, query={"limit": limit}), 400)
    assert "limit" in message


@pytest.mark.parametrize("route", LIST_ROUTES, ids=_ids(LIST_ROUTES))
def test_a_garbage_next_token_is_a_400(route: Route):
    assert_error(call(route.function, query={"next_token": "not-a-token"}), 400)


# 400: bodies ------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", BODY_ROUTES, ids=_ids(BODY_ROUTES))
@pytest.mark.parametrize(
    "raw_body",
    ['{"name": "Price', "not json", "{'single': 'quotes'}"],
    ids=["truncated", "not-json", "single-quotes"],
)
def test_a_malformed_json_body_is_a_400(route: Route, raw_body: str):
    message = assert_error(call(route.function, raw_body=raw_body), 400)
    assert "JSON" in message


@pytest.mark.parametrize("route", BODY_ROUTES, ids=_ids(BODY_ROUTES))
def test_a_json_array_body_is_a_400(route: Route):
    assert_error(call(route.function, raw_body="[]"), 400)


@pytest.mark.parametrize("route", REQUIRED_BODY_ROUTES, ids=_ids(REQUIRED_BODY_ROUTES))
def test_a_missing_body_is_a_400(route: Route):
    event = load_event(route.function)
    event.pop("body")

    assert_error(invoke(route.function, event), 400)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", 123),
        ("name", ""),
        ("description", ["not", "a", "string"]),
        ("handlers", "arn:aws:lambda:us-west-2:123456789012:function:train"),
        ("metadata", ["team", "pricing"]),
        ("handler_contracts", {"training": {"input_schema": {"minimum": "x"}}}),
        ("status", "active"),
    ],
    ids=[
        "name-number",
        "name-empty",
        "description-list",
        "handlers-string",
        "metadata-list",
        "invalid-schema",
        "unknown-field",
    ],
)
def test_a_create_model_body_with_a_wrong_field_is_a_400_naming_it(field: str, value: Any):
    body = {**sample_body("create_model"), field: value}

    message = assert_error(call("create_model", body=body), 400)

    assert field in message


@pytest.mark.parametrize(
    "handler",
    [
        {"type": "sagemaker", "endpoint": "price"},
        {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:train:1"},
        {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:1234:function:train"},
        {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:train", "extra": 1},
        {"type": "ecs", "task": "arn:aws:ecs:us-west-2:123456789012:cluster/ml/train"},
        {"type": "ecs", "task": "train-only"},
        {"type": "in_process", "implementation": "Not A Name"},
    ],
    ids=[
        "unknown-type",
        "lambda-qualified-arn",
        "lambda-bad-account",
        "lambda-extra-field",
        "ecs-cluster-arn",
        "ecs-no-cluster",
        "in-process-bad-name",
    ],
)
def test_a_malformed_handler_is_a_400_not_a_422(handler: dict[str, Any]):
    body = sample_body("create_model")
    body["handlers"]["training"] = handler

    assert_error(call("create_model", body=body), 400)


def test_a_create_version_body_with_a_number_as_version_is_a_400():
    assert_error(call("create_version", body={"version": 2}), 400)


def test_an_update_body_with_an_unknown_field_is_a_400():
    body = {**sample_body("update_model"), "status": "active"}

    message = assert_error(call("update_model", body=body), 400)

    assert "status" in message


NOT_INTEGERS = pytest.mark.parametrize("value", ["5", True, 5.0], ids=["string", "boolean", "float"])


@NOT_INTEGERS
def test_a_handler_timeout_that_is_not_an_integer_is_a_400(value: Any):
    body = sample_body("create_model")
    body["handlers"]["training"]["timeout_seconds"] = value

    message = assert_error(call("create_model", body=body), 400)

    assert "timeout_seconds" in message


@NOT_INTEGERS
@pytest.mark.parametrize("field", ["max_attempts", "backoff_seconds"])
@pytest.mark.parametrize("function", ["start_inference", "start_training"])
def test_a_job_retry_policy_that_is_not_integers_is_a_400(function: str, field: str, value: Any):
    retry = {"max_attempts": 3, "backoff_seconds": 5, field: value}

    message = assert_error(call(function, body={"input": {}, "retry": retry}, model_id="m"), 400)

    assert field in message


@NOT_INTEGERS
def test_a_subscription_retry_policy_that_is_not_integers_is_a_400(value: Any):
    body = {**sample_body("create_subscription"), "retry": {"max_attempts": value}}

    message = assert_error(call("create_subscription", body=body), 400)

    assert "max_attempts" in message


@pytest.mark.parametrize(
    ("field", "value"),
    [("attempt", "1"), ("attempt", True), ("attempt", 1.0), ("retryable", "false"), ("retryable", 0)],
    ids=["attempt-string", "attempt-boolean", "attempt-float", "retryable-string", "retryable-number"],
)
def test_a_completion_whose_attempt_or_retryable_has_the_wrong_type_is_a_400(field: str, value: Any):
    body = {"status": "failed", "error": "boom", field: value}

    message = assert_error(call("complete_job", body=body), 400)

    assert field in message


def test_error_messages_do_not_leak_tracebacks():
    message = assert_error(call("create_model", raw_body=json.dumps({"id": 1})), 400)
    assert "Traceback" not in message

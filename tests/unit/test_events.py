"""events/: one realistic HTTP API payload 2.0 sample per function of the route table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.routes import ROUTES, Route
from tests.conftest import EVENTS, load_event

ROUTE_IDS = [route.function for route in ROUTES]


def test_there_is_one_sample_event_per_route_function_and_no_other():
    assert {path.stem for path in Path(EVENTS).glob("*.json")} == {route.function for route in ROUTES}


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_the_sample_event_is_a_payload_2_0_request_for_its_route(route: Route):
    event = load_event(route.function)

    assert event["version"] == "2.0"
    assert event["routeKey"] == route.route_key
    assert event["requestContext"]["routeKey"] == route.route_key
    assert event["requestContext"]["http"]["method"] == route.method
    assert event["requestContext"]["stage"] == "$default"
    assert event["isBase64Encoded"] is False
    expected_path = route.path
    for name in route.path_parameters:
        expected_path = expected_path.replace(f"{{{name}}}", event["pathParameters"][name])
    assert event["rawPath"] == expected_path
    assert event["requestContext"]["http"]["path"] == expected_path
    assert set(event.get("pathParameters") or {}) == set(route.path_parameters)


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_the_sample_event_carries_a_bearer_token_and_string_jwt_claims(route: Route):
    event = load_event(route.function)
    jwt = event["requestContext"]["authorizer"]["jwt"]

    assert event["headers"]["authorization"].startswith("Bearer ")
    assert all(name == name.lower() for name in event["headers"])
    assert jwt["scopes"] is None
    assert all(isinstance(value, str) for value in jwt["claims"].values())
    assert {"sub", "iss", "aud", "exp", "iat", "scope"} <= set(jwt["claims"])
    assert route.scope in jwt["claims"]["scope"].split()
    assert event["requestContext"]["accountId"] == "123456789012"


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_write_samples_carry_a_json_body_and_reads_carry_none(route: Route):
    event = load_event(route.function)

    if route.method in {"POST", "PUT"}:
        assert event["headers"]["content-type"] == "application/json"
        assert isinstance(json.loads(event["body"]), dict)
        assert event["headers"]["content-length"] == str(len(event["body"].encode()))
    else:
        assert "body" not in event


LIST_ROUTES = [route for route in ROUTES if route.function.startswith("list_")]


@pytest.mark.parametrize("route", LIST_ROUTES, ids=[route.function for route in LIST_ROUTES])
def test_list_samples_spell_their_query_both_ways(route: Route):
    event = load_event(route.function)
    query = event["queryStringParameters"]
    assert event["rawQueryString"] == "&".join(f"{name}={value}" for name, value in query.items())


def test_the_samples_use_the_seed_documents_model():
    create = json.loads(load_event("create_model")["body"])

    assert create["id"] == "model_price_reco_v1"
    assert create["name"] == "Price recommendation"
    assert create["metadata"] == {"team": "pricing"}
    assert create["handlers"] == {
        "training": {
            "type": "lambda",
            "arn": "arn:aws:lambda:us-west-2:123456789012:function:train",
            "version": "1",
        },
        "inference": {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:infer"},
    }
    for route in ROUTES:
        parameters = load_event(route.function).get("pathParameters") or {}
        assert parameters.get("model_id", "model_price_reco_v1") == "model_price_reco_v1"

"""docs/openapi.json: the published contract, generated from the route functions' own models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from shared.http.openapi import build_document, render
from shared.routes import ROUTES, Route

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


@pytest.fixture(scope="module")
def generated() -> dict:
    return build_document()


@pytest.fixture(scope="module")
def published() -> dict:
    return json.loads(DOCUMENT.read_text())


def test_the_checked_in_document_is_what_the_code_generates(generated: dict):
    assert DOCUMENT.read_text() == render(generated), "docs/openapi.json is stale: run `make openapi`"


def test_the_document_is_valid_openapi_3_1(published: dict):
    assert published["openapi"] == "3.1.0"
    validate(published)


def test_the_document_lists_exactly_the_routes_of_the_route_table(published: dict):
    documented = {(method.upper(), path) for path, ops in published["paths"].items() for method in ops}
    assert documented == {(route.method, route.path) for route in ROUTES}


@pytest.mark.parametrize("route", ROUTES, ids=[route.function for route in ROUTES])
def test_every_operation_requires_a_bearer_token_with_its_scope(published: dict, route: Route):
    operation = published["paths"][route.path][route.method.lower()]
    assert operation["security"] == [{"jwt": [route.scope]}]
    assert operation["operationId"] == route.function
    assert published["components"]["securitySchemes"]["jwt"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }


@pytest.mark.parametrize("route", ROUTES, ids=[route.function for route in ROUTES])
def test_every_error_status_is_documented_with_the_error_shape(published: dict, route: Route):
    responses = published["paths"][route.path][route.method.lower()]["responses"]
    for status in ("400", "401", "403"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorResponse"}
    if route.path_parameters:
        assert "404" in responses
    parameters = [p["name"] for p in published["paths"][route.path][route.method.lower()].get("parameters", [])]
    if route.method == "POST" and not route.read_only:
        assert {"409", "422"} <= set(responses)
        assert "Idempotency-Key" in parameters
    else:
        assert "Idempotency-Key" not in parameters
    successes = [status for status in responses if status.startswith("2")]
    assert len(successes) == 1


def test_the_error_shape_requires_success_false_and_a_message(published: dict):
    error = published["components"]["schemas"]["ErrorResponse"]
    assert set(error["required"]) == {"success", "message"}
    assert error["properties"]["success"]["const"] is False


def test_request_bodies_carry_the_seed_documents_examples(published: dict):
    create = published["components"]["schemas"]["CreateModelRequest"]
    assert any(example.get("id") == "model_price_reco_v1" for example in create.get("examples", []))
    status = published["components"]["schemas"]["NewStatusRequest"]
    assert {"status": "pending"} in status.get("examples", [])

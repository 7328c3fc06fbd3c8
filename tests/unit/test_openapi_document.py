"""docs/openapi.json: the published contract, generated from the route functions' own models."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import jsonschema
import pytest
from openapi_spec_validator import validate

from functions.get_openapi.handler import lambda_handler as get_openapi
from shared.domain.access import ADMIN_SCOPE
from shared.domain.job_events import TABLE as JOB_EVENTS
from shared.domain.job_events import fired_by_transition, producing_action
from shared.domain.lifecycle import NEXT_STATUSES
from shared.routes import ALL_SCOPES, ROUTES, Route
from tests.conftest import load_event
from tools.openapi import build_document, render

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "openapi.json"
PROTECTED_ROUTES = [route for route in ROUTES if not route.public]
PUBLIC_ROUTES = [route for route in ROUTES if route.public]
ERROR_RESPONSE = "#/components/schemas/ErrorResponse"
GATEWAY_ERROR_RESPONSE = "#/components/schemas/GatewayErrorResponse"
# What API Gateway answers itself, in its own {"message": ...} shape (413 only where a body goes).
GATEWAY_STATUSES = {"401", "403", "429", "500", "503", "504"}
# Spectral's spectral:oas warnings this document keeps, each for its reason (docs/decisions.md).
ACCEPTED_LINT_WARNINGS = {
    # OpenAPI 3.1 lets a security requirement list roles for an http scheme: PIE lists the scope
    # its JWT authorizer checks; the rule still expects OAuth2-declared scopes.
    "oas3-operation-security-defined",
    # PIE publishes no contact for its operators to be reached at.
    "info-contact",
}
SPECTRAL = ROOT / "node_modules" / ".bin" / "spectral"


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


@pytest.mark.parametrize("route", PROTECTED_ROUTES, ids=[route.function for route in PROTECTED_ROUTES])
def test_every_operation_requires_a_bearer_token_with_its_scope(published: dict, route: Route):
    operation = published["paths"][route.path][route.method.lower()]
    assert operation["security"] == [{"jwt": [route.scope]}]
    assert operation["operationId"] == route.function
    scheme = published["components"]["securitySchemes"]["jwt"]
    assert {name: scheme[name] for name in ("type", "scheme", "bearerFormat")} == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }


def test_the_bearer_scheme_declares_every_scope_a_token_may_hold(published: dict):
    # models:promote is no route's scope, so only the scheme's description can declare it.
    described = published["components"]["securitySchemes"]["jwt"]["description"]

    for scope in (*ALL_SCOPES, ADMIN_SCOPE):
        assert f"`{scope}`: " in described
    assert "`models:promote`: held beside models:write to move or delete a protected alias" in described


@pytest.mark.parametrize("route", PROTECTED_ROUTES, ids=[route.function for route in PROTECTED_ROUTES])
def test_every_error_status_is_documented_with_the_error_shape(published: dict, route: Route):
    responses = published["paths"][route.path][route.method.lower()]["responses"]
    assert responses["400"]["content"]["application/json"]["schema"] == {"$ref": ERROR_RESPONSE}
    for status in ("401", "403"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"oneOf": [{"$ref": ERROR_RESPONSE}, {"$ref": GATEWAY_ERROR_RESPONSE}]}
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


@pytest.fixture(scope="module")
def spectral_findings() -> list[dict]:
    """Spectral's report on the checked-in document (`make test` installs Spectral, package-lock.json)."""
    assert SPECTRAL.exists(), "Spectral is missing: run `make test`, or `npm ci` in the checkout"
    result = subprocess.run(
        [
            str(SPECTRAL),
            "lint",
            str(DOCUMENT),
            "--ruleset",
            str(ROOT / ".spectral.yaml"),
            "--format",
            "json",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.stdout.strip(), f"Spectral printed no report: {result.stderr}"
    findings = json.loads(result.stdout)
    errors = [finding for finding in findings if finding["severity"] == 0]
    assert not errors, json.dumps(errors, indent=1)
    assert result.returncode == 0, result.stderr
    return findings


def test_the_document_lints_clean_with_spectral_oas(spectral_findings: list[dict]):
    warnings = {finding["code"] for finding in spectral_findings if finding["severity"] == 1}
    assert warnings <= ACCEPTED_LINT_WARNINGS, json.dumps(
        [finding for finding in spectral_findings if finding["code"] not in ACCEPTED_LINT_WARNINGS], indent=1
    )


def test_the_accepted_warnings_are_as_many_as_docs_decisions_says(spectral_findings: list[dict]):
    """docs/decisions.md counts them by a rule (one per route that takes a token, one contact), and
    that rule is what Spectral reports, however many routes there are."""
    counts = Counter(finding["code"] for finding in spectral_findings if finding["severity"] == 1)
    decisions = (ROOT / "docs" / "decisions.md").read_text()

    assert counts == {"oas3-operation-security-defined": len(PROTECTED_ROUTES), "info-contact": 1}
    assert "`oas3-operation-security-defined` (one per route that takes a token" in decisions
    assert "`info-contact` (1)" in decisions


def _validates(document: dict, schema: dict, body: dict) -> bool:
    try:
        jsonschema.Draft202012Validator({**schema, "components": document["components"]}).validate(body)
    except jsonschema.ValidationError:
        return False
    return True


@pytest.mark.parametrize("route", ROUTES, ids=[route.function for route in ROUTES])
def test_api_gateways_own_refusals_are_declared_in_its_shape(published: dict, route: Route):
    """Deployed, API Gateway answers these statuses itself with {"message": ...}, no success field."""
    operation = published["paths"][route.path][route.method.lower()]
    expected = GATEWAY_STATUSES - ({"401", "403"} if route.public else set())
    if "requestBody" in operation:
        expected |= {"413"}
    for status in expected:
        schema = operation["responses"][status]["content"]["application/json"]["schema"]
        assert _validates(published, schema, {"message": "Too Many Requests"}), status
        assert not _validates(published, schema, {"success": False}), status
    if not route.public:
        schema = operation["responses"]["401"]["content"]["application/json"]["schema"]
        assert _validates(published, schema, {"success": False, "message": "a bearer token is required"})


def test_the_gateway_error_shape_is_message_alone(published: dict):
    gateway = published["components"]["schemas"]["GatewayErrorResponse"]
    assert gateway["required"] == ["message"]
    assert gateway["additionalProperties"] is False


@pytest.mark.parametrize("route", ROUTES, ids=[route.function for route in ROUTES])
def test_the_etag_header_is_declared_exactly_where_the_route_row_sends_it(published: dict, route: Route):
    responses = published["paths"][route.path][route.method.lower()]["responses"]
    (success,) = [response for status, response in responses.items() if status.startswith("2")]
    assert ("ETag" in success.get("headers", {})) == (route.etag is not None)
    if route.etag is not None:
        assert success["headers"]["ETag"]["required"] is True


def test_every_operation_tag_is_a_described_global_tag(published: dict):
    described = {tag["name"]: tag.get("description") for tag in published["tags"]}
    assert all(described.values())
    used = {tag for operations in published["paths"].values() for op in operations.values() for tag in op["tags"]}
    assert used == set(described)


def test_subscription_and_job_ids_are_uuids(published: dict):
    for path, operations in published["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] in ("subscription_id", "job_id"):
                    assert parameter["schema"]["format"] == "uuid", (path, parameter["name"])
    schemas = published["components"]["schemas"]
    assert schemas["Subscription"]["properties"]["id"]["format"] == "uuid"
    assert schemas["Job"]["properties"]["id"]["format"] == "uuid"
    assert {"type": "string", "format": "uuid"} in schemas["TriggeredEvent"]["properties"]["job_id"]["anyOf"]


@pytest.mark.parametrize("route", PUBLIC_ROUTES, ids=[route.function for route in PUBLIC_ROUTES])
def test_a_public_operation_requires_no_token(published: dict, route: Route):
    operation = published["paths"][route.path][route.method.lower()]
    assert operation["security"] == []
    assert operation["operationId"] == route.function


def test_the_document_route_serves_the_checked_in_document():
    response = get_openapi(load_event("get_openapi"), None)

    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json"
    assert response["body"] == DOCUMENT.read_text()


def test_the_version_lifecycle_is_published_as_the_server_enforces_it(published: dict):
    next_statuses = published["x-pie-lifecycle"]["next_statuses"]

    assert {status: tuple(following) for status, following in next_statuses.items()} == NEXT_STATUSES
    # The lifecycle covers exactly the statuses a version is documented to have.
    assert set(next_statuses) == set(published["components"]["schemas"]["Version"]["properties"]["status"]["enum"])


def test_the_job_event_table_is_published_row_by_row(published: dict):
    events = published["x-pie-job-events"]["events"]

    assert [(event["name"], event["action"]) for event in events] == [(row.name, row.action) for row in JOB_EVENTS]
    assert all(producing_action(event["name"]) == event["action"] for event in events)
    moves = {
        (event["transition"]["from"], event["transition"]["to"]): event["name"]
        for event in events
        if event["transition"]
    }
    assert moves == {row.transition: row.name for row in JOB_EVENTS if row.transition}
    assert all(fired_by_transition(*move) == name for move, name in moves.items())
    # Every event is one a subscription may name.
    trigger_event = published["components"]["schemas"]["CreateSubscriptionRequest"]["properties"]["trigger_event"]
    assert [event["name"] for event in events] == trigger_event["enum"]


def _sample_events() -> list:
    """One event of every catalogue type, made by the builders PIE makes them with."""
    from datetime import UTC, datetime

    from shared.domain import events
    from shared.domain.entities import Alias, Job, Model, StatusChange, Subscription, Version

    now = datetime(2026, 1, 1, tzinfo=UTC)
    model = Model.model_construct(
        id="price-reco", workspace="pricing", name="Price reco", latest_version="2", entity_version=3,
        created_at=now, updated_at=now, created_by="alice",
    )  # fmt: skip
    version = Version.model_construct(
        model_id="price-reco", workspace="pricing", version="2", status="pending", status_message=None,
        status_history=[], created_at=now, updated_at=now, created_by="alice",
    )  # fmt: skip
    moved = version.model_copy(
        update={
            "status": "training",
            "status_history": [StatusChange(status="training", status_message="go", at=now, by="bob")],
        }
    )
    job = Job.model_construct(
        id="1b4e28ba-2fa1-11d2-883f-0016d3cca427", model_id="price-reco", workspace="pricing", version="2",
        action="training", status="running", attempt=1, output=None, error=None, created_at=now, updated_at=now,
    )  # fmt: skip
    alias = Alias.model_construct(name="champion", model_id="price-reco", version="2", reason=None, updated_at=now,
                                  updated_by="bob")  # fmt: skip
    subscription = Subscription.model_construct(
        id="6f1c2a9b-7d3e-4f60-8a1b-2c3d4e5f6a7b", workspace="pricing", source_model_id="price-reco",
        target_model_id="price-serve", updated_at=now,
    )  # fmt: skip
    return [
        events.model_created(model),
        events.model_updated(model),
        events.model_deleted(model, now),
        events.version_created(version),
        events.version_status_changed(version, moved),
        events.alias_set(alias, "pricing", None),
        events.alias_deleted(alias, "pricing", "bob", now),
        events.job_ended(job, job.model_copy(update={"status": "succeeded", "output": {"auc": 0.9}})),
        events.job_ended(job, job.model_copy(update={"status": "failed", "error": "out of memory"})),
        events.subscription_stale(subscription),
        events.ping("wh_77535403ad884aa58660e4ee", "pricing", now),
    ]


def test_every_event_type_is_a_webhook_signed_with_the_three_standard_webhooks_headers(published: dict):
    from shared.domain.events import CATALOGUE

    assert set(published["webhooks"]) == set(CATALOGUE)
    for name, item in published["webhooks"].items():
        operation = item["post"]
        headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
        assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}, name
        assert all(header["required"] for header in headers.values())
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert schema["properties"]["type"]["const"] == name
        assert set(schema["properties"]["data"]["required"]) == {"workspace", *CATALOGUE[name].fields}


def test_each_event_payload_pie_builds_matches_its_published_webhook_schema(published: dict):
    from shared.domain.events import CATALOGUE

    samples = _sample_events()
    assert sorted(event.type for event in samples) == sorted(CATALOGUE)
    for event in samples:
        operation = published["webhooks"][event.type]["post"]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        payload = json.loads(json.dumps(event.payload(), default=str))
        jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(payload)
        other = next(name for name in CATALOGUE if name != event.type)
        assert not _validates(published, schema, {**payload, "type": other})


def test_the_signature_header_pattern_admits_what_pie_sends(published: dict):
    import re

    from shared.domain import webhooks

    sent = webhooks.headers(["whsec_" + "a" * 44, "whsec_" + "b" * 44], "msg_" + "0" * 36, 1767225600, b"{}")
    parameters = {p["name"]: p["schema"] for p in published["webhooks"]["ping"]["post"]["parameters"]}
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        assert re.fullmatch(parameters[name]["pattern"], sent[name]), name

"""What the local API Gateway answers itself (routing, the JWT authorizer, payload limits) and
every request error the route functions answer, over HTTP."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from urllib.parse import quote

import jwt
import pytest

from pie_local.gateway.tokens import SigningKeys
from shared.routes import MODELS_READ, ROUTES, Route
from tests.e2e.client import Api, assert_error
from tests.e2e.documents import model_document, unique_id
from tests.e2e.local_server import LocalServer, Tokens

pytestmark = pytest.mark.e2e


PROTECTED_ROUTES = [route for route in ROUTES if not route.public]


def _concrete_path(route: Route) -> str:
    return re.sub(r"\{[a-z_]+\}", "x1", route.path)


# The JWT authorizer -----------------------------------------------------------------------------


@pytest.mark.parametrize("route", PROTECTED_ROUTES, ids=lambda route: route.route_key)
def test_every_route_refuses_a_request_without_a_token(anonymous: Api, route: Route):
    reply = anonymous.request(route.method, _concrete_path(route))

    assert_error(reply, 401)
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("route", PROTECTED_ROUTES, ids=lambda route: route.route_key)
def test_every_route_refuses_a_token_without_its_scope(server: LocalServer, tokens: Tokens, route: Route):
    lacking_the_scope = tokens.writer if route.scope == MODELS_READ else tokens.reader

    reply = Api(server.url, lacking_the_scope).request(route.method, _concrete_path(route))

    assert route.scope in assert_error(reply, 403)


def test_an_expired_token_is_a_401(api: Api, tokens: Tokens):
    reply = api.as_caller(tokens.expired).get("/v2/models")

    assert "expired" in assert_error(reply, 401)


def test_a_token_signed_with_another_key_is_a_401(api: Api, tokens: Tokens):
    reply = api.as_caller(tokens.forged).post("/v2/models", model_document(unique_id()))

    assert "signature" in assert_error(reply, 401)


def test_a_token_whose_claims_were_edited_is_a_401(api: Api, tokens: Tokens):
    header, payload, signature = tokens.reader.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "models:read models:write"
    edited = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")

    reply = api.as_caller(f"{header}.{edited}.{signature}").post("/v2/models", model_document(unique_id()))

    assert_error(reply, 401)


@pytest.mark.parametrize(
    "changes",
    [{"iss": "someone-else"}, {"aud": "another-api"}, {"nbf": 600}],
    ids=["issuer", "audience", "not-before"],
)
def test_a_token_signed_by_the_local_key_but_not_valid_for_this_api_is_a_401(api: Api, pie_home: Path, changes: dict):
    # Times are taken when the test runs (a parameter computed at collection would be stale by the
    # time a long session reaches it): "nbf" here is an offset from now.
    now = int(time.time())
    claims = {"iss": "pie-local", "aud": "pie-api", "sub": "dev", "iat": now, "nbf": now, "exp": now + 600}
    claims["scope"] = "models:read"
    if "nbf" in changes:
        changes = {**changes, "nbf": now + changes["nbf"], "iat": now}
    token = jwt.encode({**claims, **changes}, SigningKeys.load_or_create(pie_home).private_key, algorithm="RS256")

    assert_error(api.as_caller(token).get("/v2/models"), 401)


def test_a_token_missing_a_required_claim_is_a_401(api: Api, pie_home: Path):
    claims = {"iss": "pie-local", "aud": "pie-api", "sub": "dev", "scope": "models:read"}
    token = jwt.encode(claims, SigningKeys.load_or_create(pie_home).private_key, algorithm="RS256")

    assert_error(api.as_caller(token).get("/v2/models"), 401)


def test_a_malformed_token_is_a_401(api: Api):
    assert_error(api.as_caller("not-a-jwt").get("/v2/models"), 401)


def test_the_token_is_accepted_without_the_bearer_prefix_as_api_gateway_does(api: Api, tokens: Tokens):
    reply = api.as_caller(None).get("/v2/models", headers={"Authorization": tokens.reader})

    assert reply.status == 200


def test_the_function_sees_the_token_subject_as_the_caller(server: LocalServer, tokens: Tokens):
    reply = Api(server.url, tokens.writer).post("/v2/models", model_document(unique_id()))

    assert reply.status == 201, reply.body
    assert reply.json["model"]["created_by"] == "writer"


# Routing and limits -------------------------------------------------------------------------------


def test_an_unknown_path_is_a_404(api: Api):
    assert_error(api.get("/v2/nothing-here"), 404)
    assert_error(api.get("/v2/models/"), 404)


def test_a_known_path_with_another_method_is_a_405_listing_the_allowed_methods(api: Api):
    reply = api.request("PATCH", "/v2/models")

    assert_error(reply, 405)
    assert reply.headers["Allow"] == "GET, POST"


def test_a_body_over_api_gateways_10_mib_limit_is_a_413(api: Api):
    reply = api.post("/v2/models", body=b"x" * (10 * 1024 * 1024 + 1), headers={"Content-Type": "application/json"})

    assert_error(reply, 413)


def test_every_response_carries_an_api_gateway_request_id(anonymous: Api, api: Api):
    assert anonymous.get("/v2/models").headers["Apigw-Requestid"]
    assert api.get("/v2/models").headers["Apigw-Requestid"]


def test_the_server_logs_one_line_per_request_with_status_and_duration(api: Api, server: LocalServer):
    missing = unique_id("missing")

    api.get(f"/v2/models/{missing}")

    line = re.compile(rf"^\S+ \S+ INFO GET /v2/models/{missing} 404 \d+\.\dms$", re.MULTILINE)
    deadline = time.monotonic() + 5  # the line is written once the response has been sent
    while not line.search(server.log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert line.search(server.log.read_text())


# Errors the functions answer ---------------------------------------------------------------------


def test_reading_a_model_or_version_that_does_not_exist_is_a_404(api: Api, model_id: str):
    assert_error(api.get(f"/v2/models/{unique_id('ghost')}"), 404)
    assert_error(api.get(f"/v2/models/{model_id}/versions/99"), 404)
    assert_error(api.get(f"/v2/models/{unique_id('ghost')}/versions/latest"), 404)


def test_creating_a_model_that_exists_is_a_409(api: Api, model_id: str):
    assert_error(api.post("/v2/models", model_document(model_id)), 409)


def test_a_handler_outside_the_allow_list_is_a_422(api: Api):
    document = model_document(unique_id())
    document["handlers"]["training"]["arn"] = "arn:aws:lambda:us-west-2:999999999999:function:train"

    message = assert_error(api.post("/v2/models", document), 422)

    assert "999999999999" in message


def test_malformed_json_is_a_400(api: Api):
    reply = api.post("/v2/models", body=b'{"id": "m1", ', headers={"Content-Type": "application/json"})

    assert "JSON" in assert_error(reply, 400)


def test_a_body_that_is_not_utf8_is_a_400(api: Api):
    reply = api.post("/v2/models", body=b"\xff\xfe\x00garbage", headers={"Content-Type": "application/json"})

    assert_error(reply, 400)


def test_a_form_encoded_body_is_a_400_that_asks_for_json(api: Api):
    reply = api.post("/v2/models", body=b'{"id": "m1"}', headers={"Content-Type": "application/x-www-form-urlencoded"})

    assert "application/json" in assert_error(reply, 400)


def test_a_missing_body_is_a_400(api: Api):
    assert_error(api.post("/v2/models"), 400)


@pytest.mark.parametrize(
    "changes",
    [{"name": 123}, {"handlers": "lambda"}, {"metadata": ["not", "an", "object"]}, {"colour": "blue"}],
    ids=["name-not-a-string", "handlers-not-an-object", "metadata-not-an-object", "unknown-field"],
)
def test_a_body_with_wrong_types_or_unknown_fields_is_a_400(api: Api, changes: dict):
    assert_error(api.post("/v2/models", model_document(unique_id(), **changes)), 400)


def test_an_invalid_model_id_is_a_400_in_the_path_and_in_the_body(api: Api):
    assert_error(api.get(f"/v2/models/{quote('bad id!')}"), 400)
    assert_error(api.get(f"/v2/models/x1/versions/{quote('bad version!')}"), 400)
    assert_error(api.post("/v2/models", model_document("bad id!")), 400)


@pytest.mark.parametrize("limit", ["0", "101", "abc", "-1"])
def test_a_limit_outside_1_to_100_is_a_400(api: Api, limit: str):
    assert_error(api.get(f"/v2/models?limit={limit}"), 400)


def test_a_tampered_next_token_is_a_400(api: Api):
    for _ in range(2):
        api.post("/v2/models", model_document(unique_id()))
    token = api.get("/v2/models?limit=1").json["next_token"]
    assert token

    reply = api.get(f"/v2/models?limit=1&next_token={quote(token[:-4] + 'AAAA', safe='')}")

    assert_error(reply, 400)

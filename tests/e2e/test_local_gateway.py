"""The local stack in process: the payload 2.0 event the gateway builds, how it maps a function's
answer to HTTP, ``LocalApi`` started in a thread the way tests and tools embed it, and the keys."""

from __future__ import annotations

import base64
import json
import re
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from pie_local.gateway.gateway import JwtAuthorizer, LocalGateway
from pie_local.gateway.http import HttpRequest
from pie_local.gateway.tokens import (
    SigningKeys,
    TokenRejectedError,
    TokenVerifier,
    local_home,
    mint_token,
)
from pie_local.server import LocalApi
from pie_local.settings import LOCAL_TABLE_NAME
from shared.data.keys import model_partition
from shared.routes import ROUTES, route_for
from tests.e2e.documents import model_document

pytestmark = pytest.mark.e2e

KEYS = SigningKeys.generate()


class RecordingFunction:
    """Stands in for every route function: remembers the event, answers ``result``."""

    def __init__(self, result: Any = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.contexts: list[Any] = []
        self.result = result if result is not None else {"statusCode": 200, "body": "{}"}

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(event)
        self.contexts.append(context)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def _gateway(function: RecordingFunction) -> LocalGateway:
    return LocalGateway(JwtAuthorizer(TokenVerifier(KEYS.public_key)), load=lambda name: function)


def _request(
    method: str,
    target: str,
    *headers: tuple[str, str],
    body: bytes = b"",
    scopes: tuple[str, ...] = ("models:read", "models:write"),
) -> HttpRequest:
    token = mint_token(KEYS, scopes=scopes, subject="dev")
    return HttpRequest(
        method=method,
        target=target,
        headers=[("Host", "127.0.0.1:8000"), ("Authorization", f"Bearer {token}"), *headers],
        body=body,
        source_ip="10.1.2.3",
    )


def test_the_event_is_api_gateways_payload_format_2_0():
    function = RecordingFunction()
    request = _request(
        "GET",
        "/v2/models/m%201/versions/latest?limit=5&tag=a&tag=b&empty=",
        ("User-Agent", "curl/8.5.0"),
        ("X-Custom", "one"),
        ("x-custom", "two"),
        ("Cookie", "session=abc; theme=dark"),
    )

    response = _gateway(function).handle(request)

    assert response.status == 200
    [event] = function.events
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /v2/models/{model_id}/versions/{model_version}"
    assert event["rawPath"] == "/v2/models/m 1/versions/latest"
    assert event["rawQueryString"] == "limit=5&tag=a&tag=b&empty="
    assert event["queryStringParameters"] == {"limit": "5", "tag": "a,b", "empty": ""}
    assert event["pathParameters"] == {"model_id": "m 1", "model_version": "latest"}
    assert event["headers"]["x-custom"] == "one,two"
    assert event["headers"]["user-agent"] == "curl/8.5.0"
    assert event["headers"]["authorization"].startswith("Bearer ")
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    context = event["requestContext"]
    assert context["accountId"] == "123456789012"
    assert context["domainName"] == "127.0.0.1"
    assert context["http"] == {
        "method": "GET",
        "path": "/v2/models/m 1/versions/latest",
        "protocol": "HTTP/1.1",
        "sourceIp": "10.1.2.3",
        "userAgent": "curl/8.5.0",
    }
    assert context["routeKey"] == event["routeKey"]
    assert context["stage"] == "$default"
    assert context["requestId"] == response.header("Apigw-Requestid")
    assert isinstance(context["timeEpoch"], int)
    assert context["time"].endswith("+0000")


def test_the_authorizer_context_carries_every_claim_as_a_string_and_the_scopes():
    function = RecordingFunction()

    _gateway(function).handle(_request("GET", "/v2/models"))

    jwt_context = function.events[0]["requestContext"]["authorizer"]["jwt"]
    claims = jwt_context["claims"]
    assert all(isinstance(value, str) for value in claims.values())
    assert claims["sub"] == "dev"
    assert claims["iss"] == "pie-local"
    assert claims["scope"] == "models:read models:write"
    assert int(claims["exp"]) - int(claims["iat"]) == 3600
    assert jwt_context["scopes"] == ["models:read", "models:write"]


def test_a_body_that_is_not_utf8_reaches_the_function_base64_encoded():
    function = RecordingFunction()

    _gateway(function).handle(_request("POST", "/v2/models", body=b"\xff\xfe"))
    _gateway(function).handle(_request("POST", "/v2/models", body='{"name": "Zoë"}'.encode()))

    binary, text = function.events
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\xff\xfe"
    assert text["isBase64Encoded"] is False
    assert text["body"] == '{"name": "Zoë"}'


def test_the_function_gets_a_lambda_context_naming_it():
    function = RecordingFunction()

    _gateway(function).handle(_request("DELETE", "/v2/models/m1"))

    [context] = function.contexts
    assert context.function_name == "pie-local-delete_model"
    assert context.invoked_function_arn.endswith(":function:pie-local-delete_model")
    assert context.memory_limit_in_mb > 0
    assert context.aws_request_id
    assert 0 < context.get_remaining_time_in_millis() <= 30_000


def test_the_functions_answer_becomes_the_http_response():
    function = RecordingFunction(
        {
            "statusCode": 201,
            "headers": {"ETag": '"3"', "Content-Type": "application/octet-stream"},
            "cookies": ["a=1; Path=/", "b=2"],
            "body": base64.b64encode(b"\x00\x01binary").decode(),
            "isBase64Encoded": True,
        }
    )

    response = _gateway(function).handle(_request("POST", "/v2/models"))

    assert response.status == 201
    assert response.body == b"\x00\x01binary"
    assert response.header("ETag") == '"3"'
    assert [value for name, value in response.headers if name == "Set-Cookie"] == ["a=1; Path=/", "b=2"]


def test_an_answer_without_a_status_code_is_a_200_json_document_as_payload_2_0_infers():
    response = _gateway(RecordingFunction({"models": []})).handle(_request("GET", "/v2/models"))

    assert response.status == 200
    assert response.header("Content-Type") == "application/json"
    assert json.loads(response.body) == {"models": []}


def test_a_function_that_crashes_is_a_500_without_its_traceback():
    function = RecordingFunction(RuntimeError("secret detail"))

    response = _gateway(function).handle(_request("GET", "/v2/models"))

    assert response.status == 500
    assert json.loads(response.body) == {"success": False, "message": "internal server error"}


def test_a_rejected_request_never_reaches_a_function():
    function = RecordingFunction()
    gateway = _gateway(function)

    statuses = [
        gateway.handle(HttpRequest("GET", "/v2/models", headers=[])).status,
        gateway.handle(_request("POST", "/v2/models", scopes=("models:read",))).status,
        gateway.handle(_request("GET", "/v2/elsewhere")).status,
        gateway.handle(_request("PATCH", "/v2/models/m1")).status,
    ]

    assert statuses == [401, 403, 404, 405]
    assert function.events == []


def test_every_route_of_the_route_table_reaches_its_function():
    calls: list[str] = []

    def load(name: str):
        return lambda event, context: calls.append(name) or {"statusCode": 204}

    gateway = LocalGateway(JwtAuthorizer(TokenVerifier(KEYS.public_key)), load=load)
    for route in ROUTES:
        target = re.sub(r"\{[a-z_]+\}", "p1", route.path)
        headers = [] if route.public else [("Authorization", f"Bearer {mint_token(KEYS, scopes=[route.scope])}")]
        request = HttpRequest(route.method, target, headers)
        assert gateway.handle(request).status == 204, route.route_key

    assert calls == [route.function for route in ROUTES]


def test_the_openapi_document_is_served_without_a_token_by_its_route_function():
    gateway = LocalGateway(JwtAuthorizer(TokenVerifier(KEYS.public_key)), routes=[route_for("get_openapi")])

    response = gateway.handle(HttpRequest("GET", "/v2/openapi.json", headers=[]))

    assert response.status == 200
    assert response.header("Content-Type") == "application/json"
    assert response.body == (Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_bytes()


# LocalApi in a thread -----------------------------------------------------------------------------


def _call(url: str, method: str = "GET", token: str | None = None, body: Any = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def test_local_api_serves_in_a_thread_on_a_free_port_and_stops(tmp_path: Path):
    with LocalApi(home=tmp_path / ".pie-local") as api:
        token = mint_token(api.keys)
        url = api.url

        anonymous_status, _ = _call(f"{url}/v2/models")
        created_status, created = _call(f"{url}/v2/models", "POST", token, model_document("in-thread"))
        listed_status, listed = _call(f"{url}/v2/models", token=token)

    assert anonymous_status == 401
    assert created_status == 201 and created["model"]["id"] == "in-thread"
    assert listed_status == 200 and [m["id"] for m in listed["models"]] == ["in-thread"]
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/v2/models", timeout=2)


def test_local_api_on_a_dynamodb_endpoint_creates_the_table_there_when_missing(tmp_path: Path):
    # moto answers for the regional DynamoDB endpoint, so the endpoint path runs with no network.
    endpoint = "https://dynamodb.us-east-1.amazonaws.com"
    with mock_aws():
        for model_id in ("first-start", "second-start"):
            with LocalApi(home=tmp_path / ".pie-local", dynamodb_endpoint=endpoint) as api:
                status, _ = _call(f"{api.url}/v2/models", "POST", mint_token(api.keys), model_document(model_id))
                assert status == 201

        client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
        stored = client.scan(TableName=LOCAL_TABLE_NAME)["Items"]

    partitions = {item["PK"]["S"] for item in stored}
    assert {model_partition("first-start"), model_partition("second-start")} <= partitions


# The signing keys -----------------------------------------------------------------------------------


def test_the_keys_live_in_a_per_user_home_unless_a_dot_pie_local_is_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("PIE_LOCAL_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)

    # The same home from every directory, so a token minted anywhere verifies against the server.
    assert local_home() == tmp_path / "data" / "pie-local"
    assert not (tmp_path / ".pie-local").exists()  # never created beside the caller
    # A checkout's existing ./.pie-local (from before per-user homes) is still used.
    (tmp_path / ".pie-local").mkdir()
    assert local_home() == tmp_path / ".pie-local"
    monkeypatch.setenv("PIE_LOCAL_HOME", str(tmp_path / "elsewhere"))
    assert local_home() == tmp_path / "elsewhere"
    assert local_home(tmp_path / "flag") == tmp_path / "flag"


def test_a_server_and_a_token_command_starting_together_agree_on_one_key_pair(tmp_path: Path):
    with ThreadPoolExecutor(max_workers=4) as pool:
        loaded = list(pool.map(lambda _: SigningKeys.load_or_create(tmp_path), range(4)))

    token = mint_token(loaded[0])
    for keys in loaded:
        assert TokenVerifier(keys.public_key).verify(token)["sub"] == "local-developer"
    assert [path.name for path in tmp_path.iterdir()] == ["jwt-signing-key.pem"]


def test_requests_to_different_functions_at_once_each_get_their_own_answer(tmp_path: Path):
    """A browser fires a model's page requests together; none may see another's query or path."""
    # Threads switch often, so requests overlap inside the functions as they do under load.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        statuses, paths = _concurrent_reads(tmp_path)
    finally:
        sys.setswitchinterval(switch_interval)

    assert statuses == [200] * len(paths)


def _concurrent_reads(tmp_path: Path) -> tuple[list[int], list[str]]:
    with LocalApi(home=tmp_path / ".pie-local") as api:
        token = mint_token(api.keys)
        _call(f"{api.url}/v2/models", "POST", token, model_document("together"))
        paths = ["/v2/models/together", "/v2/models/together/versions?limit=5", "/v2/models?limit=5"] * 20
        with ThreadPoolExecutor(max_workers=6) as pool:
            return list(pool.map(lambda path: _call(f"{api.url}{path}", token=token)[0], paths)), paths


def test_a_token_is_verified_once_and_then_remembered_until_it_expires(monkeypatch: pytest.MonkeyPatch):
    from pie_local.gateway import tokens

    decoded: list[str] = []
    real_decode = tokens.jwt.decode

    def counting_decode(token: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr(tokens.jwt, "decode", counting_decode)
    verifier = TokenVerifier(KEYS.public_key)
    token = mint_token(KEYS, subject="dev", expires_in=2)
    other = mint_token(KEYS, subject="someone-else")

    assert [verifier.verify(token)["sub"] for _ in range(3)] == ["dev"] * 3
    assert verifier.verify(other)["sub"] == "someone-else"
    assert decoded == [token, other]

    expires = verifier.verify(token)["exp"]
    deadline = time.monotonic() + 5
    while time.time() < expires and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(TokenRejectedError, match="expired"):
        verifier.verify(token)


def test_a_remembered_token_edited_by_one_character_is_verified_again_and_refused():
    verifier = TokenVerifier(KEYS.public_key)
    token = mint_token(KEYS, subject="dev")
    verifier.verify(token)
    header, payload, signature = token.split(".")
    edited = ".".join([header, payload, ("A" if signature[0] != "A" else "B") + signature[1:]])

    with pytest.raises(TokenRejectedError):
        verifier.verify(edited)

"""Fixtures shared by every test layer.

``table`` gives each test a fresh embedded DynamoDB (moto) with PIE's table, created from the same
definition the CDK app deploys, and points the route functions at it.
"""

from __future__ import annotations

import copy
import importlib
import json
import socket
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from pie_local.settings import LOCAL_TABLE_NAME, local_environment
from pie_local.table.dynamodb import embedded_dynamodb, use_fake_credentials
from shared import runtime

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch):
    for name, value in local_environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    use_fake_credentials()
    # ``use_stand_in`` has no undo: a test's stand-ins stay that test's.
    monkeypatch.setattr(runtime, "_stand_ins", {})
    # Webhook URLs are resolved here, never through DNS.
    monkeypatch.setattr(runtime, "resolve_host", resolve_test_host)
    runtime.reset()
    yield
    runtime.reset()


# The host names tests may give webhooks (example.com's documented address; loopback).
TEST_HOSTS = {"hooks.example.com": ["93.184.216.34"], "localhost": ["127.0.0.1"]}


def resolve_test_host(host: str, port: int) -> list[str]:
    if host not in TEST_HOSTS:
        raise OSError(f"{host}: not a test host (tests resolve no names through DNS)")
    return TEST_HOSTS[host]


@pytest.fixture
def table():
    """A DynamoDB client on a fresh embedded table named like the local stack's."""
    with embedded_dynamodb(LOCAL_TABLE_NAME) as client:
        runtime.reset()
        yield client


class LambdaContext:
    function_name = "pie-test"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:pie-test"
    aws_request_id = "test-request-id"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def network_attempts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every attempt to reach the network, each refused. A library may swallow the refusal (a
    failed ``$ref`` retrieval becomes "unresolvable"), so tests assert on the record, not on an
    exception."""
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


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of ``events/<name>.json``."""
    return copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text()))


def invoke(function: str, event: dict[str, Any]) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
    """Run ``functions/<function>/handler.py`` on ``event``: (status, parsed body, headers)."""
    handler = importlib.import_module(f"functions.{function}.handler")
    response = handler.lambda_handler(event, LambdaContext())
    body = response.get("body")
    return response["statusCode"], (json.loads(body) if body else None), response.get("headers", {})

"""A contract's ``$ref`` to another document is never fetched, whatever route validates against it.

Every way out of the process (DNS, sockets, urllib, http.client) is a tripwire for the duration of
each test: it records the attempt and raises. The route functions run in process on the embedded
table (moto answers DynamoDB without a socket), so the only network traffic possible is a fetch.
Each request must still get an ordinary answer (2xx, 400 or 422), and the tripwire must be untouched.
"""

from __future__ import annotations

import http.client
import socket
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.api_events import call, create_model, make_active, sample_body
from tests.integration.job_helpers import complete, start_inference, start_training, started_job

# Each schema, and the reference PIE must report instead of fetching.
REMOTE_REFERENCES: dict[str, tuple[dict[str, Any], str]] = {
    "http": ({"$ref": "http://schemas.example.com/input.json"}, "http://schemas.example.com/input.json"),
    "https-fragment": (
        {"$ref": "https://schemas.example.com/input.json#/$defs/payload"},
        "https://schemas.example.com/input.json#/$defs/payload",
    ),
    "relative-to-a-remote-id": (
        {"$id": "https://schemas.example.com/root.json", "$ref": "payload.json"},
        "payload.json",
    ),
    "nested": (
        {"type": "object", "properties": {"features": {"$ref": "https://schemas.example.com/f.json"}}},
        "https://schemas.example.com/f.json",
    ),
    "dynamic": (
        {"$dynamicRef": "https://schemas.example.com/dyn.json#meta"},
        "https://schemas.example.com/dyn.json#meta",
    ),
    "file": ({"$ref": "file:///etc/passwd"}, "file:///etc/passwd"),
}
CASES = list(REMOTE_REFERENCES.values())
SCHEMAS = [schema for schema, _ in CASES]
NAMES = list(REMOTE_REFERENCES)
PAYLOAD = {"features": [1, 2]}


class NetworkAttempted(AssertionError):
    pass


@pytest.fixture
def tripwire(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Records every attempt to reach the network and makes it fail loudly."""
    attempts: list[str] = []

    def refuse(what: str):
        def refused(*args: Any, **kwargs: Any) -> Any:
            attempts.append(f"{what}{args[:2]!r}")
            raise NetworkAttempted(f"{what} was called with {args[:2]!r}: PIE must not reach the network")

        return refused

    monkeypatch.setattr(socket, "getaddrinfo", refuse("socket.getaddrinfo"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    monkeypatch.setattr(urllib.request, "urlopen", refuse("urllib.request.urlopen"))
    monkeypatch.setattr(http.client.HTTPConnection, "connect", refuse("http.client.connect"))
    yield attempts
    assert attempts == [], "a contract made PIE reach the network"


def _contracts(schema: dict[str, Any]) -> dict[str, Any]:
    return {"training": {"input_schema": schema, "output_schema": schema}, "inference": {"input_schema": schema}}


@pytest.mark.parametrize("schema", SCHEMAS, ids=NAMES)
def test_creating_and_updating_a_model_with_remote_references_fetches_nothing(
    table: Any, tripwire: list[str], schema: dict[str, Any]
):
    created = create_model("remote-refs", handler_contracts=_contracts(schema))
    assert created["model"]["handler_contracts"]["inference"]["input_schema"] == schema

    update = {key: sample_body("update_model")[key] for key in ("name", "description", "handlers", "metadata")}
    update["handler_contracts"] = _contracts(schema)
    status, body, _ = call("update_model", body=update, model_id="remote-refs")
    assert status == 200, body


def test_a_remote_meta_schema_is_not_fetched_either(table: Any, tripwire: list[str]):
    """``$schema`` only names the dialect; PIE applies Draft 2020-12 and never loads it."""
    schema = {"$schema": "https://schemas.example.com/meta.json", "type": "object", "required": ["features"]}
    create_model("remote-meta", handler_contracts=_contracts(schema))
    make_active("remote-meta")

    assert started_job(start_inference("remote-meta", PAYLOAD))["status"] == "queued"
    status, body, _ = start_inference("remote-meta", {})
    assert status == 422, body


@pytest.mark.parametrize(("schema", "reference"), CASES, ids=NAMES)
def test_a_stored_input_checked_against_a_remote_reference_is_created_with_a_warning_naming_it(
    table: Any, tripwire: list[str], schema: dict[str, Any], reference: str
):
    create_model("source")
    create_model("target", handler_contracts=_contracts(schema))
    subscription = {
        "trigger_event": "training_complete",
        "target_model_id": "target",
        "target_action": "inference",
        "input_source": "stored",
        "input": PAYLOAD,
    }

    status, body, _ = call("create_subscription", body=subscription, model_id="source")

    assert status == 201, body
    assert body["status"] == "active"
    assert [warning for warning in body["warnings"] if repr(reference) in warning and "does not fetch" in warning], body


@pytest.mark.parametrize(("schema", "reference"), CASES, ids=NAMES)
def test_an_inference_checked_against_a_remote_reference_is_a_422_naming_it(
    table: Any, tripwire: list[str], schema: dict[str, Any], reference: str
):
    create_model("remote-refs", handler_contracts=_contracts(schema))
    make_active("remote-refs")

    status, body, _ = start_inference("remote-refs", PAYLOAD)

    assert status == 422, body
    assert repr(reference) in body["message"] and "does not fetch" in body["message"], body


@pytest.mark.parametrize(("schema", "reference"), CASES, ids=NAMES)
def test_training_checked_against_a_remote_reference_is_a_422_naming_it(
    table: Any, tripwire: list[str], schema: dict[str, Any], reference: str
):
    create_model("remote-refs", handler_contracts=_contracts(schema))

    status, body, _ = start_training("remote-refs", PAYLOAD)

    assert status == 422, body
    assert repr(reference) in body["message"], body


@pytest.mark.parametrize(("schema", "reference"), CASES, ids=NAMES)
def test_a_completion_checked_against_a_remote_output_schema_succeeds_with_a_warning(
    table: Any, tripwire: list[str], schema: dict[str, Any], reference: str
):
    contracts = {"training": {"input_schema": {"type": "object"}, "output_schema": schema}}
    create_model("remote-refs", handler_contracts=contracts)
    job = started_job(start_training("remote-refs", PAYLOAD))

    status, body, _ = complete("remote-refs", job["id"], {"status": "succeeded", "output": PAYLOAD})

    assert status == 200, body
    assert body["job"]["status"] == "succeeded"
    assert [warning for warning in body["warnings"] if repr(reference) in warning], body


def test_the_tripwire_catches_a_fetch(tripwire: list[str]):
    with pytest.raises(NetworkAttempted):
        urllib.request.urlopen("https://schemas.example.com/input.json")
    with pytest.raises(NetworkAttempted):
        socket.create_connection(("schemas.example.com", 443))
    assert len(tripwire) == 2
    tripwire.clear()

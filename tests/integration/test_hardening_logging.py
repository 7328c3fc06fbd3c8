"""Every refused or failed request is logged once, structured, with the request id.

The route functions run in process on the embedded table; Powertools' JSON log lines are read from
stdout (``capsys``). The correlation id of each line is the API Gateway request id
(``requestContext.requestId`` of the event), which is also what a 500 answers as ``request_id``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shared.data.store import RegistryStore
from shared.observability import logger
from tests.conftest import invoke
from tests.integration.api_events import (
    SEED_MODEL_ID,
    assert_error,
    event_for,
    sample_body,
    with_claims,
)

LogLines = Callable[[], list[dict[str, Any]]]


class _CurrentStdout:
    """Writes to whatever ``sys.stdout`` is now: capsys installs its own per test phase, while
    Powertools' handler keeps the stream it was built with."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def log_lines(capsys: pytest.CaptureFixture[str]) -> Iterator[LogLines]:
    """The JSON lines logged to stdout since the last call."""
    handler = logger.registered_handler
    previous = handler.setStream(_CurrentStdout())

    def read() -> list[dict[str, Any]]:
        return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]

    yield read
    handler.setStream(previous)


def _request_id(event: dict[str, Any]) -> str:
    return event["requestContext"]["requestId"]


def _refusals() -> list[tuple[str, str, dict[str, Any], int]]:
    """(case, function, event, status) for each kind of refusal."""
    unknown_model = event_for("get_model", model_id="no-such-model")
    bad_json = event_for("create_model", raw_body="{not json")
    form_body = event_for(
        "create_model", raw_body="id=x", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    no_token = event_for("get_model")
    del no_token["requestContext"]["authorizer"]
    reader = with_claims(event_for("create_model", body=sample_body("create_model")), scope="models:read")
    duplicate = event_for("create_model", body={**sample_body("create_model"), "id": SEED_MODEL_ID})
    illegal = event_for("set_version_status", body={"status": "active"}, model_id=SEED_MODEL_ID, model_version="1")
    return [
        ("malformed-json-400", "create_model", bad_json, 400),
        ("form-body-400", "create_model", form_body, 400),
        ("no-token-401", "get_model", no_token, 401),
        ("missing-scope-403", "create_model", reader, 403),
        ("unknown-model-404", "get_model", unknown_model, 404),
        ("existing-id-409", "create_model", duplicate, 409),
        ("illegal-transition-422", "set_version_status", illegal, 422),
    ]


REFUSALS = _refusals()


@pytest.mark.parametrize(
    ("function", "event", "status"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
def test_a_refused_request_logs_one_structured_line_with_its_status_and_request_id(
    seed_model: dict[str, Any], log_lines: LogLines, function: str, event: dict[str, Any], status: int
):
    log_lines()

    message = assert_error(invoke(function, event), status)

    lines = log_lines()
    refused = [line for line in lines if line["message"] == "request refused"]
    assert len(refused) == 1, lines
    line = refused[0]
    assert line["level"] == "INFO"
    assert line["status"] == status
    assert line["reason"] == message
    assert line["correlation_id"] == _request_id(event)
    assert line["route"] == event["routeKey"]
    assert not [other for other in lines if other["level"] in ("WARNING", "ERROR", "CRITICAL")], lines


def test_a_body_of_80000_unknown_fields_is_answered_and_logged_in_a_few_hundred_bytes(log_lines: LogLines):
    unknown = ", ".join(f'"u{number:06d}": 0' for number in range(80_000))
    raw_body = json.dumps(sample_body("create_model"))[:-1] + ", " + unknown + "}"
    log_lines()

    status, body, _ = invoke("create_model", event_for("create_model", raw_body=raw_body))

    assert status == 400, body
    assert len(json.dumps(body)) < 1000
    assert body["message"].startswith("body: Extra inputs are not permitted: 80,000 unknown fields, the first 10:")
    (refused,) = [line for line in log_lines() if line["message"] == "request refused"]
    assert len(json.dumps(refused)) < 2000


def _throttled(*_: Any, **__: Any) -> Any:
    raise ClientError({"Error": {"Code": "InternalServerError", "Message": "DynamoDB had a bad day"}}, "GetItem")


@pytest.mark.parametrize(
    ("function", "store_method", "build_event"),
    [
        ("get_model", "get_model_document", lambda: event_for("get_model", model_id=SEED_MODEL_ID)),
        (
            "create_model",
            "create_model",
            lambda: event_for("create_model", body={**sample_body("create_model"), "id": "fresh"}),
        ),
    ],
    ids=["read", "write"],
)
def test_a_failure_of_aws_answers_internal_error_with_the_request_id_and_logs_the_exception_once(
    seed_model: dict[str, Any],
    log_lines: LogLines,
    monkeypatch: pytest.MonkeyPatch,
    function: str,
    store_method: str,
    build_event: Callable[[], dict[str, Any]],
):
    monkeypatch.setattr(RegistryStore, store_method, _throttled)
    event = build_event()
    log_lines()

    status, body, headers = invoke(function, event)

    assert status == 500
    assert body == {"success": False, "message": "internal error", "request_id": _request_id(event)}
    assert headers["Content-Type"] == "application/json"
    lines = log_lines()
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert len(errors) == 1, lines
    error = errors[0]
    assert error["correlation_id"] == _request_id(event)
    assert error["route"] == event["routeKey"]
    assert error["exception_name"] == "ClientError"
    assert "DynamoDB had a bad day" in error["exception"]
    assert not [line for line in lines if line["message"] == "request refused"], lines


def test_a_500_body_carries_no_traceback_or_exception_text(
    seed_model: dict[str, Any], log_lines: LogLines, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(RegistryStore, "get_model_document", _throttled)

    status, body, _ = invoke("get_model", event_for("get_model", model_id=SEED_MODEL_ID))

    assert status == 500
    text = json.dumps(body)
    for leak in ("Traceback", "ClientError", "DynamoDB had a bad day", "InternalServerError", ".py"):
        assert leak not in text


def test_a_successful_request_logs_no_refusal(seed_model: dict[str, Any], log_lines: LogLines):
    log_lines()

    status, _, _ = invoke("get_model", event_for("get_model", model_id=SEED_MODEL_ID))

    assert status == 200
    assert not [line for line in log_lines() if line["message"] == "request refused"]


def test_invocations_on_two_threads_at_once_log_under_their_own_function_and_request(log_lines: LogLines):
    """pie-local runs the event functions (dispatch, sweeps, webhook delivery) on threads of one
    process: each invocation's lines carry its own function name and request id, never the
    other's, and none is left on the logger after it."""
    import threading
    from types import SimpleNamespace

    from shared.observability import log_invocations

    both_inside = threading.Barrier(2)

    @log_invocations()
    def handler(event: dict[str, Any], context: Any) -> None:
        logger.info(f"before {context.function_name}")
        both_inside.wait(timeout=5)  # the other invocation has appended its keys by now
        logger.info(f"after {context.function_name}")
        both_inside.wait(timeout=5)

    def context(name: str) -> Any:
        return SimpleNamespace(
            function_name=name,
            function_version="$LATEST",
            invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
            memory_limit_in_mb=256,
            aws_request_id=f"request-of-{name}",
        )

    threads = [threading.Thread(target=handler, args=({}, context(name))) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    logger.info("outside")

    lines = log_lines()
    inside = [line for line in lines if line["message"].startswith(("before ", "after "))]
    assert len(inside) == 4
    for line in inside:
        name = line["message"].split()[1]  # the function this line was logged by
        assert (line["function_name"], line["function_request_id"]) == (name, f"request-of-{name}"), line
    (outside,) = [line for line in lines if line["message"] == "outside"]
    assert "function_name" not in outside and "correlation_id" not in outside

"""Error bodies as API Gateway, PIE and proxies send them, and the retry policy, on recorded answers."""

from __future__ import annotations

import json

import httpx
import pytest

from pie_client import (
    BadRequest,
    ConnectionFailed,
    Forbidden,
    NotFound,
    PieClient,
    PieError,
    RetryPolicy,
    ServerError,
    TooManyRequests,
    Unauthorized,
)

# Bodies API Gateway HTTP APIs send for requests that never reach a function.
API_GATEWAY_BODIES = [
    (401, {"message": "Unauthorized"}, Unauthorized),
    (403, {"message": "Forbidden"}, Forbidden),
    (404, {"message": "Not Found"}, NotFound),
    (413, {"message": "Request Entity Too Large"}, PieError),
    (429, {"message": "Too Many Requests"}, TooManyRequests),
    (500, {"message": "Internal Server Error"}, ServerError),
    (503, {"message": "Service Unavailable"}, ServerError),
    (504, {"message": "Service Unavailable"}, ServerError),
]

MODEL = {
    "id": "m1",
    "name": "m",
    "description": "",
    "handlers": {
        "training": {"type": "in_process", "implementation": "echo"},
        "inference": {"type": "batch_queue", "queue_arn": "arn:aws:batch:us-east-1:1:job-queue/x"},
    },
    "handler_contracts": None,
    "metadata": {},
    "status": "pending",
    "latest_version": "1",
    "active_version": None,
    "entity_version": 3,
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-01T00:00:00Z",
    "created_by": "me",
    "workspace": "default",
    "lineage": {"parent": "m0"},
}


def client(handler, attempts: int = 1) -> PieClient:
    return PieClient(
        "https://pie.example.com",
        "token",
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(max_attempts=attempts),
        sleep=lambda seconds: None,
    )


@pytest.mark.parametrize(("status", "body", "kind"), API_GATEWAY_BODIES)
def test_api_gateway_error_bodies_become_typed_errors(status, body, kind):
    pie = client(lambda request: httpx.Response(status, json=body, headers={"apigw-requestid": "abc="}))

    with pytest.raises(kind) as raised:
        pie.get_model("m1")

    assert type(raised.value) is kind
    assert raised.value.status == status
    assert raised.value.message == body["message"]
    assert raised.value.request_id == "abc="


def test_pie_error_bodies_carry_message_and_the_internal_error_request_id():
    pie = client(
        lambda request: httpx.Response(500, json={"success": False, "message": "internal error", "request_id": "r-1"})
    )

    with pytest.raises(ServerError) as raised:
        pie.get_model("m1")

    assert (raised.value.status, raised.value.message, raised.value.request_id) == (500, "internal error", "r-1")
    assert str(raised.value) == "500 internal error"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "Bad Gateway"),
        (b"<html><body>502 Bad Gateway</body></html>", "Bad Gateway"),
        (b"upstream connect error", "upstream connect error"),
        (b"[1, 2]", "Bad Gateway"),
    ],
)
def test_non_json_or_odd_error_bodies_still_give_a_short_message(content, expected):
    pie = client(lambda request: httpx.Response(502, content=content))

    with pytest.raises(ServerError) as raised:
        pie.get_model("m1")

    assert raised.value.message == expected


def test_400_from_pie_is_a_bad_request():
    pie = client(lambda request: httpx.Response(400, json={"success": False, "message": "limit: too big"}))

    with pytest.raises(BadRequest, match="limit: too big"):
        pie.list_models(limit=1000)


def test_429_and_5xx_are_retried_with_backoff_then_succeed():
    answers = iter(
        [
            httpx.Response(429, json={"message": "Too Many Requests"}),
            httpx.Response(503, json={"message": "Service Unavailable"}),
            httpx.Response(200, json={"model": MODEL}),
        ]
    )
    waits: list[float] = []
    pie = PieClient(
        "https://pie.example.com",
        "t",
        transport=httpx.MockTransport(lambda request: next(answers)),
        retry=RetryPolicy(max_attempts=4, base_delay=1, max_delay=10),
        sleep=waits.append,
    )

    assert pie.get_model("m1").id == "m1"
    assert len(waits) == 2
    assert 0 <= waits[0] <= 1 and 0 <= waits[1] <= 2  # full jitter under an exponential cap


def test_retry_after_is_honoured_within_the_cap():
    answers = iter([httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json={"model": MODEL})])
    waits: list[float] = []
    pie = PieClient(
        "https://pie.example.com", "t", transport=httpx.MockTransport(lambda request: next(answers)), sleep=waits.append
    )

    pie.get_model("m1")

    assert waits == [3.0]


def test_retries_are_bounded_and_the_last_error_is_raised():
    calls: list[str] = []

    def always_throttled(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers["Idempotency-Key"])
        return httpx.Response(429, json={"message": "Too Many Requests"})

    pie = client(always_throttled, attempts=3)

    with pytest.raises(TooManyRequests):
        pie.start_training("m1", {"x": 1})

    assert len(calls) == 3 and len(set(calls)) == 1  # one logical call: one key for all its tries


def test_client_errors_are_not_retried():
    calls = []

    def not_found(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(404, json={"success": False, "message": "model 'm1' not found"})

    with pytest.raises(NotFound):
        client(not_found, attempts=4).get_model("m1")

    assert len(calls) == 1


def test_a_server_that_never_answers_is_a_connection_failure_after_the_retries():
    calls = []

    def refused(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ConnectionFailed) as raised:
        client(refused, attempts=3).get_model("m1")

    assert len(calls) == 3
    assert raised.value.status is None and "connection refused" in raised.value.message


def test_resources_from_a_newer_server_still_parse():
    """Fields and handler kinds this SDK predates are kept, not refused."""
    pie = client(lambda request: httpx.Response(200, json={"model": MODEL}))

    model = pie.get_model("m1")

    assert model.handlers.inference.type == "batch_queue"
    assert model.model_extra == {"lineage": {"parent": "m0"}}
    assert model.model_dump(mode="json")["handlers"]["inference"]["queue_arn"].endswith("/x")


def test_if_match_is_sent_from_the_version_seen_and_can_be_overridden_or_dropped():
    sent: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("If-Match"))
        if request.method == "PUT":
            return httpx.Response(200, json={"model": MODEL, "version": _version()})
        return httpx.Response(200, json={"model": MODEL})

    pie = client(answer)
    update = {"name": "m", "handlers": MODEL["handlers"], "description": "", "metadata": {}}

    pie.replace_model("m1", **update)  # never seen: unconditional
    pie.get_model("m1")
    pie.replace_model("m1", **update)
    pie.replace_model("m1", **update, if_match=7)
    pie.replace_model("m1", **update, if_match=None)
    pie.auto_if_match = False
    pie.replace_model("m1", **update)

    assert sent == [None, None, '"3"', '"7"', None, None]


def test_update_subscription_sends_only_the_fields_given():
    bodies: list[dict] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json=_subscription())

    pie = client(answer)
    pie.update_subscription("m1", "s1", status="active")
    pie.update_subscription("m1", "s1", label=None)

    assert bodies == [{"status": "active"}, {"label": None}]


def _version() -> dict:
    return {
        "model_id": "m1",
        "version": "1",
        "description": "",
        "metadata": {},
        "status": "pending",
        "status_message": None,
        "status_history": [],
        "handlers": MODEL["handlers"],
        "handler_contracts": None,
        "entity_version": 1,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "created_by": "me",
    }


def _subscription() -> dict:
    return {
        "id": "s1",
        "source_model_id": "m1",
        "trigger_event": "training_complete",
        "target_model_id": "m2",
        "target_action": "training",
        "input_source": "trigger_output",
        "input": None,
        "label": None,
        "status": "active",
        "entity_version": 2,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }


def test_supervision_operations_call_their_routes_with_an_idempotency_key():
    """cancel, retry and the delivery log need a server with job supervision (SPEC part two);
    until pie-local has them, this checks only the requests the SDK sends."""
    sent: list[tuple[str, str, str | None]] = []
    job = {
        "id": "j1",
        "model_id": "m1",
        "version": "1",
        "action": "training",
        "status": "failed",
        "input": {},
        "handler": {"type": "in_process", "implementation": "echo"},
        "trigger": None,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append((request.method, str(request.url), request.headers.get("Idempotency-Key")))
        if request.url.path == "/v2/jobs":
            return httpx.Response(200, json={"jobs": [job], "next_token": None})
        return httpx.Response(202, json={"job": job})

    pie = client(answer)
    pie.cancel_job("m1", "j1")
    pie.retry_job("m1", "j1")
    logged = list(pie.iter_all_jobs(status="failed", model_id="m1", workspace="alice"))

    assert [(method, url) for method, url, _ in sent] == [
        ("POST", "https://pie.example.com/v2/models/m1/jobs/j1/cancel"),
        ("POST", "https://pie.example.com/v2/models/m1/jobs/j1/retry"),
        ("GET", "https://pie.example.com/v2/jobs?status=failed&model_id=m1&workspace=alice"),
    ]
    assert sent[0][2] and sent[1][2] and sent[0][2] != sent[1][2] and sent[2][2] is None
    assert [item.id for item in logged] == ["j1"]

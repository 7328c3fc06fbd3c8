"""Webhook delivery (shared.dispatch.webhooks) on the embedded table, driven by its stream: fan-out to
the endpoints that want an event, exactly one webhook-id per (event, endpoint), Standard Webhooks
signatures, retries on the due index with the backoff schedule, failure, auto-disable, redrive and
the SSRF check at delivery. The sender is a stand-in and names resolve through a stub: nothing here
reaches a network."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import runtime
from shared.data.webhook_entities import DELIVERIES
from shared.dispatch.webhooks import Answer, WebhookDeliverer
from shared.domain.url_safety import Target
from shared.domain.webhooks import DeliveryPolicy
from tests.conftest import invoke
from tests.integration.api_events import call, create_model, event_for, with_claims
from tests.integration.job_helpers import table_stream
from tests.integration.lifecycle_helpers import set_status


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Receiver:
    """Records every request; answers the statuses it is given, in order (then 200)."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.requests: list[tuple[Target, dict[str, str], bytes]] = []

    def __call__(self, target: Target, headers: dict[str, str], body: bytes, timeout: float) -> Answer:
        self.requests.append((target, headers, body))
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 0:
            raise OSError("connection refused")
        return Answer(status, b"ok" if status < 300 else b"nope")


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The Standard Webhooks check, written from the specification, not from PIE's code."""
    key = base64.b64decode(secret.split("_", 1)[1])
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.{body.decode()}".encode()
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    offered = [part.split(",", 1)[1] for part in headers["webhook-signature"].split(" ") if part.startswith("v1,")]
    return any(hmac.compare_digest(expected, signature) for signature in offered)


NAMES = {"hooks.example.com": ["93.184.216.34"], "other.example.com": ["93.184.216.35"]}


def resolve(host: str, port: int) -> list[str]:
    return NAMES[host]


@pytest.fixture
def world(table: Any, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PIE_WEBHOOKS_ALLOW_LOOPBACK", "false")
    monkeypatch.setattr(runtime, "resolve_host", resolve)
    runtime.reset()
    clock, receiver = Clock(), Receiver()
    deliverer = WebhookDeliverer(runtime.webhook_store(), resolve, clock, DeliveryPolicy(), send=receiver)
    return clock, receiver, deliverer, table_stream()


def webhook(url: str = "https://hooks.example.com/in", **body: Any) -> dict[str, Any]:
    status, answer, _ = call("create_webhook", body={"url": url, "events": ["*"], **body})
    assert status == 201, answer
    return answer["webhook"]


def drain(stream: Any, deliverer: WebhookDeliverer) -> list[str]:
    outcomes = []
    while records := stream.read():
        outcomes += [deliverer.handle(record) for record in records]
    return outcomes


def deliveries(webhook_id: str) -> list[dict[str, Any]]:
    status, body, _ = call("list_webhook_deliveries", webhook_id=webhook_id)
    assert status == 200, body
    return body["deliveries"]


def test_an_event_reaches_each_endpoint_that_wants_it_once_signed_per_the_spec(world: Any):
    clock, receiver, deliverer, stream = world
    everything = webhook()
    versions_only = webhook("https://other.example.com/v", events=["version.status_changed"])
    other_model = webhook(model_ids=["someone_else"])
    create_model("a")
    set_status("a", "1", "training")

    drain(stream, deliverer)

    by_id: dict[str, list[tuple[Target, dict[str, str], bytes]]] = {}
    for request in receiver.requests:
        by_id.setdefault(request[1]["webhook-id"], []).append(request)
    assert all(len(requests) == 1 for requests in by_id.values())
    seen = {(json.loads(body)["type"], target.host) for target, _, body in receiver.requests}
    assert seen == {
        ("model.created", "hooks.example.com"),
        ("version.created", "hooks.example.com"),
        ("version.status_changed", "hooks.example.com"),
        ("version.status_changed", "other.example.com"),
    }
    assert deliveries(other_model["id"]) == []
    for target, headers, body in receiver.requests:
        secret = everything["secret"] if target.host == "hooks.example.com" else versions_only["secret"]
        assert verify(secret, headers, body)
        assert target.address in ("93.184.216.34", "93.184.216.35")  # the address that was checked
        assert abs(int(headers["webhook-timestamp"]) - clock.now.timestamp()) < 2
    payload = json.loads(next(b for _, _, b in receiver.requests if b"status_changed" in b))
    assert payload["data"]["from"] == "pending" and payload["data"]["to"] == "training"
    assert all(d["status"] == "delivered" and len(d["attempts"]) == 1 for d in deliveries(everything["id"]))


def test_a_redelivered_event_record_creates_no_second_delivery(world: Any):
    clock, receiver, deliverer, stream = world
    hook = webhook()
    create_model("a")
    records = stream.read()
    for record in records + records:
        deliverer.handle(record)
    drain(stream, deliverer)
    assert len(deliveries(hook["id"])) == 2  # model.created and version.created
    assert len({headers["webhook-id"] for _, headers, _ in receiver.requests}) == 2


def test_failures_are_retried_on_the_schedule_under_one_webhook_id_until_delivered(world: Any):
    clock, receiver, deliverer, stream = world
    receiver.statuses = [500, 0, 503]
    hook = webhook(events=["model.created"])
    create_model("a")
    drain(stream, deliverer)
    (pending,) = deliveries(hook["id"])
    assert pending["status"] == "pending" and pending["attempts"][0]["status_code"] == 500
    assert pending["attempts"][0]["response_excerpt"] == "nope"

    clock.advance(4)
    assert deliverer.sweep() == {}  # not due before 5 s
    clock.advance(2)
    assert deliverer.sweep() == {"pending": 1}  # refused connection: next in 5 min
    clock.advance(5 * 60 + 1)
    assert deliverer.sweep() == {"pending": 1}  # 503: next in 30 min
    clock.advance(30 * 60 + 1)
    assert deliverer.sweep() == {"delivered": 1}

    (delivered,) = deliveries(hook["id"])
    assert [a["status_code"] for a in delivered["attempts"]] == [500, None, 503, 200]
    assert "connection refused" in delivered["attempts"][1]["error"]
    assert len({headers["webhook-id"] for _, headers, _ in receiver.requests}) == 1
    assert {headers["webhook-id"] for _, headers, _ in receiver.requests} == {delivered["id"]}
    assert len({body for _, _, body in receiver.requests}) == 1  # the same body every time


def test_after_the_last_retry_a_delivery_fails_and_can_be_redriven_under_the_same_id(world: Any):
    clock, receiver, deliverer, stream = world
    receiver.statuses = [500] * 7
    hook = webhook(events=["model.created"])
    create_model("a")
    drain(stream, deliverer)
    for step in DeliveryPolicy().retry_after:
        clock.advance(step.total_seconds() + 1)
        deliverer.sweep()
    (failed,) = deliveries(hook["id"])
    assert failed["status"] == "failed" and len(failed["attempts"]) == 7 and failed["next_attempt_at"] is None
    clock.advance(24 * 3600)
    assert deliverer.sweep() == {}

    status, body, _ = call("retry_webhook_delivery", webhook_id=hook["id"], delivery_id=failed["id"])
    assert status == 202 and body["delivery"]["status"] == "pending", body
    drain(stream, deliverer)  # the redrive's record is due now: sent at once

    (delivered,) = deliveries(hook["id"])
    assert delivered["status"] == "delivered" and len(delivered["attempts"]) == 8
    assert {headers["webhook-id"] for _, headers, _ in receiver.requests} == {failed["id"]}
    status, body, _ = call("retry_webhook_delivery", webhook_id=hook["id"], delivery_id=failed["id"])
    assert status == 409, body


def test_an_endpoint_failing_everything_for_three_days_is_disabled_with_the_reason(world: Any):
    clock, receiver, deliverer, stream = world
    receiver.statuses = [500] * 100
    hook = webhook(events=["model.created"])
    for day in range(4):
        create_model(f"m{day}")
        drain(stream, deliverer)
        clock.advance(24 * 3600 + 1)
        deliverer.sweep()
    status, body, _ = call("get_webhook", webhook_id=hook["id"])
    assert body["webhook"]["status"] == "disabled"
    assert "disabled after 3 days" in body["webhook"]["disabled_reason"]
    assert deliverer.take_counts()["endpoint disabled"] == 1  # the metric its alarm watches
    sent = len(receiver.requests)
    create_model("late")
    drain(stream, deliverer)
    assert len(receiver.requests) == sent  # a disabled endpoint is sent nothing

    status, body, _ = call("update_webhook", webhook_id=hook["id"], body={"status": "active"})
    assert body["webhook"]["status"] == "active" and body["webhook"]["failing_since"] is None


def test_a_name_that_rebinds_to_an_internal_address_is_refused_at_delivery(world: Any):
    clock, receiver, deliverer, stream = world
    hook = webhook("https://other.example.com/in", events=["model.created"])
    NAMES["other.example.com"] = ["169.254.169.254"]
    try:
        create_model("a")
        drain(stream, deliverer)
    finally:
        NAMES["other.example.com"] = ["93.184.216.35"]
    assert receiver.requests == []
    (refused,) = deliveries(hook["id"])
    assert "metadata" in refused["attempts"][0]["error"] and refused["status"] == "pending"


def test_a_ping_goes_to_its_webhook_alone(world: Any):
    clock, receiver, deliverer, stream = world
    pinged, other = webhook(), webhook()
    assert call("ping_webhook", webhook_id=pinged["id"])[0] == 202
    drain(stream, deliverer)
    assert [json.loads(body)["type"] for _, _, body in receiver.requests] == ["ping"]
    assert deliveries(other["id"]) == []
    assert deliveries(pinged["id"])[0]["payload"]["data"]["webhook_id"] == pinged["id"]


def test_a_workspace_webhook_never_sees_another_workspaces_events_and_a_star_one_sees_all(world: Any):
    clock, receiver, deliverer, stream = world
    mine = webhook()
    event = event_for("create_webhook", body={"url": "https://other.example.com/all", "events": ["model.created"],
                                              "workspace": "*"})  # fmt: skip
    with_claims(event, scope="models:write pie:admin")
    status, star, _ = invoke("create_webhook", event)
    assert status == 201, star
    model = event_for("create_model", body={**json.loads(event_for("create_model")["body"]), "id": "t",
                                            "workspace": "team"})  # fmt: skip
    with_claims(model, scope="models:write pie:admin")
    assert invoke("create_model", model)[0] == 201
    drain(stream, deliverer)
    assert deliveries(mine["id"]) == []
    assert [d["payload"]["data"]["workspace"] for d in deliveries(star["webhook"]["id"])] == ["team"]


def test_delivery_items_carry_no_secret(world: Any, table: Any):
    clock, receiver, deliverer, stream = world
    hook = webhook()
    create_model("a")
    drain(stream, deliverer)
    items = [i for i in table.scan(TableName="pie-local")["Items"] if DELIVERIES.holds(i)]
    assert items and all(hook["secret"] not in json.dumps(item) for item in items)


def test_the_delivery_log_pages_newest_first_and_filters_by_status(world: Any):
    clock, receiver, deliverer, stream = world
    receiver.statuses = [500, 200, 500, 200, 500]
    hook = webhook(events=["model.created"])
    for n in range(5):
        create_model(f"m{n}")
        drain(stream, deliverer)
    everything = deliveries(hook["id"])
    assert [d["payload"]["data"]["model_id"] for d in everything] == ["m4", "m3", "m2", "m1", "m0"]

    seen, token = [], None
    while True:
        query = {"status": "pending", "limit": "1", **({"next_token": token} if token else {})}
        status, body, _ = call("list_webhook_deliveries", webhook_id=hook["id"], query=query)
        assert status == 200, body
        seen += [d["payload"]["data"]["model_id"] for d in body["deliveries"]]
        token = body["next_token"]
        if token is None:
            break
    assert seen == ["m4", "m2", "m0"]
    first = call("list_webhook_deliveries", webhook_id=hook["id"], query={"limit": "1"})[1]
    other = webhook()["id"]
    status, body, _ = call("list_webhook_deliveries", webhook_id=other, query={"next_token": first["next_token"]})
    assert status == 400, body  # a token of another webhook's log

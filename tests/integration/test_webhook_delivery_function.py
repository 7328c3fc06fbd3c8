"""functions/deliver_webhooks, the deployed webhook delivery function, on the embedded table: stream
batches fan events out, send new deliveries and put every event on the EventBridge bus in calls of
at most ten entries; a bus that fails gives the batch back from its first record, whose retry
creates nothing twice; the scheduled invocation sweeps due retries. The receiver is a real HTTP
server on loopback; the bus is a stand-in client (nothing leaves this machine)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from shared import runtime
from tests.conftest import LambdaContext, load_event
from tests.integration.api_events import call, create_model
from tests.integration.job_helpers import table_stream

BUS = "pie-events-test"


class Receiver:
    """A loopback HTTP endpoint answering the statuses it is given, in order (then 204)."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.received.append((dict(self.headers.items()), json.loads(body)))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


class Bus:
    """An EventBridge client stand-in: records each PutEvents call; fails the calls it is told to."""

    def __init__(self) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.fail_calls: set[int] = set()

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Entries)
        if len(self.calls) in self.fail_calls:
            return {
                "FailedEntryCount": 1,
                "Entries": [{"ErrorCode": "ThrottlingException"}] + [{}] * (len(Entries) - 1),
            }
        return {"FailedEntryCount": 0, "Entries": [{"EventId": str(i)} for i in range(len(Entries))]}

    def put(self) -> list[dict[str, Any]]:
        """Every entry of every successful call."""
        return [entry for number, call in enumerate(self.calls, 1) if number not in self.fail_calls for entry in call]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def bus(table: Any, monkeypatch: pytest.MonkeyPatch) -> Bus:
    monkeypatch.setenv("PIE_EVENT_BUS_NAME", BUS)
    monkeypatch.setenv("PIE_WEBHOOK_BACKOFF_SCALE", "0.0001")  # first retry after 0.5 ms
    bus = Bus()
    runtime.use_stand_in("events", bus)
    return bus


def deliver(records: list[dict[str, Any]]) -> dict[str, Any]:
    from functions.deliver_webhooks.handler import lambda_handler

    return lambda_handler({"Records": records}, LambdaContext())


def webhook(url: str) -> dict[str, Any]:
    status, body, _ = call("create_webhook", body={"url": url, "events": ["*"]})
    assert status == 201, body
    return body["webhook"]


def deliveries(webhook_id: str) -> list[dict[str, Any]]:
    status, body, _ = call("list_webhook_deliveries", webhook_id=webhook_id)
    assert status == 200, body
    return body["deliveries"]


def event_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r for r in records if r["eventName"] == "INSERT" and r["dynamodb"]["NewImage"]["entity_type"]["S"] == "EVENT"
    ]


def test_a_batch_fans_out_sends_and_puts_every_event_on_the_bus_ten_at_most_per_call(receiver: Receiver, bus: Bus):
    hook = webhook(receiver.url)
    stream = table_stream()
    stream.read()
    for name in "abcdef":
        create_model(name)  # model.created and version.created each: 12 events
    records = stream.read()
    assert len(event_records(records)) == 12

    assert deliver(records) == {"batchItemFailures": []}
    assert deliver(stream.read()) == {"batchItemFailures": []}  # the new deliveries, sent at once

    assert [len(call) for call in bus.calls] == [10, 2]
    put = bus.put()
    assert {entry["Source"] for entry in put} == {"pie"} and {entry["EventBusName"] for entry in put} == {BUS}
    details = [json.loads(entry["Detail"]) for entry in put]
    assert [entry["DetailType"] for entry in put] == [detail["type"] for detail in details]
    assert sorted(d["type"] for d in details) == ["model.created"] * 6 + ["version.created"] * 6
    sent = {headers["webhook-id"]: body for headers, body in receiver.received}
    assert len(sent) == 12 and all(d["status"] == "delivered" for d in deliveries(hook["id"]))
    # The bus and the webhooks carry one payload per event; the bus adds the event's id.
    assert sorted(json.dumps({k: v for k, v in d.items() if k != "id"}, sort_keys=True) for d in details) == sorted(
        json.dumps(body, sort_keys=True) for body in sent.values()
    )


def test_a_failed_put_gives_the_batch_back_from_its_first_record_and_the_retry_creates_nothing_twice(
    receiver: Receiver, bus: Bus
):
    hook = webhook(receiver.url)
    stream = table_stream()
    stream.read()
    for name in "abcdef":
        create_model(name)
    records = event_records(stream.read())
    bus.fail_calls = {2}  # the second call (events 11 and 12) is refused

    answer = deliver(records)

    assert answer == {"batchItemFailures": [{"itemIdentifier": records[10]["dynamodb"]["SequenceNumber"]}]}
    assert deliver(records[10:]) == {"batchItemFailures": []}  # the event source retries from there
    deliver(stream.read())
    types = sorted(json.loads(entry["Detail"])["type"] for entry in bus.put())
    assert types == ["model.created"] * 6 + ["version.created"] * 6
    assert len(deliveries(hook["id"])) == 12  # the retried records' fan-out created none again
    assert len({headers["webhook-id"] for headers, _ in receiver.received}) == 12


def emitted_metrics(output: str) -> dict[str, float]:
    """The metrics of the EMF lines Powertools printed: ``{name: sum}``."""
    found: dict[str, float] = {}
    for line in output.splitlines():
        if '"CloudWatchMetrics"' in line:
            document = json.loads(line)
            for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                found[metric["Name"]] = found.get(metric["Name"], 0) + sum(document[metric["Name"]])
    return found


def test_the_scheduled_invocation_sends_the_retries_that_are_due(
    receiver: Receiver, bus: Bus, capsys: pytest.CaptureFixture[str]
):
    from functions.deliver_webhooks.handler import lambda_handler

    hook = webhook(receiver.url)
    receiver.statuses = [503]
    stream = table_stream()
    stream.read()
    create_model("a")
    deliver(event_records(stream.read()))
    deliver(stream.read())
    assert sorted(d["status"] for d in deliveries(hook["id"])) == ["delivered", "pending"]
    time.sleep(1.1)  # the claim of the failed attempt runs out (one second at this scale)
    capsys.readouterr()

    answer = lambda_handler(load_event("deliver_webhooks_sweep"), LambdaContext())

    assert answer["outcomes"] == {"delivered": 1}
    # Every metric every time, zeros included: an alarm sees a quiet minute as 0, not missing data.
    assert emitted_metrics(capsys.readouterr().out) == {
        "WebhookDeliveriesDelivered": 1,
        "WebhookDeliveriesFailed": 0,
        "WebhookAttemptsFailed": 0,
        "WebhookEndpointsDisabled": 0,
        "WebhookDeliveryErrors": 0,
        "EventsPutOnBus": 0,
    }
    assert {d["status"] for d in deliveries(hook["id"])} == {"delivered"}
    (retried,) = [d for d in deliveries(hook["id"]) if len(d["attempts"]) == 2]
    assert [a["status_code"] for a in retried["attempts"]] == [503, 204]


def test_without_a_bus_name_nothing_is_put_and_delivery_goes_on(receiver: Receiver, bus: Bus, monkeypatch: Any):
    monkeypatch.delenv("PIE_EVENT_BUS_NAME")
    runtime.reset()
    runtime.use_stand_in("events", bus)
    webhook(receiver.url)
    stream = table_stream()
    stream.read()
    create_model("a")
    assert deliver(event_records(stream.read())) == {"batchItemFailures": []}
    deliver(stream.read())
    assert bus.calls == [] and len(receiver.received) == 2


def test_a_batch_reads_each_workspaces_endpoints_once_not_twice_per_event(receiver: Receiver, bus: Bus):
    from shared.data import keys

    hook = webhook(receiver.url)
    stream = table_stream()
    stream.read()
    for name in "abcdef":
        create_model(name)
    records = stream.read()
    assert len(event_records(records)) == 12
    endpoint_reads: list[dict[str, Any]] = []

    def note(params: dict[str, Any], **_: Any) -> None:
        values = json.loads(params["body"]).get("ExpressionAttributeValues", {})
        if values.get(":pk") == {"S": keys.all_webhooks_partition()}:
            endpoint_reads.append(params)

    runtime.dynamodb_client().meta.events.register("before-call.dynamodb.Query", note)

    assert deliver(records) == {"batchItemFailures": []}
    assert len(endpoint_reads) == 2  # the events' workspace and every workspace ("*"), once each
    assert deliver(records) == {"batchItemFailures": []}  # a redelivered batch reads them again ...
    assert len(endpoint_reads) == 4
    assert deliver(stream.read()) == {"batchItemFailures": []}
    assert len({headers["webhook-id"] for headers, _ in receiver.received}) == 12  # ... and creates nothing twice
    assert len(deliveries(hook["id"])) == 12


def _partition_items(webhook_id: str) -> list[dict[str, Any]]:
    from shared.data import keys

    return runtime.dynamodb_client().query(
        TableName=runtime.api_settings().table_name,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.webhook_partition(webhook_id)}},
        ConsistentRead=True,
    )["Items"]


def _batch_with_an_attempt_between_events(receiver: Receiver) -> tuple[dict[str, Any], dict[str, Any], list]:
    """Webhooks A and B (every event), and a batch: model z's events, the deliveries of model a's
    events (attempted as they come), then model b's events."""
    first, second = webhook(receiver.url + "A"), webhook(receiver.url + "B")
    stream = table_stream()
    stream.read()
    create_model("a")
    a_events = stream.read()
    create_model("z")
    assert deliver(a_events) == {"batchItemFailures": []}  # a's deliveries: written after z's events
    create_model("b")
    return first, second, stream.read()


def _during_the_first_send_to(path_end: str, action: Any) -> None:
    deliverer = runtime.webhook_deliverer()
    send, done = deliverer._send, []

    def sending(target: Any, *args: Any) -> Any:
        if not done and target.path.endswith(path_end):
            done.append(True)
            action()
        return send(target, *args)

    deliverer._send = sending


@pytest.mark.parametrize("change", ["deleted", "disabled"])
def test_an_endpoint_deleted_or_disabled_while_a_batch_sends_gets_none_of_the_batchs_later_events(
    receiver: Receiver, bus: Bus, change: str
):
    first, second, batch = _batch_with_an_attempt_between_events(receiver)
    if change == "deleted":
        _during_the_first_send_to("A", lambda: call("delete_webhook", webhook_id=second["id"]))
    else:
        _during_the_first_send_to(
            "A", lambda: call("update_webhook", webhook_id=second["id"], body={"status": "disabled"})
        )

    assert deliver(batch) == {"batchItemFailures": []}

    if change == "deleted":
        assert _partition_items(second["id"]) == []
    else:
        # a's and z's events were fanned out before B was disabled; b's two came after (they made 6).
        assert len(deliveries(second["id"])) == 4
    assert len(deliveries(first["id"])) == 6  # a's, z's and b's events


def test_a_delivery_whose_webhook_was_deleted_is_dropped_not_swept_for_ever(receiver: Receiver, bus: Bus):
    from shared.dispatch.webhooks import event_of
    from shared.domain import webhooks as rules

    hook = webhook(receiver.url)
    stream = table_stream()
    stream.read()
    create_model("a")
    events = [event_of(record) for record in event_records(stream.read())]
    read_before = runtime.webhook_store().get(hook["id"]).webhook
    call("delete_webhook", webhook_id=hook["id"])
    # A fan-out that read the webhook just before the delete writes its deliveries just after it.
    deliverer = runtime.webhook_deliverer()
    for event in events:
        assert event is not None
        assert runtime.webhook_store().create_delivery(rules.new_delivery(read_before, event, deliverer._clock()))
    assert len(_partition_items(hook["id"])) == 2

    assert dict(deliverer.sweep()) == {"webhook gone": 2}
    assert _partition_items(hook["id"]) == []
    assert dict(deliverer.sweep()) == {}

"""Webhooks: deliveries per second to a local receiver, and what an event adds to the write it reports.

- **Deliveries per second.** ``EVENTS`` events are written to a fresh embedded table with one
  endpoint registered (``http://127.0.0.1:<port>``, a threaded HTTP server on loopback that answers
  204). The table's stream is then drained through ``functions/deliver_webhooks`` exactly as the
  deployed event source feeds it (batches of 10): each event is fanned out to a delivery, each new
  delivery is signed, POSTed over real HTTP and logged. The figure is events delivered per second,
  from the first batch to the last delivery recorded, with the DynamoDB calls per delivery; every
  event must arrive once under its own ``webhook-id``.
- **The cost of an event.** ``create_model`` (through its route function) reports two events,
  ``model.created`` and ``version.created``, as items of its own transaction. The same create is
  timed with its events and with them dropped (``Write.reporting`` patched to report nothing),
  alternating, on fresh ids: the DynamoDB calls (one ``TransactWriteItems`` either way), the items
  it writes and the p50 of each.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import statistics
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.calls import counted_calls
from bench.environment import LambdaContext
from bench.report import Figure
from bench.world import route_event
from pie_local.settings import LOCAL_TABLE_NAME
from pie_local.table.dynamodb import embedded_dynamodb, table_changes
from pie_local.table.stream import TableStream
from shared import runtime
from shared.data import save
from shared.domain import events
from shared.domain.entities import Model

SECTION = "webhooks"
EVENTS = 300
STREAM_BATCH = 10  # as the deployed event source mapping (infra/constructs/webhook_delivery.py)
# Per second, one process, on the embedded table: most of a delivery's time is its six calls to
# the embedded (moto) DynamoDB, which the figure's details separate out (seconds_inside_dynamodb).
DELIVERIES_BUDGET = 5.0
WRITES = 60


class Receiver:
    """A loopback endpoint that answers 204 and keeps each request's ``webhook-id``."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.last_at = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["content-length"]))
                receiver.ids.append(self.headers["webhook-id"])
                receiver.last_at = time.perf_counter()
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@contextlib.contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def measure(events_count: int = EVENTS, writes: int = WRITES) -> tuple[list[Figure], dict[str, Any]]:
    throughput = _deliveries_per_second(events_count)
    cost = _event_cost(writes)
    figures = [
        Figure(
            SECTION,
            "deliveries per second (stream -> fan-out -> signed POST on loopback)",
            f"{throughput['per_second']:.1f}/s ({throughput['delivered']} of {events_count} in "
            f"{throughput['seconds']:.2f} s, {throughput['seconds_inside_dynamodb']:.2f} s of it in the embedded "
            f"DynamoDB; {throughput['dynamodb_calls_per_delivery']:.1f} calls each)",
            f">= {DELIVERIES_BUDGET:.0f}/s, every event once",
            throughput["per_second"] >= DELIVERIES_BUDGET and throughput["exactly_once"],
            throughput,
        ),
        Figure(
            SECTION,
            "an event's added DynamoDB cost to a write (create_model: 2 events)",
            f"{cost['with']['calls']} vs {cost['without']['calls']} calls, "
            f"{cost['with']['items']} vs {cost['without']['items']} items in its transaction",
            "no added call; one item per event",
            cost["with"]["calls"] == cost["without"]["calls"] and cost["with"]["items"] == cost["without"]["items"] + 2,
            cost,
        ),
        Figure(
            SECTION,
            "create_model p50 with its events vs without (embedded table)",
            f"{cost['with']['p50_ms']:.2f} ms vs {cost['without']['p50_ms']:.2f} ms ({cost['p50_ratio']:.2f}x)",
            data=cost,
        ),
    ]
    return figures, {"throughput": throughput, "event_cost": cost}


def _deliveries_per_second(count: int) -> dict[str, Any]:
    handler = importlib.import_module("functions.deliver_webhooks.handler").lambda_handler
    with embedded_dynamodb(LOCAL_TABLE_NAME), receiving() as receiver:
        runtime.reset()
        status = _call("create_webhook", {"url": receiver.url, "events": ["*"]})
        assert status == 201, status
        stream = TableStream(table_changes(LOCAL_TABLE_NAME))
        stream.read(10_000)
        store = runtime.webhook_store()
        now = datetime.now(UTC)
        for index in range(count):
            model = Model.model_construct(id=f"model-{index:05d}", workspace="default")
            store.put_event(events.model_deleted(model, now))
        batches = 0
        with counted_calls(runtime.dynamodb_client()) as calls:
            started = time.perf_counter()
            while records := stream.read(STREAM_BATCH):
                answer = handler({"Records": records}, LambdaContext())
                assert answer == {"batchItemFailures": []}, answer
                batches += 1
            finished = max(receiver.last_at, time.perf_counter())
        seconds = finished - started
        delivered = len(set(receiver.ids))
    runtime.reset()
    return {
        "events": count,
        "delivered": delivered,
        "exactly_once": delivered == count == len(receiver.ids),
        "seconds": round(seconds, 3),
        "per_second": round(delivered / seconds, 1),
        "stream_batches": batches,
        "dynamodb_calls": dict(calls.operations),
        "dynamodb_calls_per_delivery": round(calls.total / max(delivered, 1), 2),
        "seconds_inside_dynamodb": round(calls.seconds_inside, 3),
    }


def _event_cost(writes: int) -> dict[str, Any]:
    handler = importlib.import_module("functions.create_model.handler").lambda_handler
    body = json.loads(route_event("create_model")["body"])
    samples: dict[str, list[float]] = {"with": [], "without": []}
    counted: dict[str, dict[str, int]] = {}
    with embedded_dynamodb(LOCAL_TABLE_NAME):
        runtime.reset()
        for run in range(writes + 1):
            for mode in ("with", "without") if run % 2 else ("without", "with"):
                event = route_event("create_model", body={**body, "id": f"cost-{mode}-{run:04d}"})
                with _events_dropped(mode == "without"), _written_items(runtime.dynamodb_client()) as items:
                    with counted_calls(runtime.dynamodb_client()) as calls:
                        started = time.perf_counter()
                        response = handler(event, LambdaContext())
                        elapsed = (time.perf_counter() - started) * 1000
                assert response["statusCode"] == 201, response
                if run:  # the first of each warms the path
                    samples[mode].append(elapsed)
                counted[mode] = {"calls": calls.total, "items": items["written"]}
    runtime.reset()
    found = {mode: {**counted[mode], "p50_ms": round(statistics.median(samples[mode]), 3)} for mode in samples}
    return {**found, "writes": writes, "p50_ratio": round(found["with"]["p50_ms"] / found["without"]["p50_ms"], 3)}


def _call(function: str, body: Any) -> int:
    handler = importlib.import_module(f"functions.{function}.handler").lambda_handler
    return handler(route_event(function, body=body), LambdaContext())["statusCode"]


@contextlib.contextmanager
def _events_dropped(dropped: bool) -> Iterator[None]:
    """Writes report no events inside the block (when ``dropped``): the write as it was before events."""
    if not dropped:
        yield
        return
    original = save.Write.reporting
    save.Write.reporting = lambda self, *reported: self  # type: ignore[method-assign]
    try:
        yield
    finally:
        save.Write.reporting = original  # type: ignore[method-assign]


@contextlib.contextmanager
def _written_items(client: Any) -> Iterator[dict[str, int]]:
    """Items put, updated or deleted by the client's writes inside the block."""
    counts = {"written": 0}

    def count(params: dict[str, Any], **_: Any) -> None:
        if "TransactItems" in params:
            counts["written"] += len(params["TransactItems"])
        elif "RequestItems" in params:
            counts["written"] += sum(len(requests) for requests in params["RequestItems"].values())
        elif "Item" in params or "Key" in params and "UpdateExpression" in params:
            counts["written"] += 1

    events_ = client.meta.events
    events_.register("provide-client-params.dynamodb", count, unique_id="bench-webhooks-items")
    try:
        yield counts
    finally:
        events_.unregister("provide-client-params.dynamodb", unique_id="bench-webhooks-items")

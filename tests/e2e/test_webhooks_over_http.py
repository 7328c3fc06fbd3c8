"""Webhooks end to end (SPEC part three, "Outbound events"): ``pie-local serve`` delivers with real
HTTP to a receiver on loopback that fails the first attempts, goes down for a while and comes back;
every event arrives, each under one ``webhook-id``, and every signature verifies with the SDK's
helper and with an implementation of the Standard Webhooks specification written here. Killing ``pie-local`` (kill -9)
with deliveries pending loses none. Retries are fast (``--webhook-backoff-scale``); all traffic is
on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pie_client import webhooks
from tests.e2e.client import Api, mint
from tests.e2e.documents import model_document, unique_id
from tests.e2e.local_server import LocalServer, start_server, stop_server

FAST = ("--webhook-backoff-scale", "0.001", "--webhook-sweep-seconds", "0.2")
DEADLINE_SECONDS = 60


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300) -> bool:
    """Standard Webhooks verification, from the specification: HMAC-SHA256 keyed by the base64
    secret after ``whsec_``, over ``{id}.{timestamp}.{body}``, compared in constant time with each
    ``v1,`` signature of the header; a timestamp too far from now is refused."""
    if abs(time.time() - int(headers["webhook-timestamp"])) > tolerance:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    for candidate in headers["webhook-signature"].split():
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(expected, signature.encode()):
            return True
    return False


class Receiver:
    """An HTTP receiver on a fixed loopback port: answers 500 to the first ``failures`` requests,
    can go down (its port closed: connections refused) and come back on the same port."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[tuple[dict[str, str], bytes, int]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                with receiver._lock:
                    status = 500 if receiver.failures > 0 else 204
                    receiver.failures -= 1
                    receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def delivered(self) -> dict[str, list[tuple[dict[str, str], bytes]]]:
        """Requests answered 2xx, by webhook-id."""
        with self._lock:
            found: dict[str, list[tuple[dict[str, str], bytes]]] = {}
            for headers, body, status in self.received:
                if status < 300:
                    found.setdefault(headers["webhook-id"], []).append((headers, body))
            return found

    def attempts(self) -> list[tuple[dict[str, str], bytes, int]]:
        with self._lock:
            return list(self.received)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiving = Receiver()
    yield receiving
    receiving.down()


def serve(home: Path) -> tuple[LocalServer, Api]:
    server = start_server(home, home.parent / f"serve-{time.monotonic_ns()}.log", *FAST)
    return server, Api(server.url, mint(home))


def make_events(api: Api, count_models: int) -> int:
    """Changes that write events; returns how many events they write."""
    events = 0
    for _ in range(count_models):
        model_id = unique_id("hook")
        assert api.post("/v2/models", model_document(model_id)).status == 201
        events += 2  # model.created, version.created
        for status in ("training", "active"):
            reply = api.post(f"/v2/models/{model_id}/versions/1/new_status", {"status": status})
            assert reply.status == 200, reply.body
            events += 1  # version.status_changed
    return events


def wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def check_every_event_once(receiver: Receiver, secret: str, expected: int) -> None:
    delivered = receiver.delivered()
    assert len(delivered) == expected
    bodies = [json.loads(requests[0][1]) for requests in delivered.values()]
    identities = {json.dumps(body, sort_keys=True) for body in bodies}
    assert len(identities) == expected  # each event under one webhook-id, never two
    for requests in delivered.values():
        assert len({body for _, body in requests}) == 1
    for headers, body, _ in receiver.attempts():
        assert verify(secret, headers, body), headers["webhook-id"]
        assert webhooks.verify(body, headers, secret) == json.loads(body)  # and with the SDK's helper
        assert headers["content-type"] == "application/json"


def test_a_receiver_that_fails_goes_down_and_comes_back_gets_every_event_once_signed(
    tmp_path: Path, receiver: Receiver
):
    home = tmp_path / ".pie-local"
    server, api = serve(home)
    try:
        receiver.failures = 3
        receiver.up()
        created = api.post("/v2/webhooks", {"url": receiver.url, "events": ["*"]})
        assert created.status == 201, created.body
        webhook = created.json["webhook"]
        expected = make_events(api, 2)
        wait_for(lambda: len(receiver.attempts()) >= 3, "the first failed attempts")
        receiver.down()
        expected += make_events(api, 1)  # written while the receiver is down
        time.sleep(2)
        receiver.up()

        wait_for(lambda: len(receiver.delivered()) >= expected, "every event delivered")
        time.sleep(0.5)  # nothing more may come
        check_every_event_once(receiver, webhook["secret"], expected)
        assert sum(1 for *_, status in receiver.attempts() if status >= 500) == 3

        def logged() -> Any:
            log = api.get(f"/v2/webhooks/{webhook['id']}/deliveries?limit=100")
            assert log.status == 200, log.body
            return log if {d["status"] for d in log.json["deliveries"]} == {"delivered"} else None

        # The receiver answers before PIE records the answer: the log catches up, it never disagrees.
        wait_for(logged, "the delivery log to record every answer")
        log = logged()
        assert {d["id"] for d in log.json["deliveries"]} == set(receiver.delivered())
        retried = [d for d in log.json["deliveries"] if len(d["attempts"]) > 1]
        assert retried and all(d["attempts"][-1]["status_code"] == 204 for d in retried)
        assert webhook["secret"] not in server.log.read_text()
    finally:
        stop_server(server)


def test_killing_pie_local_with_deliveries_pending_loses_none(tmp_path: Path, receiver: Receiver):
    home = tmp_path / ".pie-local"
    server, api = serve(home)
    try:
        created = api.post("/v2/webhooks", {"url": receiver.url, "events": ["*"]})
        assert created.status == 201, created.body
        webhook = created.json["webhook"]
        expected = make_events(api, 3)  # the receiver is down: every delivery is pending
        log = api.get(f"/v2/webhooks/{webhook['id']}/deliveries?limit=100")
        assert log.status == 200 and all(d["status"] == "pending" for d in log.json["deliveries"]), log.body
    finally:
        server.process.kill()  # kill -9: no shutdown of any kind
        server.process.wait()

    receiver.up()
    server, api = serve(home)
    try:
        wait_for(lambda: len(receiver.delivered()) >= expected, "every event delivered after the restart")
        time.sleep(0.5)
        check_every_event_once(receiver, webhook["secret"], expected)
    finally:
        stop_server(server)

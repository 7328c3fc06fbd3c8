"""Webhook delivery after a receiver outage, PIE against MLflow 3's registry webhooks (a phase of
``bench.mlflow_peer``, run on the same two servers).

Each peer gets one webhook for "a model was created" (PIE: ``model.created``; MLflow:
``registered_model.created``) pointing at ``http://127.0.0.1:<port>/hook``, a port on which nothing
listens yet: the receiver is down, every connection is refused. ``EVENTS`` models are created on
each, then the receiver comes up ``OUTAGE_SECONDS`` after the first one, and the phase counts the
distinct deliveries it receives (PIE: ``webhook-id``; MLflow: ``X-MLflow-Delivery-Id``) until all
have arrived or ``WAIT_SECONDS`` have passed since it came back.

Both run on their default, shipped retry schedules: PIE retries after 5 s, 5 min, 30 min, 2 h, 5 h,
10 h (so after a 30 s outage its next attempt is at about 5 min 5 s); MLflow retries a request
three times with exponential backoff (1 s, 2 s, 4 s) inside the request, then logs and drops it.
MLflow's server is told to allow http and loopback targets (``MLFLOW_WEBHOOK_ALLOWED_SCHEMES``,
``MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS``), as pie-local allows them locally.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EVENTS = 10
OUTAGE_SECONDS = 30.0
WAIT_SECONDS = 330.0  # PIE's second retry comes 5 min after its first
MLFLOW_ENVIRONMENT = {"MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https", "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true"}
ID_HEADERS = ("webhook-id", "x-mlflow-delivery-id")


class Receiver:
    """Distinct deliveries received on ``port`` once ``start`` is called (before: nothing listens)."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.ids: set[str] = set()
        self.requests = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                found = next((self.headers[name] for name in ID_HEADERS if self.headers.get(name)), None)
                with receiver._lock:
                    receiver.requests += 1
                    receiver.ids.add(found or body.decode(errors="replace"))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(self.address, Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def delivered(self) -> int:
        with self._lock:
            return len(self.ids)


def pie_subscribe(pie: Any, url: str) -> None:
    pie.expect(201, "POST", "/v2/webhooks", {"url": url, "events": ["model.created"]})


def mlflow_subscribe(mlflow: Any, url: str) -> None:
    body = {"name": "outage", "url": url, "events": [{"entity": "REGISTERED_MODEL", "action": "CREATED"}]}
    mlflow.expect(200, "POST", "/api/2.0/mlflow/webhooks", body)


def after_outage(
    peer: Any,
    subscribe: Callable[[Any, str], None],
    port: int,
    host: str,
    log: Callable[[str], None],
    outage_seconds: float = OUTAGE_SECONDS,
    wait_seconds: float = WAIT_SECONDS,
) -> dict[str, Any]:
    """Subscribe, create ``EVENTS`` models with the receiver down, bring it up after the outage,
    and count what arrives."""
    receiver = Receiver(host, port)
    subscribe(peer, f"http://{host}:{port}/hook")
    began = time.monotonic()
    for index in range(EVENTS):
        peer.create_model(f"outage-{index:02d}")
    time.sleep(max(0.0, began + outage_seconds - time.monotonic()))
    receiver.start()
    back = time.monotonic()
    log(f"{peer.name}: receiver up after {back - began:.0f} s")
    try:
        while receiver.delivered < EVENTS and time.monotonic() < back + wait_seconds:
            time.sleep(0.5)
        all_at = time.monotonic() - back if receiver.delivered >= EVENTS else None
        return {
            "events": EVENTS,
            "delivered": receiver.delivered,
            "requests": receiver.requests,
            "outage_seconds": round(back - began, 1),
            "waited_seconds": round(time.monotonic() - back, 1),
            "all_delivered_after_seconds": None if all_at is None else round(all_at, 1),
        }
    finally:
        receiver.stop()


def side_by_side(
    pie: Any,
    mlflow: Any,
    free_port: Callable[[], int],
    host: str,
    log: Callable[[str], None],
    outage_seconds: float = OUTAGE_SECONDS,
    wait_seconds: float = WAIT_SECONDS,
) -> dict[str, dict[str, Any]]:
    """Both peers at once (each its own receiver and port): the wall time is PIE's wait alone."""
    found: dict[str, dict[str, Any]] = {}
    errors: list[BaseException] = []

    def one(peer: Any, subscribe: Callable[[Any, str], None]) -> None:
        try:
            found[peer.name] = after_outage(peer, subscribe, free_port(), host, log, outage_seconds, wait_seconds)
        except BaseException as error:  # reported by the caller's thread
            errors.append(error)

    threads = [
        threading.Thread(target=one, args=(pie, pie_subscribe)),
        threading.Thread(target=one, args=(mlflow, mlflow_subscribe)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return found

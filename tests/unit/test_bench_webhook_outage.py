"""bench/webhook_outage.py's harness on loopback: nothing listens during the outage, and what a
peer delivers once the receiver is back is counted once per delivery id."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from typing import Any

from bench import webhook_outage

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class Peer:
    """Sends each event to the subscribed URL, once or until it is taken (every 0.1 s)."""

    def __init__(self, name: str, retries: bool) -> None:
        self.name = name
        self.retries = retries
        self.url = ""
        self.threads: list[threading.Thread] = []

    def create_model(self, name: str) -> None:
        thread = threading.Thread(target=self._send, args=(name,), daemon=True)
        thread.start()
        self.threads.append(thread)

    def _send(self, name: str) -> None:
        port = int(self.url.rsplit(":", 1)[1].split("/")[0])
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                connection = http.client.HTTPConnection(HOST, port, timeout=2)
                connection.request("POST", "/hook", body=b"{}", headers={"webhook-id": f"msg_{name}"})
                connection.getresponse().read()
                connection.close()
                for _ in range(2):  # a duplicate of a delivered one is not counted again
                    again = http.client.HTTPConnection(HOST, port, timeout=2)
                    again.request("POST", "/hook", body=b"{}", headers={"webhook-id": f"msg_{name}"})
                    again.getresponse().read()
                    again.close()
                return
            except OSError:
                if not self.retries:
                    return
                time.sleep(0.1)


def subscribe(peer: Any, url: str) -> None:
    peer.url = url


def test_a_peer_that_retries_delivers_every_event_after_the_outage_and_one_that_drops_them_none():
    logged: list[str] = []
    retrying = webhook_outage.after_outage(Peer("retrying", True), subscribe, free_port(), HOST, logged.append, 0.5, 3)
    dropping = webhook_outage.after_outage(Peer("dropping", False), subscribe, free_port(), HOST, logged.append, 0.5, 1)

    assert retrying["delivered"] == webhook_outage.EVENTS
    # Counted the moment the last event arrives: another event's duplicates may still be in flight.
    assert webhook_outage.EVENTS <= retrying["requests"] <= 3 * webhook_outage.EVENTS
    assert retrying["all_delivered_after_seconds"] is not None
    assert dropping["delivered"] == 0 and dropping["all_delivered_after_seconds"] is None
    assert retrying["outage_seconds"] >= 0.5


def test_the_receiver_counts_a_delivery_id_once_however_often_it_arrives():
    port = free_port()
    receiver = webhook_outage.Receiver(HOST, port)
    receiver.start()
    try:
        for webhook_id in ("msg_a", "msg_a", "msg_b", "msg_a"):
            connection = http.client.HTTPConnection(HOST, port, timeout=2)
            connection.request("POST", "/hook", body=b"{}", headers={"webhook-id": webhook_id})
            connection.getresponse().read()
            connection.close()
    finally:
        receiver.stop()

    assert (receiver.delivered, receiver.requests) == (2, 4)

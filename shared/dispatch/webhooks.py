"""Webhook delivery: fans each event out to the endpoints that want it, and sends each delivery
until it is delivered or has failed (SPEC.md, "Outbound events").

Fed by the table's stream, as the job dispatcher is:

- a new **event** item (written in its change's transaction) becomes one **delivery** item per
  endpoint that wants it, each created conditionally under an id derived from the event and the
  endpoint: a redelivered record creates nothing twice, and each event reaches each endpoint under
  exactly one ``webhook-id``;
- a **delivery** that is pending and due (new, or made due again by a redrive) is attempted at once.

``sweep`` reads the due index (GSI3, ``HOOKDUE#<shard>``) for pending deliveries whose next attempt
is due — retries, and any delivery whose stream record was lost or whose process died mid-attempt —
so retries survive restarts. An attempt first claims the delivery (a conditional write that pushes
its next attempt ``DeliveryPolicy.claim`` ahead): two workers never send one attempt twice, and a worker
that dies holding a claim only delays the delivery until the claim runs out. Delivery is therefore
at least once per attempt; receivers deduplicate on ``webhook-id``.

Every attempt checks the URL again (SSRF, DNS rebinding) and connects to the address it checked.
The secret is used to sign and never logged; errors name the delivery, never its headers.

Deployed, one function (functions/deliver_webhooks) runs both paths: the stream's batches through
``stream_batch_handler``, which also puts each batch's events on the EventBridge bus
(``shared.dispatch.event_bus``), and the sweep on a schedule. ``WebhookDeliverer.counts`` tallies
what happened for the metrics its alarms watch (``METRICS``).
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.data.entities import EVENTS
from shared.data.errors import StaleEntityError
from shared.data.keys import DELIVERY_DUE_SHARDS
from shared.data.webhook_entities import DELIVERIES, WebhookRecord
from shared.data.webhooks import WebhookStore
from shared.dispatch.event_bus import MAX_ENTRIES, EventBus
from shared.domain import url_safety, webhooks
from shared.domain.errors import UnsafeWebhookUrlError, WebhookNotFoundError
from shared.domain.events import ALL_EVENTS, Event
from shared.domain.webhooks import Attempt, Delivery, DeliveryPolicy
from shared.observability import logger

PAGE_SIZE = 100
MAX_PAGES = 5
# What ``WebhookDeliverer.counts`` tallies, and the metric each is published as (the stack alarms
# on the errors and on endpoints disabled).
METRICS = {
    "delivered": "WebhookDeliveriesDelivered",
    "failed": "WebhookDeliveriesFailed",
    "attempt failed": "WebhookAttemptsFailed",
    "endpoint disabled": "WebhookEndpointsDisabled",
    "error": "WebhookDeliveryErrors",
    "events put": "EventsPutOnBus",
}


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes  # at most the excerpt's length


class Sender(Protocol):
    def __call__(self, target: url_safety.Target, headers: dict[str, str], body: bytes, timeout: float) -> Answer:
        """POST ``body`` to ``target``'s checked address; raises OSError when it cannot."""
        ...


def http_send(target: url_safety.Target, headers: dict[str, str], body: bytes, timeout: float) -> Answer:
    """POST over a connection to the address that was checked (never resolving the name again),
    with the URL's host as ``Host`` (and, over https, as the name the certificate must carry).
    Redirects are not followed: a 3xx is an answer like any other that is not 2xx."""
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = _PinnedHttps(target, timeout)
    else:
        connection = http.client.HTTPConnection(target.address, target.port, timeout=timeout)
    default_port = 443 if target.scheme == "https" else 80
    name = f"[{target.host}]" if ":" in target.host else target.host  # an IPv6 literal
    host = name if target.port == default_port else f"{name}:{target.port}"
    try:
        connection.request("POST", target.path, body=body, headers={**headers, "host": host, "user-agent": "PIE"})
        response = connection.getresponse()
        return Answer(response.status, response.read(webhooks.RESPONSE_EXCERPT_BYTES))
    except (http.client.HTTPException, ssl.SSLError) as error:
        raise OSError(f"{type(error).__name__}: {error}") from None
    finally:
        connection.close()


class _PinnedHttps(http.client.HTTPSConnection):
    def __init__(self, target: url_safety.Target, timeout: float) -> None:
        super().__init__(target.address, target.port, timeout=timeout, context=ssl.create_default_context())
        self._server_name = target.host

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._server_name)  # type: ignore[attr-defined]


class WebhookDeliverer:
    def __init__(
        self,
        store: WebhookStore,
        resolve: url_safety.Resolver,
        clock: Callable[[], datetime],
        policy: DeliveryPolicy,
        send: Sender = http_send,
        allow_loopback: bool = False,
    ) -> None:
        self._store = store
        self._resolve = resolve
        self._clock = clock
        self._policy = policy
        self._send = send
        self._allow_loopback = allow_loopback
        self.counts: Counter[str] = Counter()
        # Within ``one_batch``, per thread: the endpoints read so far, by workspace (``*``: every
        # workspace's). The sweep shares the deliverer from another thread.
        self._batch = threading.local()

    def take_counts(self) -> Counter[str]:
        """What happened since the last call (keys of ``METRICS``), for one metrics flush."""
        counts, self.counts = self.counts, Counter()
        return counts

    # The stream ---------------------------------------------------------------------------------

    @contextmanager
    def one_batch(self) -> Iterator[None]:
        """Within the block (one stream batch), each workspace's endpoints are read once, not twice
        per event: every event of a batch was written before the batch was read, so the endpoints
        read after it include every endpoint that existed when any of its events was written (and
        still exists). They are read again after each delivery the batch attempts (an HTTP call,
        during which an endpoint may be deleted or disabled), and for a retried batch."""
        self._batch.endpoints = {}
        try:
            yield
        finally:
            self._batch.endpoints = None

    def handle(self, record: dict[str, Any]) -> str:
        """One stream record; returns what was done (for logs and tests)."""
        if record.get("eventName") not in ("INSERT", "MODIFY"):
            return "ignored"
        event = event_of(record)
        if event is not None:
            return f"fanned out to {self.fan_out(event)}"
        image = record.get("dynamodb", {}).get("NewImage") or {}
        if DELIVERIES.holds(image) and DELIVERIES.status(image) == "pending":
            delivery = DELIVERIES.decode(image)
            if delivery.next_attempt_at is not None and delivery.next_attempt_at <= self._clock():
                try:
                    return self.attempt(delivery)
                finally:
                    # An attempt is an HTTP call (seconds, with a slow receiver) and may disable its
                    # endpoint: the batch's later events read the endpoints again.
                    self._forget_endpoints()
        return "ignored"

    def fan_out(self, event: Event) -> int:
        """One delivery per endpoint that wants ``event``, each created at most once; returns how
        many this call created."""
        now = self._clock()
        created = 0
        for record in self._receiving(event):
            if webhooks.wants(record.webhook, event):
                created += self._store.create_delivery(webhooks.new_delivery(record.webhook, event, now))
        return created

    def _forget_endpoints(self) -> None:
        if getattr(self._batch, "endpoints", None) is not None:
            self._batch.endpoints = {}

    def _receiving(self, event: Event) -> list[WebhookRecord]:
        read: dict[str | None, list[WebhookRecord]] | None = getattr(self._batch, "endpoints", None)
        if read is None:
            return self._store.receiving(event)
        for workspace in (event.workspace, ALL_EVENTS):
            if workspace not in read:
                read[workspace] = self._store.of_workspace(workspace)
        return [*read[event.workspace], *read[ALL_EVENTS]]

    # The due index ------------------------------------------------------------------------------

    def sweep(self) -> Counter[str]:
        """Attempt every pending delivery that is due (bounded pages per shard; the rest waits)."""
        outcomes: Counter[str] = Counter()
        now = self._clock().isoformat()
        for shard in range(DELIVERY_DUE_SHARDS):
            start: dict[str, Any] | None = None
            for _ in range(MAX_PAGES):
                due, start = self._store.due(shard, now, PAGE_SIZE, start)
                for delivery in due:
                    outcomes[self._attempt_alone(delivery)] += 1
                if start is None:
                    break
        return outcomes

    def _attempt_alone(self, delivery: Delivery) -> str:
        try:
            return self.attempt(delivery)
        except Exception:  # one delivery must never stop the sweep for the others
            logger.exception("webhook delivery attempt failed", extra=_about(delivery))
            self.counts["error"] += 1
            return "error"

    # One attempt --------------------------------------------------------------------------------

    def attempt(self, delivery: Delivery) -> str:
        """Claim the delivery, send it, record the attempt; returns its status after."""
        try:
            record = self._store.get(delivery.webhook_id)
        except WebhookNotFoundError:
            # Created after its webhook was deleted (the delete took the rest of its partition):
            # nothing can send it, and left on the due index it would be swept for ever.
            self._store.delete_delivery(delivery)
            return "webhook gone"
        now = self._clock()
        claimed = delivery.model_copy(
            update={
                "next_attempt_at": now + self._policy.claim,
                "entity_version": delivery.entity_version + 1,
            }
        )
        try:
            self._store.save_delivery(claimed, delivery.entity_version)
        except StaleEntityError:
            return "already claimed"
        attempt, delivered = self._send_once(record, claimed)
        after = webhooks.after_attempt(claimed, attempt, delivered, self._policy)
        if record.webhook.status != "active":  # a disabled endpoint is not retried
            after = after.model_copy(update={"status": "failed", "next_attempt_at": None})
        self._store.save_delivery(after, claimed.entity_version)
        self._note_endpoint(record, delivered, attempt.at)
        if after.status in ("delivered", "failed"):
            self.counts[after.status] += 1
        if not delivered:
            self.counts["attempt failed"] += 1
        log = logger.info if delivered else logger.warning
        log("webhook delivery attempted", extra={**_about(after), "status_code": attempt.status_code})
        return after.status

    def _send_once(self, record: WebhookRecord, delivery: Delivery) -> tuple[Attempt, bool]:
        webhook = record.webhook
        started, at = time.monotonic(), self._clock()
        if webhook.status != "active":
            return Attempt(at=at, duration_ms=0, error=f"the endpoint is disabled: {webhook.disabled_reason}"), False
        body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = int(at.timestamp())
        signing = [record.secret]
        if record.previous_secret is not None and (record.previous_until or "") > at.isoformat():
            signing.append(record.previous_secret)
        try:
            target = url_safety.check(webhook.url, self._resolve, self._allow_loopback)
            answer = self._send(
                target, webhooks.headers(signing, delivery.id, timestamp, body), body, self._policy.timeout_seconds
            )
        except UnsafeWebhookUrlError as refused:
            return Attempt(at=at, duration_ms=_since(started), error=refused.message), False
        except OSError as error:
            text = f"{type(error).__name__}: {error}"[: webhooks.ERROR_LIMIT]
            return Attempt(at=at, duration_ms=_since(started), error=text), False
        delivered = 200 <= answer.status < 300
        return Attempt(
            at=at,
            status_code=answer.status,
            duration_ms=_since(started),
            error=None if delivered else f"answered {answer.status}",
            response_excerpt=webhooks.excerpt(answer.body) or None,
        ), delivered

    def _note_endpoint(self, record: WebhookRecord, delivered: bool, now: datetime) -> None:
        """Keep ``failing_since`` (and disable an endpoint failing for too long); a lost race here
        only defers the note to the next attempt."""
        changed = webhooks.endpoint_after(record.webhook, delivered, now, self._policy)
        if changed is None:
            return
        try:
            self._store.save(WebhookRecord(changed, record.secret, record.previous_secret, record.previous_until),
                             record.webhook.entity_version)  # fmt: skip
        except StaleEntityError:
            return
        if changed.status == "disabled" and record.webhook.status == "active":
            self.counts["endpoint disabled"] += 1
            logger.warning("webhook disabled", extra={"webhook_id": changed.id, "reason": changed.disabled_reason})


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _about(delivery: Delivery) -> dict[str, str]:
    return {"webhook_id": delivery.webhook_id, "delivery_id": delivery.id, "event_type": delivery.event_type}


def event_of(record: dict[str, Any]) -> Event | None:
    """The event a stream record inserts, if it inserts one."""
    image = record.get("dynamodb", {}).get("NewImage") or {}
    if record.get("eventName") == "INSERT" and EVENTS.holds(image):
        return EVENTS.decode(image)
    return None


def stream_batch_handler(
    deliverer: Callable[[], WebhookDeliverer],
    bus: Callable[[], EventBus | None] = lambda: None,
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A stream batch handler answering partial batch failures (as Lambda's event source mapping
    expects): the first record that fails is reported, and retried from there with the records
    after it, in order.

    The events of the records handled are then put on ``bus`` (when there is one) in calls of at
    most ``MAX_ENTRIES``; a call that fails reports its first record, so a bus outage delays the
    batch instead of dropping its events (the fan-out of a retried record creates nothing twice)."""

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        records = event.get("Records", [])
        failed: int | None = None
        handled: list[tuple[int, Event]] = []
        with deliverer().one_batch():
            for index, record in enumerate(records):
                try:
                    deliverer().handle(record)
                    found = event_of(record)
                except Exception:  # reported to the event source, which retries it
                    logger.exception("webhook stream record failed", extra={"event_id": record.get("eventID")})
                    failed = index
                    break
                if found is not None:
                    handled.append((index, found))
        target = bus()
        if target is not None:
            for start in range(0, len(handled), MAX_ENTRIES):
                chunk = handled[start : start + MAX_ENTRIES]
                try:
                    target.put([found for _, found in chunk])
                except Exception:
                    logger.exception("events not put on the event bus", extra={"events": len(chunk)})
                    failed = chunk[0][0]
                    break
                deliverer().counts["events put"] += len(chunk)
        if failed is None:
            return {"batchItemFailures": []}
        deliverer().counts["error"] += 1
        return {"batchItemFailures": [{"itemIdentifier": records[failed]["dynamodb"]["SequenceNumber"]}]}

    return handle


def publish_counts(counts: Counter[str], metrics: Any) -> None:
    """``counts`` (``WebhookDeliverer.take_counts``) as Powertools metrics, zeros included: an
    alarm then sees 0 for a quiet minute rather than missing data (as the job sweeper's do)."""
    from aws_lambda_powertools.metrics import MetricUnit

    for what, name in METRICS.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=counts.get(what, 0))

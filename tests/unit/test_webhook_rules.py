"""Webhook rules (shared.domain.webhooks, shared.domain.events): Standard Webhooks signatures (the
specification's published test vector), one delivery id per (event, endpoint), the retry schedule,
auto-disable, and which endpoint wants which event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain import events
from shared.domain.webhooks import (
    Attempt,
    DeliveryPolicy,
    Webhook,
    after_attempt,
    delivery_id,
    endpoint_after,
    headers,
    new_delivery,
    new_secret,
    sign,
    wants,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def webhook(**changes) -> Webhook:
    return Webhook(
        id="wh_" + "a" * 24, workspace="default", url="https://hooks.example.com/", events=["*"], status="active",
        entity_version=1, created_at=NOW - timedelta(days=1), updated_at=NOW, created_by="me",
    ).model_copy(update=changes)  # fmt: skip


def event(kind: str = "model.deleted", workspace: str = "default", model_id: str | None = "m") -> events.Event:
    return events.Event(id="evt_1", type=kind, timestamp=NOW, workspace=workspace, model_id=model_id, data={})


def test_the_signature_is_the_standard_webhooks_reference_vector():
    signature = sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_rotated_secret_signs_beside_the_new_one():
    old, new = new_secret(), new_secret()
    sent = headers([new, old], "msg_x", 1, b"{}")
    assert sent["webhook-signature"] == f"{sign(new, 'msg_x', 1, b'{}')} {sign(old, 'msg_x', 1, b'{}')}"
    assert sent["webhook-id"] == "msg_x" and sent["webhook-timestamp"] == "1"


def test_a_delivery_id_is_one_per_event_and_endpoint_and_the_same_every_time():
    first = delivery_id("evt_0193a1b2c3d4a1b2c3d4e5f60718", "wh_" + "a" * 24)
    assert first == delivery_id("evt_0193a1b2c3d4a1b2c3d4e5f60718", "wh_" + "a" * 24)
    assert first != delivery_id("evt_0193a1b2c3d4a1b2c3d4e5f60718", "wh_" + "b" * 24)
    assert first.startswith("msg_0193a1b2c3d4")  # ordered by its event's time


def test_failed_attempts_follow_the_schedule_then_fail():
    policy = DeliveryPolicy()
    delivery = new_delivery(webhook(), event(), NOW)
    waits = []
    for _ in range(7):
        at = delivery.next_attempt_at
        delivery = after_attempt(delivery, Attempt(at=at, status_code=500, duration_ms=1), False, policy)
        waits.append(None if delivery.next_attempt_at is None else delivery.next_attempt_at - at)
    assert waits == [*policy.retry_after, None]
    assert delivery.status == "failed" and len(delivery.attempts) == 7


def test_a_scaled_policy_keeps_the_schedules_shape():
    fast = DeliveryPolicy.scaled(0.001)
    assert fast.retry_after[0] == timedelta(milliseconds=5) and fast.disable_after == timedelta(seconds=259.2)


def test_an_endpoint_failing_for_three_days_is_disabled_and_a_success_clears_the_count():
    policy = DeliveryPolicy()
    failing = endpoint_after(webhook(), False, NOW, policy)
    assert failing is not None and failing.failing_since == NOW and failing.status == "active"
    assert endpoint_after(failing, False, NOW + timedelta(days=2), policy) is None
    disabled = endpoint_after(failing, False, NOW + timedelta(days=3), policy)
    assert disabled is not None and disabled.status == "disabled" and "3 days" in disabled.disabled_reason
    healed = endpoint_after(failing, True, NOW, policy)
    assert healed is not None and healed.failing_since is None
    assert endpoint_after(webhook(), True, NOW, policy) is None


@pytest.mark.parametrize(
    ("hook", "sent", "wanted"),
    [
        (webhook(), event(), True),
        (webhook(events=["model.created"]), event(), False),
        (webhook(workspace="other"), event(), False),
        (webhook(workspace="*"), event(workspace="team"), True),
        (webhook(model_ids=["x"]), event(), False),
        (webhook(model_ids=["m"]), event(), True),
        (webhook(status="disabled"), event(), False),
        (webhook(created_at=NOW + timedelta(seconds=1)), event(), False),
        (webhook(), events.ping("wh_" + "b" * 24, "default", NOW), False),
        (webhook(), events.ping("wh_" + "a" * 24, "default", NOW), True),
    ],
)
def test_which_endpoint_wants_which_event(hook: Webhook, sent: events.Event, wanted: bool):
    assert wants(hook, sent) is wanted


def test_every_catalogued_event_type_is_in_the_spec_and_registered_once():
    assert events.EVENT_TYPES == (
        "model.created", "model.updated", "model.deleted", "version.created", "version.status_changed",
        "alias.set", "alias.deleted", "job.succeeded", "job.failed", "subscription.stale", "ping",
    )  # fmt: skip
    payload = events.ping("wh_" + "a" * 24, "default", NOW).payload()
    assert payload == {"type": "ping", "timestamp": "2026-01-01T00:00:00Z", "data": {"webhook_id": "wh_" + "a" * 24,
                                                                                     "workspace": "default"}}  # fmt: skip

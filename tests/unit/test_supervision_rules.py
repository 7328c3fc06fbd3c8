"""Supervision's pure rules: deadlines per kind, backoff with jitter and its cap, when a job is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain import supervision
from shared.domain.entities import Job

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def job(**changes) -> Job:
    base = {
        "id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        "model_id": "m",
        "version": "1",
        "action": "inference",
        "status": "queued",
        "input": {},
        "handler": {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:f"},
        "trigger": None,
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Job.model_validate({**base, **changes})


def test_a_handlers_own_timeout_wins_over_its_kinds_default():
    assert supervision.timeout_of(job()) == timedelta(seconds=supervision.DEFAULT_TIMEOUT_SECONDS["lambda"])
    handler = {"type": "ecs", "task": "c/f:1", "timeout_seconds": 90}
    assert supervision.timeout_of(job(handler=handler)) == timedelta(seconds=90)


def test_lambdas_default_covers_its_own_async_retries():
    assert supervision.DEFAULT_TIMEOUT_SECONDS["lambda"] >= 3 * 900 + 180


@pytest.mark.parametrize(("attempt", "low", "high"), [(1, 15, 30), (2, 30, 60), (3, 60, 120), (10, 1800, 3600)])
def test_backoff_doubles_with_equal_jitter_and_is_capped_at_an_hour(attempt: int, low: float, high: float):
    waiting = job(attempt=attempt, max_attempts=10)
    assert supervision.backoff(waiting, rng=lambda: 0.0) == timedelta(seconds=low)
    assert supervision.backoff(waiting, rng=lambda: 1.0) == timedelta(seconds=high)


def test_when_the_sweeper_looks_at_a_job():
    assert supervision.due_at(job()) == NOW + timedelta(seconds=supervision.QUEUE_GRACE_SECONDS)
    assert supervision.due_at(job(not_before=NOW + timedelta(seconds=7))) == NOW + timedelta(seconds=7)
    assert supervision.due_at(job(status="dispatched", deadline_at=NOW)) == NOW
    assert supervision.due_at(job(status="succeeded")) is None


@pytest.mark.parametrize("seconds", [0, 86401])
def test_timeout_seconds_is_bounded(seconds: int):
    with pytest.raises(ValueError):
        job(handler={"type": "in_process", "implementation": "echo", "timeout_seconds": seconds})

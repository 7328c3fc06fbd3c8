"""The job metrics the stream dispatcher publishes from the changes it sees (SPEC part two: metrics
and alarms on jobs retried and cancelled), whoever made the change: a cancel, a handler's reported
failure, a failed start, a timeout."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from shared.data.entities import JOBS
from shared.dispatch.dispatcher import Outcomes, record_handler
from shared.domain.entities import AttemptRecord, Job
from shared.domain.supervision import counted_change
from tests.unit import builders


def _ended(job: Job, outcome: str, status: str, attempt: int = 1) -> Job:
    record = AttemptRecord(attempt=1, dispatched_at=builders.T0, ended_at=builders.T0, outcome=outcome, error=None)
    return job.model_copy(update={"status": status, "attempt": attempt, "attempt_history": [record]})


LIVE = builders.job(max_attempts=3)
DISPATCHED = LIVE.model_copy(update={"status": "dispatched", "dispatched_at": builders.T0})


@pytest.mark.parametrize(
    ("before", "after", "counted"),
    [
        ("dispatched", _ended(LIVE, "failed", "queued", attempt=2), "retried"),
        ("dispatched", _ended(LIVE, "timed_out", "queued", attempt=2), "retried"),
        ("dispatched", _ended(LIVE, "cancelled", "failed"), "cancelled"),
        ("queued", _ended(LIVE, "cancelled", "failed"), "cancelled"),
        ("dispatched", _ended(LIVE, "failed", "failed"), None),  # out of attempts: failed, not retried
        ("failed", _ended(LIVE, "failed", "queued", attempt=2), None),  # a redrive
        ("queued", LIVE, None),  # re-queued by the sweeper, never dispatched
        ("queued", DISPATCHED, None),  # a claim
        (None, LIVE, None),
    ],
    ids=[
        "failure-retried",
        "timeout-retried",
        "dispatched-cancelled",
        "queued-cancelled",
        "failed-for-good",
        "redrive",
        "requeue",
        "claim",
        "new",
    ],
)
def test_a_job_change_counts_as_retried_or_cancelled(before: str | None, after: Job, counted: str | None):
    assert counted_change(before, after) == counted


class RecordingMetrics:
    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    def add_metric(self, name: str, unit: Any, value: float) -> None:
        self.values[name] = self.values.get(name, 0) + value


def _modify(before: Job, after: Job) -> Any:
    raw = {"eventName": "MODIFY", "dynamodb": {"OldImage": JOBS.encode(before), "NewImage": JOBS.encode(after)}}
    return SimpleNamespace(raw_event=raw, event_id="e")


def _published(records: list[Any], outcome: str = "already claimed") -> dict[str, float]:
    outcomes = Outcomes()
    stub = SimpleNamespace(handle=lambda raw: outcome)
    handle = record_handler(lambda: stub, outcomes)  # type: ignore[arg-type, return-value]
    for record in records:
        handle(record)
    metrics = RecordingMetrics()
    outcomes.publish(metrics)
    return metrics.values


def test_the_dispatcher_publishes_jobs_cancelled_and_jobs_retried_from_the_changes_it_sees():
    cancelled = [_modify(DISPATCHED, _ended(LIVE, "cancelled", "failed")) for _ in range(2)]
    retried = [_modify(DISPATCHED, _ended(LIVE, "failed", "queued", attempt=2)) for _ in range(3)]

    published = _published([*cancelled, *retried])

    assert published["JobsCancelled"] == 2
    assert published["JobsRetried"] == 3
    assert published["StreamRecordsHandled"] == 5


def test_a_start_the_dispatcher_retried_is_counted_once_from_the_change_it_stored():
    """``Dispatcher.handle`` answers "retried" for a start that failed with attempts left; the retry
    is counted from the stored change's own record, so not from that answer too."""
    assert "JobsRetried" not in _published([_modify(LIVE, DISPATCHED)], outcome="retried")


def test_unreadable_or_foreign_records_count_no_job_change():
    later = LIVE.model_copy(update={"updated_at": LIVE.updated_at + timedelta(seconds=1)})
    records = [
        SimpleNamespace(raw_event={"eventName": "MODIFY", "dynamodb": {}}, event_id="e"),
        SimpleNamespace(raw_event={"eventName": "REMOVE", "dynamodb": {}}, event_id="e"),
        _modify(LIVE, later),
    ]
    published = _published(records)
    assert "JobsRetried" not in published and "JobsCancelled" not in published

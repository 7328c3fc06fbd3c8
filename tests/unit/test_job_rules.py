"""The job rules without a store: what a claim, a start, a result, a timeout, a cancel and a redrive
do to a job, and what a finished training does to its version (``shared.domain.job_rules``)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from shared.domain import job_rules
from shared.domain.entities import AttemptRecord, Job
from shared.domain.errors import (
    JobAlreadyFinishedError,
    JobNotFailedError,
    StaleAttemptError,
    VersionNotTrainableError,
)
from shared.domain.requests import CompleteJobRequest
from shared.domain.supervision import MAX_REQUEUES, QUEUE_GRACE_SECONDS, START_DEADLINE_SECONDS, timeout_of
from tests.unit import builders
from tests.unit.builders import T0

NOW = T0 + timedelta(hours=1)


def lowest_draw() -> float:
    """The jitter's lowest draw: the backoff is half its ceiling."""
    return 0.0


TRIGGER = {
    "subscription_id": str(uuid.uuid4()),
    "source_model_id": "s",
    "source_version": "1",
    "source_job_id": str(uuid.uuid4()),
    "depth": 1,
}


def dispatched(**changes: Any) -> Job:
    base: dict[str, Any] = {"status": "dispatched", "dispatched_at": NOW - timedelta(minutes=2)}
    return builders.job(**{**base, **changes})


def training(**changes: Any) -> Job:
    return dispatched(action="training", **changes)


def ended(job: Job) -> Job:
    """The job with an attempt behind it, waiting for the next one."""
    record = AttemptRecord(attempt=1, dispatched_at=T0, ended_at=T0, outcome="failed", error="e")
    return job.model_copy(update={"attempt_history": [record]})


# The status message ------------------------------------------------------------------------------


def test_a_short_error_is_the_versions_status_message_as_it_is():
    assert job_rules.status_message(None) is None
    assert job_rules.status_message("x" * job_rules.STATUS_MESSAGE_MAX) == "x" * job_rules.STATUS_MESSAGE_MAX


def test_a_long_error_is_shortened_to_the_status_message_limit_with_an_ellipsis():
    message = job_rules.status_message("x" * (job_rules.STATUS_MESSAGE_MAX + 1))
    assert message is not None and len(message) == job_rules.STATUS_MESSAGE_MAX and message.endswith("…")


def test_only_a_training_moves_a_version():
    assert job_rules.moves_a_version(training())
    assert not job_rules.moves_a_version(dispatched())


# Claiming and starting -----------------------------------------------------------------------------


def test_a_job_waiting_for_its_backoff_cannot_be_claimed_before_it_is_over():
    assert job_rules.claimable(builders.job(), NOW)
    assert not job_rules.claimable(builders.job(not_before=NOW + timedelta(seconds=1)), NOW)
    assert job_rules.claimable(builders.job(not_before=NOW), NOW)


def test_a_claim_dispatches_the_job_with_a_start_deadline_and_a_new_token():
    queued = builders.job(not_before=NOW - timedelta(seconds=1), task_arn="old", started_at=T0)

    taken = job_rules.claimed(queued, NOW)

    assert taken.status == "dispatched"
    assert (taken.dispatched_at, taken.updated_at) == (NOW, NOW)
    assert taken.deadline_at == NOW + timedelta(seconds=START_DEADLINE_SECONDS)
    assert (taken.not_before, taken.started_at, taken.task_arn) == (None, None, None)
    assert taken.entity_version == queued.entity_version + 1
    assert taken.completion_token is not None
    assert job_rules.claimed(queued, NOW).completion_token != taken.completion_token  # one per claim


def test_only_a_triggered_training_gets_its_version_when_claimed():
    assert job_rules.binds_its_version_when_claimed(builders.job(action="training", trigger=TRIGGER))
    assert not job_rules.binds_its_version_when_claimed(builders.job(action="training"))
    assert not job_rules.binds_its_version_when_claimed(builders.job(action="inference", trigger=TRIGGER))


@pytest.mark.parametrize(
    ("status", "bound_to_it", "binding"),
    [
        ("training", True, "bound"),
        ("training", False, "slot"),  # another job trains it
        ("pending", False, "bind"),
        ("failed", False, "bind"),
        ("active", False, "slot"),
    ],
)
def test_a_claim_binds_the_named_version_only_when_it_can_train_now(status: str, bound_to_it: bool, binding: str):
    job = builders.job(action="training", trigger=TRIGGER)
    version = builders.version(status=status, training_job_id=job.id if bound_to_it else str(uuid.uuid4()))
    assert job_rules.claim_binding(job, version) == binding


def test_a_claim_whose_named_version_is_gone_takes_a_slot():
    assert job_rules.claim_binding(builders.job(action="training", trigger=TRIGGER), None) == "slot"


def test_a_started_attempt_gets_its_handlers_deadline():
    job = dispatched()

    running = job_rules.started(job, NOW, "arn:task")

    assert (running.started_at, running.task_arn) == (NOW, "arn:task")
    assert running.deadline_at == NOW + timeout_of(job)
    assert running.entity_version == job.entity_version + 1 and running.status == "dispatched"


# Ending an attempt ------------------------------------------------------------------------------


def test_a_success_finishes_the_job_and_records_the_attempt():
    job = dispatched(max_attempts=3)

    done = job_rules.after_attempt(job, "succeeded", None, NOW, rng=lowest_draw)

    assert (done.status, done.completed_at, done.deadline_at, done.attempt) == ("succeeded", NOW, None, 1)
    assert [(r.attempt, r.outcome, r.dispatched_at, r.ended_at) for r in done.attempt_history] == [
        (1, "succeeded", job.dispatched_at, NOW)
    ]


def test_a_failure_with_attempts_left_waits_for_the_next_after_a_backoff():
    job = dispatched(max_attempts=3, backoff_seconds=30, requeues=2, started_at=NOW)

    again = job_rules.after_attempt(job, "timed_out", "late", NOW, rng=lowest_draw)

    assert (again.status, again.attempt, again.error, again.requeues) == ("queued", 2, "late", 0)
    assert again.not_before == NOW + timedelta(seconds=15)  # half of 30 s with the jitter's lowest draw
    assert (again.dispatched_at, again.started_at, again.completed_at) == (None, None, None)


@pytest.mark.parametrize(
    ("outcome", "retryable", "attempt"),
    [("failed", False, 1), ("cancelled", True, 1), ("failed", True, 3)],
    ids=["not retryable", "cancelled", "last attempt"],
)
def test_a_failure_is_final_when_not_retryable_cancelled_or_the_last_attempt(
    outcome: str, retryable: bool, attempt: int
):
    done = job_rules.after_attempt(
        dispatched(max_attempts=3, attempt=attempt), outcome, "e", NOW, retryable, lowest_draw
    )
    assert (done.status, done.completed_at, done.not_before, done.error) == ("failed", NOW, None, "e")


def test_a_result_counts_only_for_the_attempt_in_flight():
    job_rules.check_in_flight(dispatched(attempt=2), 2)
    job_rules.check_in_flight(dispatched(attempt=2), None)
    with pytest.raises(StaleAttemptError):
        job_rules.check_in_flight(dispatched(attempt=2), 1)
    with pytest.raises(StaleAttemptError):
        job_rules.check_in_flight(ended(builders.job(attempt=2)), None)  # waiting for its next attempt
    with pytest.raises(JobAlreadyFinishedError):
        job_rules.check_in_flight(dispatched(status="succeeded"), None)


def test_a_finished_job_keeps_the_results_output_and_one_waiting_for_a_retry_does_not():
    result = CompleteJobRequest(status="failed", error="boom", output={"partial": 1})

    final = job_rules.completed(dispatched(), result, NOW)
    retried = job_rules.completed(dispatched(max_attempts=2), result, NOW, rng=lowest_draw)

    assert (final.status, final.output, final.error) == ("failed", {"partial": 1}, "boom")
    assert (retried.status, retried.output) == ("queued", None)
    assert job_rules.completed(
        dispatched(max_attempts=2), result.model_copy(update={"retryable": False}), NOW
    ).status == ("failed")
    succeeded = job_rules.completed(dispatched(), CompleteJobRequest(status="succeeded", output={"y": 2}), NOW)
    assert (succeeded.status, succeeded.output, succeeded.error) == ("succeeded", {"y": 2}, None)


def test_a_cancel_fails_a_live_job_for_good_and_names_who_cancelled():
    cancelled = job_rules.cancelled(dispatched(max_attempts=5), "alice", NOW)

    assert (cancelled.status, cancelled.error) == ("failed", "cancelled by alice")
    assert cancelled.attempt_history[-1].outcome == "cancelled"
    with pytest.raises(JobAlreadyFinishedError):
        job_rules.cancelled(cancelled, "alice", NOW)


def test_a_succeeded_jobs_output_is_checked_against_its_actions_output_schema():
    contracts = {"inference": {"output_schema": {"type": "object", "required": ["y"]}}}
    model = builders.model(handler_contracts=contracts)

    warnings = job_rules.output_warnings(model, dispatched(status="succeeded", output={"x": 1}))

    assert len(warnings) == 1 and warnings[0].startswith("output does not match the inference output_schema: ")
    assert job_rules.output_warnings(model, dispatched(status="succeeded", output={"y": 1})) == []
    assert job_rules.output_warnings(model, dispatched(status="failed", output={"x": 1})) == []
    assert job_rules.output_warnings(builders.model(), dispatched(status="succeeded", output={"x": 1})) == []


# A finished training and its version --------------------------------------------------------------


def test_a_finished_training_moves_only_the_version_bound_to_it():
    job = training(status="succeeded")

    assert job_rules.version_left_by(job, builders.version(status="training", training_job_id=job.id)) is None
    assert job_rules.version_left_by(job, builders.version(status="training", training_job_id=None)) is None
    other = job_rules.version_left_by(job, builders.version(status="training", training_job_id=str(uuid.uuid4())))
    assert other is not None and "no longer by this job" in other
    moved = job_rules.version_left_by(job, builders.version(status="failed"))
    assert moved == "version '1' is 'failed', not 'training' by this job: the version was not changed"


def test_a_succeeded_training_activates_its_version_and_a_failed_one_fails_it_with_its_error():
    version = builders.version(status="training")

    active = job_rules.version_after(training(status="succeeded"), version, "bob", NOW)
    failed = job_rules.version_after(training(status="failed", error="x" * 2000), version, "bob", NOW)

    assert (active.status, active.status_message, active.training_job_id) == ("active", None, None)
    assert failed.status == "failed" and failed.status_message == job_rules.status_message("x" * 2000)
    assert failed.status_history[-1].by == "bob" and failed.updated_at == NOW


# The sweeper --------------------------------------------------------------------------------------


def test_the_sweeper_waits_for_a_job_that_is_not_due():
    assert job_rules.sweep(dispatched(deadline_at=NOW + timedelta(seconds=1)), NOW) == job_rules.Sweep("wait")
    assert job_rules.sweep(dispatched(status="succeeded"), NOW) == job_rules.Sweep("wait")


def test_a_claim_nothing_started_ends_as_not_started_and_may_be_retried():
    decision = job_rules.sweep(dispatched(deadline_at=NOW), NOW)
    assert (decision.action, decision.outcome, decision.retryable) == ("end", "not_started", True)
    assert "never started" in decision.error


def test_a_started_attempt_past_its_deadline_times_out_naming_its_timeout():
    job = dispatched(deadline_at=NOW, started_at=NOW - timedelta(hours=1))
    decision = job_rules.sweep(job, NOW)
    seconds = int(timeout_of(job).total_seconds())
    assert (decision.action, decision.outcome, decision.retryable) == ("end", "timed_out", True)
    assert decision.error == f"attempt 1 timed out: its handler did not complete it within {seconds} s"


def test_a_retry_whose_backoff_is_over_is_released_without_counting_a_requeue():
    job = builders.job(not_before=NOW, requeues=MAX_REQUEUES)

    assert job_rules.sweep(job, NOW) == job_rules.Sweep("requeue", "released")
    put = job_rules.requeued(job, NOW)
    assert (put.not_before, put.requeues, put.status, put.updated_at) == (None, MAX_REQUEUES, "queued", NOW)


def test_a_queued_job_nothing_dispatched_is_requeued_a_bounded_number_of_times_then_fails_for_good():
    stuck = builders.job(updated_at=NOW - timedelta(seconds=QUEUE_GRACE_SECONDS))

    assert job_rules.sweep(stuck, NOW) == job_rules.Sweep("requeue", "requeued")
    assert job_rules.requeued(stuck, NOW).requeues == 1
    decision = job_rules.sweep(stuck.model_copy(update={"requeues": MAX_REQUEUES}), NOW)
    assert (decision.action, decision.outcome, decision.retryable) == ("end", "not_started", False)
    assert decision.error.startswith(f"never dispatched: still queued after {MAX_REQUEUES} re-queues")


# Redrive ------------------------------------------------------------------------------------------


def test_a_redriven_job_is_queued_as_its_next_attempt_with_one_more_if_it_used_them_all():
    failed = dispatched(status="failed", error="e", output={"o": 1}, completed_at=NOW, requeues=2)

    again = job_rules.redriven(failed, NOW)

    assert (again.status, again.attempt, again.max_attempts, again.requeues) == ("queued", 2, 2, 0)
    assert (again.error, again.output, again.completed_at, again.dispatched_at) == (None, None, None, None)
    assert again.id == failed.id and again.entity_version == failed.entity_version + 1
    assert job_rules.redriven(failed.model_copy(update={"max_attempts": 5}), NOW).max_attempts == 5


@pytest.mark.parametrize("status", ["queued", "dispatched", "succeeded"])
def test_only_a_failed_job_can_be_redriven(status: str):
    with pytest.raises(JobNotFailedError):
        job_rules.redriven(dispatched(status=status), NOW)


@pytest.mark.parametrize("status", ["pending", "failed"])
def test_a_redriven_training_binds_its_version_again(status: str):
    job = training(status="failed")

    version = job_rules.retrained(job, builders.version(status=status), "bob", NOW)

    assert (version.status, version.training_job_id) == ("training", job.id)
    assert version.status_message == f"training job {job.id} retried"


@pytest.mark.parametrize("status", ["active", "training"])
def test_a_version_that_cannot_train_refuses_the_redrive(status: str):
    with pytest.raises(VersionNotTrainableError):
        job_rules.retrained(training(status="failed"), builders.version(status=status), "bob", NOW)

"""What happens to a job, and to the version it trains, as its attempts are claimed, start and end.
No I/O: the job service reads, asks these rules, and writes what they answer.

An attempt ends by its handler's result, a timeout, a start that never happened, a refusal or a
cancel; the job then waits for its next attempt (after a backoff) while it has attempts left and
the ending allows a retry, else it is finished. A finished training job moves the version it is
bound to (``training``, ``training_job_id`` naming it): ``active`` when it succeeded, ``failed``
with its error as the status message when not. A version no longer bound to it is left as it is.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from shared.domain import completion_tokens, contracts
from shared.domain.entities import AttemptRecord, Job, Model, Version
from shared.domain.errors import (
    IllegalTransitionError,
    JobAlreadyFinishedError,
    JobNotFailedError,
    StaleAttemptError,
    VersionNotTrainableError,
)
from shared.domain.lifecycle import check_transition
from shared.domain.requests import CompleteJobRequest
from shared.domain.supervision import MAX_REQUEUES, START_DEADLINE_SECONDS, backoff, due_at, timeout_of
from shared.domain.triggers import TRAINABLE
from shared.domain.versions import moved_version

FINISHED = ("succeeded", "failed")
STATUS_MESSAGE_MAX = 1000  # a version's status_message; a job's error may be longer
ERROR_MAX = 4096  # a job's error, as CompleteJobRequest bounds it


def status_message(error: str | None) -> str | None:
    """A failed job's error as its version's status_message, shortened to fit."""
    if error is None or len(error) <= STATUS_MESSAGE_MAX:
        return error
    return error[: STATUS_MESSAGE_MAX - 1] + "…"


def moves_a_version(job: Job) -> bool:
    """Whether the job's ending moves a version: a training's does, an inference's never."""
    return job.action == "training"


# Claiming and starting ----------------------------------------------------------------------------


def claimable(job: Job, now: datetime) -> bool:
    """A queued job may be claimed unless it waits for its retry's backoff."""
    return job.not_before is None or job.not_before <= now


def claimed(job: Job, now: datetime) -> Job:
    """The job taken for dispatch (``dispatched``), with a new completion token and a short start
    deadline: if nothing starts it, the sweeper ends it as ``not_started``."""
    taken = job.model_copy(
        update={
            "status": "dispatched",
            "entity_version": job.entity_version + 1,
            "updated_at": now,
            "dispatched_at": now,
            "deadline_at": now + timedelta(seconds=START_DEADLINE_SECONDS),
            "not_before": None,
            "started_at": None,
            "task_arn": None,
        }
    )
    return completion_tokens.issued(taken)


def binds_its_version_when_claimed(job: Job) -> bool:
    """A training job fired by a subscription gets its version at its claim if its firing did not
    bind one (``claim_binding``); a training started by hand was bound when it was queued."""
    return job.action == "training" and job.trigger is not None


ClaimBinding = Literal["bound", "bind", "slot"]


def claim_binding(job: Job, named: Version | None) -> ClaimBinding:
    """What the claim of a triggered training does about the version it names (None: gone).

    ``bound``: the version is bound to it already (when it fired, or by an earlier attempt);
    ``bind``: the named version can train now, so the claim binds it; ``slot``: it cannot, so the
    chain's rule gives the job one (the newest if trainable, else a new one).
    """
    if named is not None and named.status == "training" and named.training_job_id == job.id:
        return "bound"
    if named is not None and named.status in TRAINABLE:
        return "bind"
    return "slot"


def started(job: Job, now: datetime, task_arn: str | None) -> Job:
    """The claimed attempt as its handler accepted it: its deadline is now the handler's timeout."""
    return job.model_copy(
        update={
            "started_at": now,
            "deadline_at": now + timeout_of(job),
            "task_arn": task_arn,
            "entity_version": job.entity_version + 1,
            "updated_at": now,
        }
    )


# Ending an attempt --------------------------------------------------------------------------------


def after_attempt(
    job: Job,
    outcome: str,
    error: str | None,
    now: datetime,
    retryable: bool = True,
    rng: Callable[[], float] = random.random,
) -> Job:
    """The job once its attempt ended: queued for the next one after a backoff (``rng`` draws its
    jitter) while it has attempts left and the ending allows it (a cancel never does), else
    finished."""
    record = AttemptRecord(
        attempt=job.attempt, dispatched_at=job.dispatched_at, ended_at=now, outcome=outcome, error=error
    )
    common: dict[str, Any] = {
        "attempt_history": [*job.attempt_history, record],
        "error": error,
        "deadline_at": None,
        "entity_version": job.entity_version + 1,
        "updated_at": now,
    }
    if outcome == "succeeded":
        return job.model_copy(update={**common, "status": "succeeded", "not_before": None, "completed_at": now})
    if retryable and outcome != "cancelled" and job.attempt < job.max_attempts:
        return job.model_copy(
            update={
                **common,
                "status": "queued",
                "attempt": job.attempt + 1,
                "not_before": now + backoff(job, rng),
                "requeues": 0,
                "dispatched_at": None,
                "started_at": None,
            }
        )
    return job.model_copy(update={**common, "status": "failed", "not_before": None, "completed_at": now})


def check_in_flight(job: Job, attempt: int | None) -> None:
    """A result counts only for the attempt in flight: a finished job, another attempt's number, or
    a job waiting for its next attempt (the last one ended) is a 409."""
    if job.status in FINISHED:
        raise JobAlreadyFinishedError(job.id, job.status)
    waiting = job.status == "queued" and bool(job.attempt_history)
    if waiting or (attempt is not None and attempt != job.attempt):
        raise StaleAttemptError(job.id, attempt, None if waiting else job.attempt)


def completed(job: Job, result: CompleteJobRequest, now: datetime, rng: Callable[[], float] = random.random) -> Job:
    """The job after its handler's result for the attempt in flight; a finished job keeps the
    result's output (one waiting for its next attempt does not)."""
    if result.status == "succeeded":
        finished = after_attempt(job, "succeeded", None, now, rng=rng)
    else:
        finished = after_attempt(job, "failed", result.error, now, retryable=result.retryable, rng=rng)
    if finished.status in FINISHED:
        finished = finished.model_copy(update={"output": result.output})
    return finished


def cancelled(job: Job, actor: str, now: datetime) -> Job:
    """A live job cancelled by ``actor``: failed for good, outcome ``cancelled``."""
    if job.status in FINISHED:
        raise JobAlreadyFinishedError(job.id, job.status)
    return after_attempt(job, "cancelled", f"cancelled by {actor}", now, retryable=False)


def output_warnings(model: Model, job: Job) -> list[str]:
    """What a succeeded job's output breaks of its action's output contract (it is kept anyway)."""
    if job.status != "succeeded" or job.output is None:
        return []
    schema = contracts.output_schema(model, job.action)
    return [
        f"output does not match the {job.action} output_schema: {reason}"
        for reason in contracts.schema_violations(job.output, schema)
    ]


def version_left_by(job: Job, version: Version) -> str | None:
    """Why a finished training job leaves ``version`` as it is (a warning for its caller), or None
    when the version is bound to it and moves."""
    if version.status != "training":
        return (
            f"version '{version.version}' is '{version.status}', not 'training' by this job: "
            "the version was not changed"
        )
    if version.training_job_id not in (None, job.id):
        return (
            f"version '{version.version}' is now trained by job '{version.training_job_id}', no longer by "
            "this job: the version was not changed"
        )
    return None


def version_after(job: Job, version: Version, actor: str, now: datetime) -> Version:
    """The version a finished training job moves: ``active`` when it succeeded, else ``failed``
    with the job's error (shortened) as its status message."""
    status = "active" if job.status == "succeeded" else "failed"
    return moved_version(version, status, status_message(job.error), actor, now)


# The sweeper --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    """What the sweeper does with a job: ``wait`` (not due), ``end`` its attempt (``outcome``,
    ``error``, whether a retry may follow) or put it back in the queue (``released`` after a
    backoff, ``requeued`` when nothing dispatched it)."""

    action: Literal["wait", "end", "requeue"]
    outcome: str = ""
    error: str = ""
    retryable: bool = True


def sweep(job: Job, now: datetime) -> Sweep:
    """The sweeper's decision on a job the due index says is due (as the index read it)."""
    due = due_at(job)
    if due is None or due > now:
        return Sweep("wait")
    if job.status == "dispatched":
        if job.started_at is None:
            error = f"attempt {job.attempt} was claimed for dispatch but never started (the dispatcher stopped)"
            return Sweep("end", "not_started", error)
        seconds = int(timeout_of(job).total_seconds())
        error = f"attempt {job.attempt} timed out: its handler did not complete it within {seconds} s"
        return Sweep("end", "timed_out", error)
    if job.not_before is not None:
        return Sweep("requeue", "released")
    if job.requeues < MAX_REQUEUES:
        return Sweep("requeue", "requeued")
    error = (
        f"never dispatched: still queued after {MAX_REQUEUES} re-queues (are the dispatcher and its stream running?)"
    )
    return Sweep("end", "not_started", error, retryable=False)


def requeued(job: Job, now: datetime) -> Job:
    """A queued job put again (its stream record dispatches it): a retry whose backoff is over is
    released, one nothing dispatched counts a re-queue."""
    update: dict[str, Any] = {"not_before": None, "entity_version": job.entity_version + 1, "updated_at": now}
    if job.not_before is None:
        update["requeues"] = job.requeues + 1
    return job.model_copy(update=update)


# Redrive ------------------------------------------------------------------------------------------


def redriven(job: Job, now: datetime) -> Job:
    """A failed job back in ``queued`` as its next attempt (same id), with an attempt more if it had
    used them all; only a failed job can be redriven."""
    if job.status != "failed":
        raise JobNotFailedError(job.id, job.status)
    return job.model_copy(
        update={
            "status": "queued",
            "attempt": job.attempt + 1,
            "max_attempts": max(job.max_attempts, job.attempt + 1),
            "error": None,
            "output": None,
            "not_before": None,
            "requeues": 0,
            "deadline_at": None,
            "dispatched_at": None,
            "started_at": None,
            "completed_at": None,
            "entity_version": job.entity_version + 1,
            "updated_at": now,
        }
    )


def retrained(job: Job, version: Version, actor: str, now: datetime) -> Version:
    """The version a redriven training job trains again, bound to it; a version that cannot go
    ``training`` (active, or training already) refuses the redrive."""
    try:
        trainable = check_transition(version.status, "training")
    except IllegalTransitionError:
        trainable = False
    if not trainable:
        raise VersionNotTrainableError(job.model_id, version.version, version.status)
    return moved_version(version, "training", f"training job {job.id} retried", actor, now, training_job_id=job.id)

"""Job supervision's rules: deadlines, backoff, and when the sweeper looks at a job again.

Every live job (``queued`` or ``dispatched``) is due at some moment; the sweeper finds the jobs due
before now through an index (``shared.data.keys.job_due_keys``) and decides what their moment
means:

- ``dispatched``, not started: the dispatcher claimed it and died before starting it (``not_started``);
- ``dispatched``, started: its handler never answered (``timed_out``);
- ``queued`` with ``not_before``: a retry whose backoff is over, to dispatch now;
- ``queued`` without: a job nothing dispatched (its stream record was lost), to re-queue a bounded
  number of times, then to fail.

Per-kind defaults live in one dict so they can move to the handler-kind registry as a facet.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from shared.domain.entities import Job
from shared.kinds import KINDS

# Each kind declares how long one attempt may run when its handler does not say (a facet of the kind,
# shared/kinds: e.g. a Lambda's async invocation and Lambda's own two retries fit in an hour).
DEFAULT_TIMEOUT_SECONDS: dict[str, int] = {type_: kind.default_timeout_seconds for type_, kind in KINDS.items()}
# A claimed job must be started (Invoke/RunTask accepted) within this, or it was never started.
START_DEADLINE_SECONDS = 300
# A queued job nothing has dispatched after this is re-queued; at most MAX_REQUEUES times.
QUEUE_GRACE_SECONDS = 300
MAX_REQUEUES = 3
DEFAULT_SUBSCRIPTION_ATTEMPTS = 3
DEFAULT_DIRECT_ATTEMPTS = 1
DEFAULT_BACKOFF_SECONDS = 30
MAX_BACKOFF_SECONDS = 3600


def default_timeout_seconds(kind: str) -> int:
    return DEFAULT_TIMEOUT_SECONDS[kind]


def timeout_of(job: Job) -> timedelta:
    seconds = job.handler.timeout_seconds or default_timeout_seconds(job.handler.type)
    return timedelta(seconds=seconds)


def backoff(job: Job, rng: Callable[[], float] = random.random) -> timedelta:
    """The wait before the attempt after ``job.attempt``: base x 2^(attempt-1), capped at an hour,
    with "equal jitter" (between half and all of it) so retries of a burst spread out."""
    ceiling = min(MAX_BACKOFF_SECONDS, job.backoff_seconds * 2 ** (job.attempt - 1))
    return timedelta(seconds=ceiling / 2 + rng() * ceiling / 2)


def due_at(job: Job) -> datetime | None:
    """When the sweeper must look at the job next; None for a finished job."""
    if job.status == "dispatched":
        return job.deadline_at
    if job.status == "queued":
        if job.not_before is not None:
            return job.not_before
        return job.updated_at + timedelta(seconds=QUEUE_GRACE_SECONDS)
    return None


def counted_change(before_status: str | None, after: Job) -> str | None:
    """What a stored change of a job counts as in the job metrics, from its status before and the
    job after: ``"retried"`` when an attempt in flight ended and the job went back to ``queued``
    for its next attempt (a failed start, a reported failure, a timeout, a start that never
    happened), ``"cancelled"`` when a live job was cancelled; None for any other change. A redrive
    (``failed`` → ``queued``) is a person's decision, not a retry."""
    if before_status == "dispatched" and after.status == "queued":
        return "retried"
    if (
        before_status in ("queued", "dispatched")
        and after.status == "failed"
        and after.attempt_history
        and after.attempt_history[-1].outcome == "cancelled"
    ):
        return "cancelled"
    return None

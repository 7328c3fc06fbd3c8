"""The stream dispatcher: starts each new job exactly once, and finishes interrupted fan-outs.

For every stream record of a ``queued`` job — new, re-queued by the sweeper (a MODIFY), or
redriven — it claims the job (conditional ``queued → dispatched``: a redelivered record finds it
claimed and does nothing; a retry whose ``not_before`` is still ahead waits for the sweeper), then
starts it on its handler and records that it started (the handler's deadline begins). A job that cannot be started is completed as ``failed`` with the reason, never left
queued; a job that ran at once (in-process) whose result cannot be recorded fails with the reason
too, never left ``dispatched`` for the sweeper. For a new fan-out item (outbox overflow) it materializes the jobs it carries, each at most
once. Other records are not its business.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

from shared.data.entities import FANOUTS, JOBS
from shared.data.outbox import OutboxWriter
from shared.domain.entities import Job
from shared.domain.errors import JobAlreadyFinishedError, StaleAttemptError
from shared.domain.requests import CompleteJobRequest
from shared.domain.supervision import counted_change
from shared.kinds import kind_of
from shared.kinds.base import ERROR_LIMIT
from shared.kinds.starting import DispatchFailed, Starter
from shared.observability import logger
from shared.services.jobs import DISPATCHER_ACTOR, JobService


class MalformedRecordError(Exception):
    pass


class Dispatcher:
    def __init__(
        self,
        jobs: JobService,
        outbox: OutboxWriter,
        starters: Mapping[str, Starter],
    ) -> None:
        """``starters``: one per registered handler kind, by type (``build_starters``)."""
        self._jobs = jobs
        self._outbox = outbox
        self._starters = starters

    def handle(self, record: dict[str, Any]) -> str:
        """Process one stream record; returns what was done (for logs and tests)."""
        if record.get("eventName") not in ("INSERT", "MODIFY"):
            return "ignored"
        try:
            image = record["dynamodb"]["NewImage"]
            fanout, job_image = FANOUTS.holds(image), JOBS.holds(image)
        except (KeyError, TypeError, AttributeError) as error:
            raise MalformedRecordError(f"stream record without a new image: {error}") from None
        if fanout:
            if record["eventName"] != "INSERT":
                return "ignored"
            self._outbox.materialize(list(FANOUTS.decode(image).jobs))
            return "materialized"
        if not job_image or JOBS.status(image) != "queued":
            return "ignored"
        try:
            job = JOBS.decode(image)
        except (KeyError, ValueError) as error:
            raise MalformedRecordError(f"job record that cannot be read: {error}") from None
        return self.dispatch(job)

    def dispatch(self, job: Job) -> str:
        claim = self._jobs.claim(job)
        if claim is None:
            return "already claimed"  # or a retry not due yet
        claimed = claim.job
        if claim.refusal is not None:
            logger.warning("job refused", extra={"job_id": claimed.id, "reason": claim.refusal})
            self._jobs.refuse(claimed, claim.refusal)
            return "failed"
        starter = self._starters[kind_of(claimed.handler).type]
        try:
            result = starter.start(claimed)
        except DispatchFailed as failure:
            logger.warning("job could not be started", extra={"job_id": claimed.id, "reason": failure.reason})
            return self._finish(claimed, CompleteJobRequest(status="failed", error=failure.reason))
        if isinstance(result, CompleteJobRequest):  # it ran at once (in-process)
            return self._finish(claimed, result)
        self._jobs.started(claimed, result.task_arn if result is not None else None)
        return "dispatched"

    def _finish(self, job: Job, result: CompleteJobRequest) -> str:
        """Completes the job in this delivery (a redelivered record finds it claimed): a result that
        cannot be stored, or whose recording raises, fails it instead with the reason. Returns the
        status it ended in."""
        result = result.model_copy(update={"attempt": job.attempt, "completion_token": job.completion_token})
        try:
            status = self._jobs.finish(job, result, actor=DISPATCHER_ACTOR).job.status
        except (JobAlreadyFinishedError, StaleAttemptError):
            raise  # no longer in flight: nothing of this attempt is left to fail
        except Exception as error:  # else the job waits, claimed, for the sweeper's wrong reason
            reason = f"its result could not be recorded: {type(error).__name__}: {error}"[:ERROR_LIMIT]
            logger.exception("job result could not be recorded; the job fails", extra={"job_id": job.id})
            failed = CompleteJobRequest(
                status="failed", error=reason, attempt=job.attempt, completion_token=job.completion_token
            )
            status = self._jobs.finish(job, failed, actor=DISPATCHER_ACTOR).job.status
        return "retried" if status == "queued" else status


def counted_change_of(record: dict[str, Any]) -> str | None:
    """What a stream record of a job counts as in the job metrics (None for other records, and
    for a record that cannot be read: ``Dispatcher.handle`` reports those)."""
    try:
        if record.get("eventName") != "MODIFY":
            return None
        images = record["dynamodb"]
        after, before = images["NewImage"], images.get("OldImage") or {}
        if not JOBS.holds(after) or JOBS.status(after) not in ("queued", "failed"):
            return None  # decoded only when it may count
        return counted_change(JOBS.status(before), JOBS.decode(after))
    except (KeyError, TypeError, AttributeError, ValueError):
        return None


class ParallelBatchProcessor(BatchProcessor):
    """Powertools' batch processor, handling the records of one batch on a thread pool.

    Records of a batch are distinct jobs, so they can start concurrently; each record still
    succeeds or fails on its own, and failures are reported as partial batch item failures.
    """

    def __init__(self, workers: int) -> None:
        super().__init__(event_type=EventType.DynamoDBStreams)
        self._workers = workers

    def process(self) -> list[tuple]:
        with ThreadPoolExecutor(max_workers=self._workers) as pool:
            return list(pool.map(self._process_record, self.records))


# What the dispatcher did with a record. A start that failed and left the job queued for its next
# attempt ("retried") is not here: every retry is counted once, from the change it stored.
OUTCOME_METRICS = {
    "dispatched": "JobsDispatched",
    "succeeded": "JobsSucceeded",
    "failed": "JobsFailed",
    "already claimed": "JobRecordsRedelivered",
    "materialized": "FanOutItemsMaterialized",
}
# Job changes the stream shows, whoever made them (``shared.domain.supervision.counted_change``):
# the dispatcher, a handler's completion, the sweeper or a cancel. A redelivered record may count
# one twice; an alarm on them is not thrown by that.
CHANGE_METRICS = {
    "retried": "JobsRetried",
    "cancelled": "JobsCancelled",
}


class Outcomes:
    """Counts what a batch's records came to, and the job changes they show, from the worker
    threads, for one metrics flush."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._changes: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, outcome: str, change: str | None = None) -> None:
        with self._lock:
            self._counts[outcome] += 1
            if change is not None:
                self._changes[change] += 1

    def publish(self, metrics: Any) -> None:
        with self._lock:
            counts, self._counts = self._counts, Counter()
            changes, self._changes = self._changes, Counter()
        metrics.add_metric(name="StreamRecordsHandled", unit=MetricUnit.Count, value=sum(counts.values()))
        for outcome, count in counts.items():
            if outcome in OUTCOME_METRICS:
                metrics.add_metric(name=OUTCOME_METRICS[outcome], unit=MetricUnit.Count, value=count)
        for change, count in changes.items():
            metrics.add_metric(name=CHANGE_METRICS[change], unit=MetricUnit.Count, value=count)


def record_handler(dispatcher: Callable[[], Dispatcher], outcomes: Outcomes) -> Callable[[Any], str]:
    def handle(record: Any) -> str:
        change = counted_change_of(record.raw_event)
        outcome = dispatcher().handle(record.raw_event)
        outcomes.add(outcome, change)
        logger.debug("stream record handled", extra={"event_id": record.event_id, "outcome": outcome})
        return outcome

    return handle

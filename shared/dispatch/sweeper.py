"""The sweeper: ends what nobody else will, so every job ends.

On a schedule it reads each shard of the due index (GSI3) for live jobs due before now, in pages of
100, and hands each to ``JobService.supervise`` (time out, never started, retry due, never
dispatched). It never scans: its reads are one Query per page per shard, so a run costs
``DUE_SHARDS`` queries when nothing is due and grows by one query per 100 due jobs. A run stops
after ``max_pages`` pages per shard; the rest waits for the next run (bounded work per run).

One job never stops a run for the others: a job whose ending raises is logged and ended alone
(its version left as it is, ``JobService.supervise(alone=True)``); one that cannot even be ended
alone is logged, counted as an error and left due for the next run.

Two sweepers may run at once (a slow run overlapping the next schedule): every write is conditional
on the job's entity_version, so each job's attempt is ended once and the loser sees "changed
meanwhile".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shared.data.jobs import JobStore
from shared.data.keys import DUE_SHARDS
from shared.domain.entities import Job
from shared.observability import logger
from shared.services.job_endings import VERSION_LEFT
from shared.services.jobs import JobService

PAGE_SIZE = 100
DEFAULT_MAX_PAGES = 5
# What a run answers for a job it could not end at all (logged with the job; it stays due).
ERROR = "error"


@dataclass
class SweepReport:
    """What a run did: its index queries, and ``JobService.supervise``'s answers counted."""

    queries: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    oldest_queued_seconds: float = 0.0

    def count(self, kind: str) -> int:
        return sum(n for outcome, n in self.outcomes.items() if outcome.partition(", ")[0] == kind)

    def publish(self, metrics: Any) -> None:
        retried = sum(n for outcome, n in self.outcomes.items() if outcome.endswith(", retried"))
        ended = self.count("timed_out") + self.count("not_started")
        for name, value in (
            ("JobsTimedOut", self.count("timed_out")),
            ("JobsNotStarted", self.count("not_started")),
            ("JobsFailed", ended - retried),
            ("JobsRequeued", self.count("requeued")),
            ("JobRetriesReleased", self.count("released")),
            ("JobsEndedWithoutTheirVersion", sum(n for o, n in self.outcomes.items() if o.endswith(VERSION_LEFT))),
            ("SweeperErrors", self.count(ERROR)),
            ("SweeperQueries", self.queries),
        ):
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        metrics.add_metric(name="OldestQueuedJobAge", unit=MetricUnit.Seconds, value=self.oldest_queued_seconds)


class Sweeper:
    def __init__(
        self, jobs: JobService, store: JobStore, clock: Callable[[], datetime], max_pages: int = DEFAULT_MAX_PAGES
    ) -> None:
        self._jobs = jobs
        self._store = store
        self._clock = clock
        self._max_pages = max_pages

    def sweep(self) -> SweepReport:
        report = SweepReport()
        now = self._clock()
        for shard in range(DUE_SHARDS):
            start: dict[str, Any] | None = None
            for _ in range(self._max_pages):
                due, start = self._store.overdue(shard, now.isoformat(), PAGE_SIZE, start)
                report.queries += 1
                for job in due:
                    if job.status == "queued":
                        age = (now - job.created_at).total_seconds()
                        report.oldest_queued_seconds = max(report.oldest_queued_seconds, age)
                    report.outcomes[self._supervise(job)] += 1
                if start is None:
                    break
        return report

    def _supervise(self, job: Job) -> str:
        """One job's turn: whatever goes wrong with it is logged and stays its own. A job that
        cannot be ended normally is ended alone (its version left as it is); one that cannot even
        be ended alone waits for the next run. Either way the sweep goes on with the others."""
        try:
            return self._jobs.supervise(job)
        except Exception:  # one job must never stop the sweep for every other job
            logger.exception("the sweeper could not end the job normally; it ends it alone", extra=_about(job))
        try:
            return self._jobs.supervise(job, alone=True)
        except Exception:  # as above
            logger.exception("the sweeper could not end the job; the next run tries again", extra=_about(job))
            return ERROR


def _about(job: Job) -> dict[str, str]:
    return {"job_id": job.id, "model_id": job.model_id, "workspace": job.workspace, "status": job.status}

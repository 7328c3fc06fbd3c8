"""The sweeper: ends what nobody else will, so every job ends.

On a schedule it reads each shard of the due index (GSI3) for live jobs due before now, in pages of
100, and hands each to ``JobService.supervise`` (time out, never started, retry due, never
dispatched). It never scans: its reads are one Query per page per shard, so a run costs
``DUE_SHARDS`` queries when nothing is due and grows by one query per 100 due jobs. A run stops
after ``max_pages`` pages per shard; the rest waits for the next run (bounded work per run).

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
from shared.services.jobs import JobService

PAGE_SIZE = 100
DEFAULT_MAX_PAGES = 5


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
                    report.outcomes[self._jobs.supervise(job)] += 1
                if start is None:
                    break
        return report

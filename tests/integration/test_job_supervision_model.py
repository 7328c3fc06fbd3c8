"""A model-based test of job supervision (Hypothesis ``RuleBasedStateMachine``, under moto).

Jobs are driven through dispatch (with redelivered stream records), completion (for the attempt in
flight, a stale one, or none; retryable or not), timeouts, retries, cancel, redrive and racing
sweepers, on a fake clock. After every step: at most one attempt in flight per job, a succeeded job
never changes, a failed job changes only by a redrive, and a version in ``training`` is bound to
exactly one live training job. At the end, sweeping long enough ends every job.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from pie_local.settings import LOCAL_TABLE_NAME
from pie_local.table.dynamodb import embedded_dynamodb
from shared import runtime
from shared.data.keys import DUE_SHARDS
from shared.domain.access import Access
from shared.domain.entities import RetryPolicy
from shared.domain.errors import ConflictError, UnprocessableError
from shared.domain.requests import CompleteJobRequest, StartJobRequest
from tests.integration.api_events import SEED_MODEL_ID, call, create_model, sample_body
from tests.integration.job_helpers import RecordingLambda, dispatch, table_stream
from tests.integration.lifecycle_helpers import walk_to

T0 = datetime(2026, 3, 1, tzinfo=UTC)
FINISHED = ("succeeded", "failed")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class JobSupervision(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._table = embedded_dynamodb(LOCAL_TABLE_NAME)
        self._table.__enter__()
        self.clock = Clock()
        runtime.utc_now = self.clock  # type: ignore[assignment]
        runtime._stand_ins.clear()
        runtime.use_stand_in("lambda", RecordingLambda())  # resets the runtime: every service on this clock
        create_model()
        walk_to(SEED_MODEL_ID, "1", "active")  # inference runs on 1, training trains 2
        status, body, _ = call("create_version", model_id=SEED_MODEL_ID, body=sample_body("create_version"))
        assert status == 201, body
        self.stream = table_stream()
        self.stream.read()
        self.jobs: list[str] = []
        self.succeeded: dict[str, Any] = {}
        self.failed: dict[str, Any] = {}

    def teardown(self) -> None:
        try:
            for _ in range(40):  # every job ends, given enough sweeps
                if all(self._job(j).status in FINISHED for j in self.jobs):
                    break
                self.clock.now += timedelta(seconds=3700)
                runtime.sweeper().sweep()
                self._deliver(twice=False)
            assert all(self._job(j).status in FINISHED for j in self.jobs)
        finally:
            self._table.__exit__(None, None, None)

    # Helpers ------------------------------------------------------------------------------------

    def _job(self, job_id: str):
        return runtime.job_service().get(SEED_MODEL_ID, job_id, Access.service("t")).job

    def _deliver(self, twice: bool) -> None:
        for _ in range(10):
            records = self.stream.read()
            if not records:
                return
            assert dispatch(records) == {"batchItemFailures": []}
            if twice:
                assert dispatch(records) == {"batchItemFailures": []}

    # Rules --------------------------------------------------------------------------------------

    @rule(attempts=st.integers(1, 3), training=st.booleans())
    def start(self, attempts: int, training: bool) -> None:
        request = StartJobRequest(input={"features": [1]}, retry=RetryPolicy(max_attempts=attempts, backoff_seconds=5))
        service = runtime.job_service()
        try:
            if training:
                job = service.start_training(SEED_MODEL_ID, request, actor="t", access=Access.service("t")).job
            else:
                job = service.start_inference(SEED_MODEL_ID, request, Access.service("t")).job
        except (ConflictError, UnprocessableError):
            return  # the version is busy training, or cannot train again
        self.jobs.append(job.id)

    @rule(twice=st.booleans())
    def deliver_stream(self, twice: bool) -> None:
        self._deliver(twice)

    @rule(
        data=st.data(),
        status=st.sampled_from(["succeeded", "failed"]),
        which=st.sampled_from(["current", "stale", "none"]),
        retryable=st.booleans(),
    )
    def complete(self, data: st.DataObject, status: str, which: str, retryable: bool) -> None:
        if not self.jobs:
            return
        job = self._job(data.draw(st.sampled_from(self.jobs)))
        attempt = {
            "current": job.attempt,
            "stale": max(1, job.attempt - 1) if job.attempt > 1 else job.attempt + 1,
            "none": None,
        }[which]
        request = CompleteJobRequest(
            status=status, output={} if status == "succeeded" else None, error="e", attempt=attempt, retryable=retryable
        )
        try:
            runtime.job_service().complete(
                SEED_MODEL_ID, job.id, request, actor="worker", access=Access.service("worker")
            )
        except ConflictError:
            assert self._job(job.id) == job  # refused: nothing changed

    @rule(seconds=st.sampled_from([1, 10, 301, 3601]))
    def advance_clock(self, seconds: int) -> None:
        self.clock.now += timedelta(seconds=seconds)

    @rule(race=st.booleans())
    def sweep(self, race: bool) -> None:
        if not race:
            runtime.sweeper().sweep()
            return
        # Sweeper A reads its pages, sweeper B runs whole, then A acts on what it read.
        store, now = runtime.job_store(), self.clock.now.isoformat()
        read = [job for shard in range(DUE_SHARDS) for job in store.overdue(shard, now, 100, None)[0]]
        runtime.sweeper().sweep()
        for job in read:
            assert runtime.job_service().supervise(job) in ("changed meanwhile", "not due")

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        if self.jobs:
            try:
                runtime.job_service().cancel(
                    SEED_MODEL_ID, data.draw(st.sampled_from(self.jobs)), actor="t", access=Access.service("t")
                )
            except ConflictError:
                pass

    @rule(data=st.data())
    def redrive(self, data: st.DataObject) -> None:
        if not self.jobs:
            return
        job_id = data.draw(st.sampled_from(self.jobs))
        try:
            runtime.job_service().redrive(SEED_MODEL_ID, job_id, actor="t", access=Access.service("t"))
        except (ConflictError, UnprocessableError):
            return
        self.failed.pop(job_id, None)

    # Invariants ---------------------------------------------------------------------------------

    @invariant()
    def attempts_and_endings_hold(self) -> None:
        live_training: dict[str, list[str]] = {}
        for job_id in self.jobs:
            job = self._job(job_id)
            numbers = [a.attempt for a in job.attempt_history]
            assert numbers == sorted(set(numbers)), "each attempt ends once"
            if job.status == "dispatched":
                assert job.attempt not in numbers, "the attempt in flight has not ended"
            if job_id in self.succeeded:
                assert job == self.succeeded[job_id], "a succeeded job never changes"
            if job_id in self.failed:
                assert job == self.failed[job_id], "a failed job changes only by a redrive"
            if job.status == "succeeded":
                self.succeeded[job_id] = job
            elif job.status == "failed":
                self.failed[job_id] = job
            elif job.action == "training":
                live_training.setdefault(job.version, []).append(job_id)
        for version_id in ("1", "2"):
            version = runtime.registry_store().get_version(SEED_MODEL_ID, version_id)
            if version.status == "training":
                assert live_training.get(version_id) == [version.training_job_id]


TestJobSupervision = JobSupervision.TestCase
TestJobSupervision.settings = settings(
    max_examples=15, stateful_step_count=25, deadline=None, suppress_health_check=list(HealthCheck)
)


@pytest.fixture(autouse=True)
def _restore_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "utc_now", runtime.utc_now)
    monkeypatch.setattr(runtime, "_stand_ins", {})

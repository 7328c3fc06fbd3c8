"""A model-based test of continuous chains (Hypothesis ``RuleBasedStateMachine``, under moto).

The chain A → B → C (``training_complete → training``) runs again and again: A is trained by
direct requests (with or without naming its newest version) and by versions set active by hand;
handlers complete dispatched jobs, succeeding or failing them; stream records are delivered, then
delivered again, and the table's whole history is redelivered. After every step:

- exactly one job per (transition, subscription): no two triggered jobs share a subscription and a
  source (the source job, or the hand-made transition's root), and every trigger a firing reported
  is a job in the table — none lost, none extra;
- no job failed by its target's state: the only failed jobs are those a handler failed;
- a version in ``training`` is bound to exactly one live training job, and a version a job trained
  names that job in its ``lineage``.

At the end, completing every job leaves every job finished and every trained version active or
failed by its handler.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from pie_local.settings import LOCAL_TABLE_NAME
from pie_local.table.dynamodb import embedded_dynamodb
from shared import runtime
from shared.domain.access import Access
from shared.domain.errors import ConflictError, UnprocessableError
from shared.domain.requests import CompleteJobRequest, StartJobRequest
from tests.integration.api_events import create_model, create_version
from tests.integration.job_helpers import RecordingLambda, dispatch, table_stream
from tests.integration.lifecycle_helpers import jobs_of, set_status, subscribe

MODELS = ("a", "b", "c")
LIVE = ("queued", "dispatched")
SERVICE = Access.service("t")


class ContinuousChain(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._table = embedded_dynamodb(LOCAL_TABLE_NAME)
        self._table.__enter__()
        runtime._stand_ins.clear()
        runtime.use_stand_in("lambda", RecordingLambda())  # resets the runtime
        for model_id in MODELS:
            create_model(model_id)
        subscribe("a", "b", action="training", stored_input={"data_path": "s3://b"})
        subscribe("b", "c", action="training", stored_input={"data_path": "s3://c"})
        self.stream = table_stream()
        self.reported: set[str] = set()  # job ids the firings reported
        self.failed_by_handler: set[str] = set()

    def teardown(self) -> None:
        try:
            for _ in range(20):  # the chain ends once every job is completed
                self._deliver(twice=False)
                dispatched = [job for job in self._jobs() if job["status"] == "dispatched"]
                if not dispatched and not any(job["status"] in LIVE for job in self._jobs()):
                    break
                for job in dispatched:
                    self._complete(job, succeed=True)
            jobs = self._jobs()
            assert all(job["status"] not in LIVE for job in jobs), jobs
            self.chains_hold()
            for model_id in MODELS:
                for job in (job for job in jobs if job["model_id"] == model_id):
                    version = runtime.registry_store().get_version(model_id, job["version"])
                    if version.lineage is not None and version.lineage.job_id == job["id"]:
                        expected = "active" if job["status"] == "succeeded" else "failed"
                        assert version.status == expected, (job, version)
        finally:
            self._table.__exit__(None, None, None)

    # Helpers ------------------------------------------------------------------------------------

    def _jobs(self) -> list[dict[str, Any]]:
        client = runtime.dynamodb_client()
        return [job for model_id in MODELS for job in jobs_of(client, model_id)]

    def _deliver(self, twice: bool) -> None:
        for _ in range(10):
            records = self.stream.read()
            if not records:
                return
            assert dispatch(records) == {"batchItemFailures": []}
            if twice:
                assert dispatch(records) == {"batchItemFailures": []}

    def _report(self, events: list[Any]) -> None:
        for event in events:
            event = event if isinstance(event, dict) else event.model_dump(exclude_none=True)
            assert "job_id" in event, f"a firing was refused: {event}"
            assert event["job_id"] not in self.reported, "a trigger fired twice"
            self.reported.add(event["job_id"])

    def _complete(self, job: dict[str, Any], succeed: bool) -> None:
        request = CompleteJobRequest(
            status="succeeded" if succeed else "failed",
            output={"model_path": job["model_id"]} if succeed else None,
            error=None if succeed else "the handler failed",
            attempt=job["attempt"],
            retryable=False,
        )
        response = runtime.job_service().complete(job["model_id"], job["id"], request, actor="worker", access=SERVICE)
        assert response.warnings == [], response.warnings
        if not succeed:
            self.failed_by_handler.add(job["id"])
        self._report(response.triggered_events)

    # Rules --------------------------------------------------------------------------------------

    @rule(named=st.booleans())
    def train_a(self, named: bool) -> None:
        """A direct training of A: its newest version (refused unless it can train), or without a
        version (the newest if it can train, else a new one)."""
        version = runtime.registry_store().get_model("a").model.latest_version if named else None
        request = StartJobRequest(input={"data_path": "s3://a"}, version=version)
        try:
            runtime.job_service().start_training("a", request, actor="t", access=SERVICE)
        except (ConflictError, UnprocessableError):
            assert named  # only a named version can be refused
            status = runtime.registry_store().get_version("a", version).status
            assert status in ("training", "active"), status

    @rule()
    def activate_a_by_hand(self) -> None:
        """A new version of A set ``training`` then ``active`` by hand: a root of its own."""
        number = str(runtime.registry_store().get_model("a").highest_numeric_version + 1)
        create_version("a", number)
        for status in ("training", "active"):
            code, body, _ = set_status("a", number, status)
            assert code == 200, body
        self._report(body["triggered_events"])

    @rule(twice=st.booleans())
    def deliver_stream(self, twice: bool) -> None:
        self._deliver(twice)

    @rule()
    def redeliver_history(self) -> None:
        """Every record the table ever wrote, delivered once more."""
        history = table_stream()
        while records := history.read():
            assert dispatch(records) == {"batchItemFailures": []}

    @rule(data=st.data(), succeed=st.booleans())
    def complete(self, data: st.DataObject, succeed: bool) -> None:
        dispatched = [job for job in self._jobs() if job["status"] == "dispatched"]
        if dispatched:
            self._complete(data.draw(st.sampled_from(dispatched)), succeed)

    # Invariants ---------------------------------------------------------------------------------

    @invariant()
    def chains_hold(self) -> None:
        jobs = self._jobs()
        triggered = [job for job in jobs if job["trigger"] is not None]
        sources = [
            (job["trigger"]["subscription_id"], job["trigger"]["source_job_id"] or job["trigger"]["root_job_id"])
            for job in triggered
        ]
        assert len(sources) == len(set(sources)), "two jobs for one (transition, subscription)"
        assert {job["id"] for job in triggered} == self.reported, "a reported trigger is not a job, or vice versa"
        failed = {job["id"]: job["error"] for job in jobs if job["status"] == "failed"}
        assert set(failed) <= self.failed_by_handler, f"failed by PIE, not by a handler: {failed}"
        live: dict[tuple[str, str], list[str]] = {}
        for job in jobs:
            if job["status"] in LIVE:
                live.setdefault((job["model_id"], job["version"]), []).append(job["id"])
        for model_id in MODELS:
            for version in _versions(model_id):
                if version.status == "training" and version.lineage is not None:
                    assert live.get((model_id, version.version)) == [version.training_job_id], version
                if version.lineage is not None:
                    trainer = next(job for job in jobs if job["id"] == version.lineage.job_id)
                    assert trainer["version"] == version.version
                    assert trainer["trigger"] == (
                        version.lineage.trigger.model_dump(mode="json") if version.lineage.trigger else None
                    )


def _versions(model_id: str) -> list[Any]:
    store, found, token = runtime.registry_store(), [], None
    while True:
        page = store.list_versions(model_id, 100, token)
        found += page.items
        if page.next_token is None:
            return found
        token = page.next_token


TestContinuousChain = ContinuousChain.TestCase
TestContinuousChain.settings = settings(
    max_examples=8, stateful_step_count=25, deadline=None, suppress_health_check=list(HealthCheck)
)


@pytest.fixture(autouse=True)
def _restore_stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "_stand_ins", {})

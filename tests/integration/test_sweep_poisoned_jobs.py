"""A job the sweeper cannot end normally ends alone, and never stops the sweep for anybody else.

Two teams (workspaces) each have a training job past its deadline. Team A's version is poisoned:
its item is at the size limit, so moving it to ``failed`` cannot be stored (or its move raises
anything at all). The sweep must still end team B's job as usual, and end team A's job alone:
failed with the reason, its version left as it is, a warning logged. Time is a fake clock.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pie_local.settings import LOCAL_TABLE_NAME
from shared import runtime
from shared.data.entities import VERSIONS, VersionRecord
from shared.data.items import MAX_DOCUMENT_BYTES, document_bytes
from shared.dispatch import completions
from shared.domain.access import Access
from shared.domain.entities import Job, Version
from shared.domain.errors import ItemNotStorableError
from shared.domain.requests import CompleteJobRequest, CreateModelRequest, StartJobRequest
from shared.services.jobs import JobService
from tests.integration.api_events import sample_body

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TIMEOUT = 2
SERVICE = Access.service("test")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch, table: Any) -> Clock:
    fake = Clock()
    monkeypatch.setattr(runtime, "utc_now", fake)
    monkeypatch.setattr(runtime, "_stand_ins", {})
    runtime.reset()
    return fake


def create_model(model_id: str, workspace: str) -> None:
    body = {**sample_body("create_model"), "id": model_id, "workspace": workspace}
    body["handlers"]["training"]["timeout_seconds"] = TIMEOUT
    runtime.model_registry().create_model(CreateModelRequest.model_validate(body), "test", SERVICE)


def running_training(model_id: str) -> Job:
    """A training job of the model's version 1, claimed and started (as the dispatcher does)."""
    jobs = runtime.job_service()
    job = jobs.start_training(model_id, StartJobRequest(input={}), "test", SERVICE).job
    claim = jobs.claim(job)
    assert claim is not None and claim.refusal is None
    running = jobs.started(claim.job)
    assert running is not None
    return running


def stored_version(model_id: str) -> Version:
    return runtime.registry_store().get_version(model_id, "1")


def pad_version(model_id: str, free_bytes: int) -> Version:
    """Rewrite version 1 with metadata that leaves ``free_bytes`` under the item limit, as a
    version with large metadata does."""
    return _rewrite(stored_version(model_id), free_bytes)


def poison_version(model_id: str) -> Version:
    """Rewrite version 1 at the item limit with nothing left to drop: one status change, no
    message. Any move of it with a message is over the limit."""
    version = stored_version(model_id)
    newest = version.status_history[-1].model_copy(update={"status_message": None})
    return _rewrite(version.model_copy(update={"status_message": None, "status_history": [newest]}), 0)


def _rewrite(version: Version, free_bytes: int) -> Version:
    padded = version.model_copy(update={"metadata": {"blob": ""}})
    blob = "x" * (MAX_DOCUMENT_BYTES - free_bytes - document_bytes(padded))
    padded = padded.model_copy(update={"metadata": {"blob": blob}})
    assert document_bytes(padded) == MAX_DOCUMENT_BYTES - free_bytes
    runtime.dynamodb_client().put_item(TableName=LOCAL_TABLE_NAME, Item=VERSIONS.encode(VersionRecord(padded, 1)))
    return padded


def get_job(job: Job) -> Job:
    return runtime.job_service().get(job.model_id, job.id, SERVICE).job


@pytest.fixture
def two_teams(clock: Clock) -> tuple[Job, Job]:
    """Team A's and team B's training jobs, both started; neither completed."""
    create_model("team_a_model", "team-a")
    create_model("team_b_model", "team-b")
    return running_training("team_a_model"), running_training("team_b_model")


def test_a_job_whose_version_cannot_be_stored_fails_alone_and_the_sweep_ends_the_other_teams_job(
    two_teams: tuple[Job, Job], clock: Clock, caplog: pytest.LogCaptureFixture
):
    poisoned, other = two_teams
    before = poison_version(poisoned.model_id)
    clock.advance(TIMEOUT + 1)

    with caplog.at_level(logging.WARNING):
        report = runtime.sweeper().sweep()

    assert report.count("timed_out") == 2
    assert report.outcomes["timed_out, version left as it is"] == 1
    ended = get_job(poisoned)
    assert ended.status == "failed"
    assert ended.error is not None and "timed out" in ended.error
    assert ended.attempt_history[-1].outcome == "timed_out"
    assert stored_version(poisoned.model_id) == before  # left as it is
    assert any("version" in r.getMessage() and getattr(r, "job_id", None) == poisoned.id for r in caplog.records), (
        "the warning names the job"
    )

    assert get_job(other).status == "failed"
    assert stored_version(other.model_id).status == "failed"
    assert runtime.sweeper().sweep().outcomes == {}  # nothing left due: the poisoned job does not come back


def test_any_error_on_one_job_is_logged_that_job_ends_alone_and_the_sweep_goes_on(
    two_teams: tuple[Job, Job], clock: Clock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    poisoned, other = two_teams
    original = JobService._completion_effects

    def broken_for_one(self: JobService, job: Job, *args: Any, **kwargs: Any) -> Any:
        if job.id == poisoned.id:
            raise RuntimeError("the version item cannot be read")
        return original(self, job, *args, **kwargs)

    monkeypatch.setattr(JobService, "_completion_effects", broken_for_one)
    clock.advance(TIMEOUT + 1)

    with caplog.at_level(logging.WARNING):
        report = runtime.sweeper().sweep()

    assert report.count("timed_out") == 2
    assert get_job(poisoned).status == "failed"
    assert stored_version(poisoned.model_id).status == "training"  # left as it is
    assert get_job(other).status == "failed" and stored_version(other.model_id).status == "failed"
    assert any(r.exc_info and "cannot be read" in str(r.exc_info[1]) for r in caplog.records), "logged"


def test_a_job_the_sweeper_cannot_even_end_alone_is_logged_and_every_other_due_job_still_ends(
    two_teams: tuple[Job, Job], clock: Clock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    poisoned, other = two_teams
    original = JobService.supervise

    def broken_for_one(self: JobService, job: Job, *args: Any, **kwargs: Any) -> str:
        if job.id == poisoned.id:
            raise ItemNotStorableError("DynamoDB refused to store the job: too large")
        return original(self, job, *args, **kwargs)

    monkeypatch.setattr(JobService, "supervise", broken_for_one)
    clock.advance(TIMEOUT + 1)

    with caplog.at_level(logging.ERROR):
        report = runtime.sweeper().sweep()

    assert report.outcomes == {"timed_out": 1, "error": 1}
    assert get_job(other).status == "failed"
    assert get_job(poisoned).status == "dispatched"  # nothing could be written; the next run tries again
    assert any(getattr(r, "job_id", None) == poisoned.id for r in caplog.records)


def test_a_near_cap_version_still_fails_when_its_training_times_out(two_teams: tuple[Job, Job], clock: Clock):
    """The reported case: a version ~100 bytes under the limit, trained with a 2-second timeout."""
    poisoned, other = two_teams
    pad_version(poisoned.model_id, free_bytes=100)
    clock.advance(TIMEOUT + 1)

    assert runtime.sweeper().sweep().outcomes == {"timed_out": 2}

    version = stored_version(poisoned.model_id)
    assert (version.status, version.training_job_id) == ("failed", None)
    assert version.status_history[-1].status == "failed"
    assert version.status_history_dropped >= 1
    assert document_bytes(version) <= MAX_DOCUMENT_BYTES
    assert get_job(poisoned).status == "failed"


def test_cancelling_a_job_whose_version_cannot_be_stored_fails_the_job_and_leaves_the_version(
    two_teams: tuple[Job, Job], clock: Clock
):
    poisoned, _ = two_teams
    before = poison_version(poisoned.model_id)

    cancelled = runtime.job_service().cancel(poisoned.model_id, poisoned.id, "alice", SERVICE)

    assert cancelled.status == "failed" and get_job(poisoned).status == "failed"
    assert stored_version(poisoned.model_id) == before


def test_a_reported_failure_of_a_job_whose_version_cannot_be_stored_fails_the_job_with_its_error(
    two_teams: tuple[Job, Job], clock: Clock
):
    poisoned, _ = two_teams
    before = poison_version(poisoned.model_id)

    answer = runtime.job_service().finish(
        poisoned, CompleteJobRequest(status="failed", error="CUDA out of memory"), completions.COMPLETION_ACTOR
    )

    assert answer.job.status == "failed" and get_job(poisoned) == answer.job
    assert answer.job.error is not None and answer.job.error.startswith("CUDA out of memory")
    assert "version" in answer.job.error
    assert stored_version(poisoned.model_id) == before

"""The dispatcher's decisions per stream record, with the job service and starters faked."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.data.entities import JOBS
from shared.dispatch.dispatcher import Dispatcher, MalformedRecordError
from shared.dispatch.implementations import IMPLEMENTATIONS
from shared.domain.entities import Job
from shared.domain.requests import CompleteJobRequest
from shared.domain.responses.jobs import CompletionResponse
from shared.kinds import KINDS
from shared.kinds.in_process_start import InProcessStarter
from shared.kinds.starting import Backoff, DispatchFailed, StartContext
from shared.services.jobs import Claim
from tests.conftest import load_event

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class FakeJobs:
    def __init__(self, claimable: bool = True, refusal: str | None = None) -> None:
        self.claimable = claimable
        self.refusal = refusal
        self.claimed: list[str] = []
        self.completed: list[tuple[str, CompleteJobRequest, str]] = []
        self.running: list[tuple[str, str | None]] = []

    def claim(self, job: Job) -> Claim | None:
        self.claimed.append(job.id)
        if not self.claimable:
            return None
        return Claim(job.model_copy(update={"status": "dispatched"}), self.refusal)

    def started(self, job: Job, task_arn: str | None = None) -> Job:
        self.running.append((job.id, task_arn))
        return job

    def finish(self, job: Job, request: CompleteJobRequest, actor: str) -> CompletionResponse:
        self.completed.append((job.id, request, actor))
        return CompletionResponse(job=job.model_copy(update={"status": request.status}), triggered_events=[])

    def refuse(self, job: Job, reason: str) -> None:
        self.completed.append((job.id, CompleteJobRequest(status="failed", error=reason), "refused"))


class FakeStarter:
    def __init__(self, failure: str | None = None) -> None:
        self.failure = failure
        self.started: list[str] = []

    def start(self, job: Job) -> None:
        self.started.append(job.id)
        if self.failure:
            raise DispatchFailed(self.failure)


class FakeOutbox:
    def __init__(self) -> None:
        self.materialized: list[list[str]] = []

    def materialize(self, jobs: list[Job]) -> None:
        self.materialized.append([job.id for job in jobs])


def sample_record() -> dict[str, Any]:
    return load_event("dispatch_jobs")["Records"][0]


def record_of(job: Job, event_name: str = "INSERT") -> dict[str, Any]:
    record = sample_record()
    record["eventName"] = event_name
    record["dynamodb"]["NewImage"] = JOBS.encode(job)
    return record


def sample_job(**changes: Any) -> Job:
    job = Job.model_validate_json(sample_record()["dynamodb"]["NewImage"]["doc"]["S"])
    return Job.model_validate({**job.model_dump(), **changes})


def dispatcher(
    jobs: FakeJobs,
    lambda_starter: FakeStarter | None = None,
    ecs: FakeStarter | None = None,
    outbox: FakeOutbox | None = None,
) -> Dispatcher:
    in_process = InProcessStarter(
        StartContext(client=lambda _service: None, backoff=Backoff(), implementations=IMPLEMENTATIONS)
    )
    starters = {
        **{type_: FakeStarter() for type_ in KINDS},
        "lambda": lambda_starter or FakeStarter(),
        "ecs": ecs or FakeStarter(),
        "in_process": in_process,
    }
    return Dispatcher(jobs, outbox or FakeOutbox(), starters)  # type: ignore[arg-type]


def test_a_queued_job_is_claimed_then_started_on_its_handler():
    jobs, lambdas, ecs = FakeJobs(), FakeStarter(), FakeStarter()

    assert dispatcher(jobs, lambdas, ecs).handle(sample_record()) == "dispatched"

    assert jobs.claimed == lambdas.started == [sample_job().id]
    assert ecs.started == []
    assert jobs.completed == []


def test_a_job_someone_else_claimed_is_not_started():
    jobs, lambdas = FakeJobs(claimable=False), FakeStarter()

    assert dispatcher(jobs, lambdas).handle(sample_record()) == "already claimed"

    assert lambdas.started == []
    assert jobs.completed == []


def test_an_ecs_job_goes_to_the_ecs_starter():
    job = sample_job(handler={"type": "ecs", "task": "ml-cluster/train"})
    jobs, lambdas, ecs = FakeJobs(), FakeStarter(), FakeStarter()

    dispatcher(jobs, lambdas, ecs).handle(record_of(job))

    assert (lambdas.started, ecs.started) == ([], [job.id])


def test_a_job_that_cannot_be_started_is_failed_with_the_reason():
    jobs = FakeJobs()

    denied = FakeStarter(failure="Lambda Invoke AccessDeniedException: no")

    assert dispatcher(jobs, denied).handle(sample_record()) == "failed"

    ((job_id, request, actor),) = jobs.completed
    assert job_id == sample_job().id
    assert request == CompleteJobRequest(status="failed", error="Lambda Invoke AccessDeniedException: no", attempt=1)
    assert actor == "pie-dispatcher"


def test_a_training_job_its_version_refuses_is_failed_without_being_started():
    jobs, lambdas = FakeJobs(refusal="version '1' is 'active'"), FakeStarter()

    assert dispatcher(jobs, lambdas).handle(record_of(sample_job(action="training"))) == "failed"

    assert lambdas.started == []
    assert jobs.completed[0][1] == CompleteJobRequest(status="failed", error="version '1' is 'active'")


def test_an_in_process_job_runs_and_completes_at_once():
    jobs = FakeJobs()
    job = sample_job(handler={"type": "in_process", "implementation": "echo"}, input={"x": 1})

    assert dispatcher(jobs).handle(record_of(job)) == "succeeded"

    assert jobs.completed == [
        (job.id, CompleteJobRequest(status="succeeded", output={"x": 1}, attempt=1), "pie-dispatcher")
    ]


class RecordingRaises(FakeJobs):
    """Recording a success raises (as an output check once did on a number past the largest float)."""

    def finish(self, job: Job, request: CompleteJobRequest, actor: str) -> CompletionResponse:
        if request.status == "succeeded":
            raise OverflowError("int too large to convert to float")
        return super().finish(job, request, actor)


def test_an_in_process_job_whose_result_cannot_be_recorded_fails_at_once_with_the_real_reason():
    jobs = RecordingRaises()
    job = sample_job(handler={"type": "in_process", "implementation": "echo"}, input={"x": 1})

    assert dispatcher(jobs).handle(record_of(job)) == "failed"

    ((job_id, request, actor),) = jobs.completed
    assert (job_id, request.status, request.attempt, actor) == (job.id, "failed", 1, "pie-dispatcher")
    assert request.error == "its result could not be recorded: OverflowError: int too large to convert to float"


def test_a_removed_job_is_not_started():
    jobs = FakeJobs()

    assert dispatcher(jobs).handle(record_of(sample_job(), "REMOVE")) == "ignored"

    assert jobs.claimed == []


def test_a_job_modified_back_to_queued_is_claimed_re_queued_by_the_sweeper_or_redriven():
    jobs = FakeJobs()

    assert dispatcher(jobs).handle(record_of(sample_job(), "MODIFY")) == "dispatched"

    assert jobs.claimed == [sample_job().id]


@pytest.mark.parametrize("status", ["dispatched", "succeeded", "failed"])
def test_a_job_inserted_in_another_status_than_queued_is_not_started(status: str):
    jobs = FakeJobs()

    assert dispatcher(jobs).handle(record_of(sample_job(status=status))) == "ignored"

    assert jobs.claimed == []


def test_items_that_are_not_jobs_are_ignored():
    record = sample_record()
    record["dynamodb"]["NewImage"]["entity_type"] = {"S": "MODEL"}
    jobs = FakeJobs()

    assert dispatcher(jobs).handle(record) == "ignored"
    assert jobs.claimed == []


def test_a_fan_out_item_materializes_the_jobs_it_carries():
    first, second = sample_job(), sample_job(id="2b4e28ba-2fa1-11d2-883f-0016d3cca427")
    record = sample_record()
    record["dynamodb"]["NewImage"] = {
        "PK": {"S": "MODEL#a"},
        "SK": {"S": "FANOUT#change#0000"},
        "entity_type": {"S": "FANOUT"},
        "change": {"S": "change"},
        "doc": {"S": f"[{first.model_dump_json()},{second.model_dump_json()}]"},
    }
    outbox, jobs = FakeOutbox(), FakeJobs()

    assert dispatcher(jobs, outbox=outbox).handle(record) == "materialized"

    assert outbox.materialized == [[first.id, second.id]]
    assert jobs.claimed == []


@pytest.mark.parametrize(
    "damage",
    [
        lambda r: r["dynamodb"].pop("NewImage"),
        lambda r: r.pop("dynamodb"),
        lambda r: r["dynamodb"]["NewImage"].pop("doc"),
        lambda r: r["dynamodb"]["NewImage"].update(doc={"S": "{"}),
        lambda r: r["dynamodb"]["NewImage"].update(doc={"S": '{"id": "x"}'}),
    ],
    ids=["no new image", "no dynamodb", "no doc", "doc not json", "doc not a job"],
)
def test_a_record_that_cannot_be_read_is_a_malformed_record(damage: Any):
    record = copy.deepcopy(sample_record())
    damage(record)
    jobs = FakeJobs()

    with pytest.raises(MalformedRecordError):
        dispatcher(jobs).handle(record)

    assert jobs.claimed == []

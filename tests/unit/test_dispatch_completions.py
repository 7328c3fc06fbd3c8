"""Reading job results out of Lambda destination records and ECS task state changes, and accepting
them only from the job's own handler."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.dispatch.completions import COMPLETION_ACTOR, AwsCompletions, completion_request
from shared.domain import completion_tokens
from shared.domain.access import Access
from shared.domain.entities import Job
from shared.domain.errors import JobAlreadyFinishedError, JobNotFoundError
from shared.domain.requests import CompleteJobRequest
from shared.domain.responses.jobs import CompletionResponse, JobResponse
from shared.kinds.ecs import task_result as ecs_task_result
from shared.kinds.lambda_ import destination_result as lambda_destination_result
from tests.conftest import load_event

NOW = datetime(2026, 1, 1, tzinfo=UTC)
INFER = "arn:aws:lambda:us-west-2:123456789012:function:infer"
ACCOUNT = "123456789012"  # the deployment's, and the samples'


def lambda_record(**changes: Any) -> dict[str, Any]:
    """The sample's destination record (the EventBridge ``detail``)."""
    record = load_event("complete_job_events")["detail"]
    record.update(changes)
    return record


def sample_token() -> str:
    """The completion token of the sample Lambda record's envelope."""
    return lambda_record()["requestPayload"]["completion_token"]


def ecs_detail() -> dict[str, Any]:
    return load_event("complete_job_events_ecs")["detail"]


def ecs_envelope() -> dict[str, Any]:
    return json.loads(ecs_detail()["overrides"]["containerOverrides"][0]["environment"][0]["value"])


def ecs_event(detail: dict[str, Any]) -> dict[str, Any]:
    return {"source": "aws.ecs", "detail-type": "ECS Task State Change", "account": ACCOUNT, "detail": detail}


# Lambda destination records -------------------------------------------------------------------------


def test_a_success_record_reports_the_response_payload_as_output():
    reported = lambda_destination_result(lambda_record())

    assert reported is not None
    assert completion_request(reported) == CompleteJobRequest(
        status="succeeded", output={"price": 19.99, "confidence": 0.87}, attempt=1, completion_token=sample_token()
    )
    assert reported.source == f"{INFER}:$LATEST"
    assert (reported.model_id, reported.job_id) == ("model_price_reco_v1", "1b4e28ba-2fa1-11d2-883f-0016d3cca427")


@pytest.mark.parametrize("payload", [42, "done", None, [1, 2]])
def test_a_response_that_is_not_an_object_is_wrapped_as_the_result(payload: Any):
    reported = lambda_destination_result(lambda_record(responsePayload=payload))

    assert reported is not None
    assert completion_request(reported).output == {"result": payload}


def test_a_success_record_whose_output_cannot_be_stored_reports_a_failure_saying_why():
    record = json.loads(json.dumps(lambda_record(responsePayload={"loss": float("nan")})))

    reported = lambda_destination_result(record)

    assert reported is not None
    assert completion_request(reported).status == "failed"
    assert completion_request(reported).error is not None
    assert completion_request(reported).error.startswith("the handler's output cannot be stored")
    assert "NaN" in completion_request(reported).error


def test_a_failure_record_reports_the_error_type_and_message():
    record = lambda_record(responsePayload={"errorType": "ValueError", "errorMessage": "bad features"})
    record["requestContext"]["condition"] = "RetriesExhausted"

    reported = lambda_destination_result(record)

    assert reported is not None
    assert completion_request(reported) == CompleteJobRequest(
        status="failed", error="ValueError: bad features", attempt=1, completion_token=sample_token()
    )


def test_a_function_error_is_a_failure_even_when_the_condition_reads_success():
    record = lambda_record(responsePayload={"errorType": "KeyError", "errorMessage": "'x'"})
    record["responseContext"]["functionError"] = "Unhandled"

    reported = lambda_destination_result(record)

    assert reported is not None
    assert completion_request(reported).status == "failed"
    assert completion_request(reported).error == "KeyError: 'x'"


def test_a_failure_without_an_error_payload_names_the_condition():
    record = lambda_record(responsePayload=None)
    record["requestContext"]["condition"] = "EventAgeExceeded"

    reported = lambda_destination_result(record)

    assert reported is not None
    assert completion_request(reported).error == "invocation EventAgeExceeded"


def test_a_very_long_error_is_cut_to_what_a_job_can_hold():
    record = lambda_record(responsePayload={"errorType": "E", "errorMessage": "x" * 10_000})
    record["requestContext"]["condition"] = "RetriesExhausted"

    reported = lambda_destination_result(record)

    assert reported is not None
    assert completion_request(reported).error is not None
    assert len(completion_request(reported).error) == 4096


@pytest.mark.parametrize("payload", [{"orderId": 1}, {"job_id": "j"}, "text", None])
def test_a_record_whose_request_is_not_a_pie_envelope_is_not_a_job_result(payload: Any):
    assert lambda_destination_result(lambda_record(requestPayload=payload)) is None


# ECS task state changes -----------------------------------------------------------------------------


def test_a_stopped_task_whose_containers_all_exited_0_succeeded():
    reported = ecs_task_result(ecs_detail())

    assert reported is not None
    assert completion_request(reported) == CompleteJobRequest(
        status="succeeded", output={}, attempt=1, completion_token=ecs_envelope()["completion_token"]
    )
    assert reported.source == "ml-cluster/train-price-model:3"
    assert reported.job_id == ecs_detail()["startedBy"]


def test_a_stopped_task_with_a_failed_container_failed_with_the_reasons():
    detail = ecs_detail()
    detail["containers"].append({"name": "sidecar", "exitCode": 2, "reason": "bad config"})
    detail["stoppedReason"] = "Essential container in task exited"

    reported = ecs_task_result(detail)

    assert reported is not None
    assert completion_request(reported).status == "failed"
    assert completion_request(reported).error == "Essential container in task exited: sidecar exited 2 bad config"


def test_a_container_that_never_ran_has_no_exit_code_and_fails_the_job():
    detail = ecs_detail()
    del detail["containers"][0]["exitCode"]
    detail["stoppedReason"] = "CannotPullContainerError: image not found"

    reported = ecs_task_result(detail)

    assert reported is not None
    assert completion_request(reported).status == "failed"
    assert completion_request(reported).error is not None
    assert completion_request(reported).error.startswith("CannotPullContainerError")


@pytest.mark.parametrize("status", ["PROVISIONING", "RUNNING", "DEPROVISIONING"])
def test_a_task_that_has_not_stopped_is_not_a_result(status: str):
    detail = ecs_detail()
    detail["lastStatus"] = status

    assert ecs_task_result(detail) is None


def test_a_task_not_started_by_its_envelopes_job_is_not_a_result():
    detail = ecs_detail()
    detail["startedBy"] = "ecs-svc/123"

    assert ecs_task_result(detail) is None


def test_a_task_without_a_pie_envelope_is_not_a_result():
    detail = ecs_detail()
    detail["overrides"] = {"containerOverrides": [{"name": "trainer", "environment": [{"name": "X", "value": "1"}]}]}

    assert ecs_task_result(detail) is None


# Only the job's own handler completes it -------------------------------------------------------------


class FakeJobs:
    """The two JobService calls AwsCompletions makes (``finish`` checks the token as the service does)."""

    def __init__(self, job: Job | None, finished: bool = False) -> None:
        self.job = job
        self.finished = finished
        self.completed: list[tuple[str, str, CompleteJobRequest, str]] = []

    def get(self, model_id: str, job_id: str, access: Access) -> JobResponse:
        assert access.can_write(self.job.workspace if self.job else "any"), "AWS results act for every team"
        if self.job is None:
            raise JobNotFoundError(model_id, job_id)
        return JobResponse(job=self.job)

    def finish(self, job: Job, request: CompleteJobRequest, actor: str) -> CompletionResponse:
        if self.finished:
            raise JobAlreadyFinishedError(job.id, "succeeded")
        completion_tokens.check(job, request.completion_token)
        self.completed.append((job.model_id, job.id, request, actor))
        return CompletionResponse(job=job.model_copy(update={"status": request.status}), triggered_events=[])


def job_with(
    handler: dict[str, Any], job_id: str = "1b4e28ba-2fa1-11d2-883f-0016d3cca427", token: str | None = None
) -> Job:
    """The job, dispatched with the sample's completion token (or ``token``)."""
    return Job(
        id=job_id,
        model_id="model_price_reco_v1",
        version="1",
        action="inference",
        status="dispatched",
        input={},
        handler=handler,
        trigger=None,
        created_at=NOW,
        updated_at=NOW,
    ).with_completion_token(token or sample_token())


def handle(jobs: FakeJobs, event: dict[str, Any]) -> str:
    return AwsCompletions(jobs, account=ACCOUNT).handle(event)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("handler", "function_arn"),
    [
        ({"type": "lambda", "arn": INFER}, f"{INFER}:$LATEST"),
        ({"type": "lambda", "arn": INFER}, INFER),
        ({"type": "lambda", "arn": INFER, "version": "7"}, f"{INFER}:7"),
        ({"type": "lambda", "arn": INFER, "version": "live"}, f"{INFER}:live"),
    ],
)
def test_a_lambda_result_completes_the_job_when_it_comes_from_the_jobs_function(handler: dict, function_arn: str):
    jobs = FakeJobs(job_with(handler))
    record = lambda_record()
    record["requestContext"]["functionArn"] = function_arn

    assert handle(jobs, record) == "succeeded"

    ((model_id, job_id, request, actor),) = jobs.completed
    assert jobs.job is not None
    assert (model_id, job_id, request.status) == ("model_price_reco_v1", jobs.job.id, "succeeded")
    assert actor == COMPLETION_ACTOR


@pytest.mark.parametrize(
    "function_arn",
    [
        "arn:aws:lambda:us-west-2:123456789012:function:inference:$LATEST",
        "arn:aws:lambda:us-west-2:123456789012:function:infe",
        "arn:aws:lambda:us-east-1:123456789012:function:infer",
        "arn:aws:lambda:us-west-2:000000000000:function:infer:1",
        "",
    ],
)
def test_a_lambda_result_from_another_function_is_ignored(function_arn: str):
    jobs = FakeJobs(job_with({"type": "lambda", "arn": INFER}))
    record = lambda_record()
    record["requestContext"]["functionArn"] = function_arn

    assert handle(jobs, record) == "foreign source"
    assert jobs.completed == []


def test_a_result_for_an_in_process_job_is_always_foreign():
    jobs = FakeJobs(job_with({"type": "in_process", "implementation": "echo"}))

    assert handle(jobs, lambda_record()) == "foreign source"
    assert jobs.completed == []


def test_an_ecs_result_is_accepted_from_the_jobs_cluster_and_family_whatever_the_revision():
    detail = ecs_detail()
    envelope = json.loads(detail["overrides"]["containerOverrides"][0]["environment"][0]["value"])
    detail["taskDefinitionArn"] = "arn:aws:ecs:us-west-2:123456789012:task-definition/train-price-model:4"
    jobs = FakeJobs(
        job_with(
            {"type": "ecs", "task": "ml-cluster/train-price-model:3"}, envelope["job_id"], envelope["completion_token"]
        )
    )

    assert handle(jobs, ecs_event(detail)) == "succeeded"
    assert len(jobs.completed) == 1


@pytest.mark.parametrize(
    "task",
    ["default/train-price-model", "ml-cluster/train-price-model-v2", "ml-cluster/train"],
)
def test_an_ecs_result_from_another_cluster_or_family_is_ignored(task: str):
    detail = ecs_detail()
    envelope = json.loads(detail["overrides"]["containerOverrides"][0]["environment"][0]["value"])
    jobs = FakeJobs(job_with({"type": "ecs", "task": task}, envelope["job_id"], envelope["completion_token"]))

    assert handle(jobs, ecs_event(detail)) == "foreign source"
    assert jobs.completed == []


def test_results_for_unknown_or_finished_jobs_are_acknowledged():
    assert handle(FakeJobs(None), lambda_record()) == "unknown job"
    finished = FakeJobs(job_with({"type": "lambda", "arn": INFER}), finished=True)
    assert handle(finished, lambda_record()) == "already finished"


def test_an_ecs_state_change_from_another_source_is_ignored():
    detail = ecs_detail()
    jobs = FakeJobs(job_with({"type": "ecs", "task": "ml-cluster/train-price-model:3"}))

    assert handle(jobs, {"source": "my.app", "detail-type": "ECS Task State Change", "detail": detail}) == "ignored"


# Only the attempt's completion token, from the handler's account, completes it -----------------------


@pytest.mark.parametrize("token", [None, "", 42, "guessed"])
def test_a_lambda_result_without_the_attempts_token_changes_nothing(token: Any):
    jobs = FakeJobs(job_with({"type": "lambda", "arn": INFER}))
    record = lambda_record()
    record["requestPayload"]["completion_token"] = token

    assert handle(jobs, record) in ("unproven", "forged")
    assert jobs.completed == []


def test_an_eventbridge_event_from_another_account_than_the_lambda_handlers_changes_nothing():
    jobs = FakeJobs(job_with({"type": "lambda", "arn": INFER}))
    event = load_event("complete_job_events")
    event["account"] = "210987654321"

    assert handle(jobs, event) == "foreign account"
    assert jobs.completed == []


def test_a_lambda_handler_in_another_account_reports_from_that_account():
    other = INFER.replace(ACCOUNT, "210987654321")
    jobs = FakeJobs(job_with({"type": "lambda", "arn": other}))
    event = load_event("complete_job_events")
    event["account"] = "210987654321"
    event["detail"]["requestContext"]["functionArn"] = f"{other}:$LATEST"

    assert handle(jobs, event) == "succeeded"


@pytest.mark.parametrize("deployment", ["210987654321", None])
def test_an_ecs_task_event_from_another_account_than_the_deployments_changes_nothing(deployment: str | None):
    envelope = ecs_envelope()
    jobs = FakeJobs(
        job_with(
            {"type": "ecs", "task": "ml-cluster/train-price-model:3"}, envelope["job_id"], envelope["completion_token"]
        )
    )

    outcome = AwsCompletions(jobs, account=deployment).handle(ecs_event(ecs_detail()))  # type: ignore[arg-type]

    assert outcome == "foreign account"
    assert jobs.completed == []

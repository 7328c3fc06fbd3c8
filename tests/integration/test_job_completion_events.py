"""functions/complete_job_events: jobs complete from what AWS reports about their handlers —
Lambda destination records (directly or through EventBridge) and ECS task state changes — driven by
the ``events/complete_job_events*.json`` samples."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.complete_job_events.handler import lambda_handler
from shared.domain.entities import Job
from shared.kinds.envelope import JobEnvelope
from shared.runtime import outbox
from tests.conftest import LambdaContext, load_event
from tests.integration.api_events import SEED_MODEL_ID, create_model
from tests.integration.job_helpers import ECS_TASK, LAMBDA_ARN, TRAINING_ARN, complete, get_job, get_version
from tests.integration.lifecycle_helpers import jobs_of, subscribe, walk_to


def handle(event: dict[str, Any]) -> str:
    return lambda_handler(event, LambdaContext())["outcome"]


def dispatched_job(envelope: JobEnvelope, handler: dict[str, Any]) -> Job:
    """Write the job an envelope describes, as the dispatcher leaves it after starting it (with the
    envelope's completion token)."""
    now = datetime.now(UTC)
    job = Job(
        id=envelope.job_id,
        model_id=envelope.model_id,
        version=envelope.version,
        action=envelope.action,
        status="dispatched",
        input=envelope.input,
        handler=handler,
        trigger=envelope.trigger,
        attempt=1,
        created_at=now,
        updated_at=now,
        dispatched_at=now,
    ).with_completion_token(envelope.completion_token)
    outbox().commit([], [job], job.model_id, f"test:{job.id}")
    return job


# Lambda destination records ------------------------------------------------------------------------


@pytest.fixture
def lambda_result(seed_model: dict[str, Any]) -> dict[str, Any]:
    """The sample EventBridge delivery, and the inference job it reports on."""
    event = load_event("complete_job_events")
    dispatched_job(JobEnvelope.model_validate(event["detail"]["requestPayload"]), {"type": "lambda", "arn": LAMBDA_ARN})
    return event


def _job_of(event: dict[str, Any]) -> dict[str, Any]:
    payload = event["detail"]["requestPayload"]
    return get_job(payload["model_id"], payload["job_id"])


@pytest.mark.parametrize("delivery", ["through EventBridge", "directly"])
def test_a_lambda_success_record_completes_the_job_with_the_response_as_output(
    lambda_result: dict[str, Any], delivery: str
):
    event = lambda_result if delivery == "through EventBridge" else lambda_result["detail"]

    assert handle(event) == "succeeded"

    job = _job_of(lambda_result)
    assert job["status"] == "succeeded"
    assert job["output"] == {"price": 19.99, "confidence": 0.87}
    assert job["completed_at"] is not None


def test_a_lambda_success_record_fires_the_jobs_subscriptions(lambda_result: dict[str, Any], table: Any):
    create_model("next")
    walk_to("next", "1", "active")
    subscribe(SEED_MODEL_ID, "next", event="inference_complete", input_source="trigger_output")

    handle(lambda_result)

    (fired,) = jobs_of(table, "next")
    assert fired["input"] == {"price": 19.99, "confidence": 0.87}
    assert fired["trigger"]["source_job_id"] == lambda_result["detail"]["requestPayload"]["job_id"]


def test_a_lambda_failure_record_fails_the_job_with_the_error_type_and_message(seed_model: dict[str, Any]):
    walk_to(SEED_MODEL_ID, "1", "training")
    event = load_event("complete_job_events")
    event["detail-type"] = "Lambda Function Invocation Result - Failure"
    detail = event["detail"]
    detail["requestPayload"]["action"] = "training"
    detail["requestContext"].update(
        functionArn=f"{TRAINING_ARN}:1", condition="RetriesExhausted", approximateInvokeCount=3
    )
    detail["responseContext"] = {"statusCode": 200, "executedVersion": "1", "functionError": "Unhandled"}
    detail["responsePayload"] = {"errorType": "ValueError", "errorMessage": "no rows in s3://d/", "trace": []}
    dispatched_job(JobEnvelope.model_validate(detail["requestPayload"]), seed_model["model"]["handlers"]["training"])

    assert handle(event) == "failed"

    job = _job_of(event)
    assert job["status"] == "failed"
    assert job["error"] == "ValueError: no rows in s3://d/"
    assert job["output"] is None
    version = get_version(SEED_MODEL_ID, "1")["version"]
    assert (version["status"], version["status_message"]) == ("failed", "ValueError: no rows in s3://d/")
    assert version["status_history"][-1]["by"] == "pie-aws-events"


FOREIGN_FUNCTIONS = (
    "arn:aws:lambda:us-west-2:123456789012:function:other:$LATEST",
    "arn:aws:lambda:us-west-2:123456789012:function:infer-copy:$LATEST",
    "arn:aws:lambda:eu-west-1:123456789012:function:infer:$LATEST",
    "arn:aws:lambda:us-west-2:210987654321:function:infer",
)


def test_a_record_from_another_function_than_the_jobs_handler_is_ignored(lambda_result: dict[str, Any]):
    before = _job_of(lambda_result)

    for function_arn in FOREIGN_FUNCTIONS:
        lambda_result["detail"]["requestContext"]["functionArn"] = function_arn
        assert handle(lambda_result) == "foreign source"

    assert _job_of(lambda_result) == before


def test_a_record_for_an_unknown_job_is_acknowledged(seed_model: dict[str, Any]):
    assert handle(load_event("complete_job_events")) == "unknown job"


def test_a_record_for_a_finished_job_is_acknowledged_and_changes_nothing(lambda_result: dict[str, Any]):
    payload = lambda_result["detail"]["requestPayload"]
    status, _, _ = complete(payload["model_id"], payload["job_id"], {"status": "failed", "error": "reported first"})
    assert status == 200
    before = _job_of(lambda_result)

    assert handle(lambda_result) == "already finished"
    assert handle(copy.deepcopy(lambda_result)) == "already finished"

    assert _job_of(lambda_result) == before


def test_events_that_are_not_results_of_pie_jobs_are_ignored(lambda_result: dict[str, Any]):
    foreign = copy.deepcopy(lambda_result)
    foreign["detail"]["requestPayload"] = {"orderId": 42}
    before = _job_of(lambda_result)

    assert handle(foreign) == "ignored"
    assert handle({"source": "aws.s3", "detail-type": "Object Created", "detail": {}}) == "ignored"
    assert _job_of(lambda_result) == before


# ECS task state changes ----------------------------------------------------------------------------


@pytest.fixture
def ecs_stopped(table: Any) -> dict[str, Any]:
    """The sample stop event, the ECS-trained model and its training job, version 1 training."""
    handler = {"type": "ecs", "task": ECS_TASK}
    create_model(SEED_MODEL_ID, handlers={"training": handler, "inference": handler})
    walk_to(SEED_MODEL_ID, "1", "training")
    event = load_event("complete_job_events_ecs")
    (override,) = event["detail"]["overrides"]["containerOverrides"]
    dispatched_job(JobEnvelope.model_validate_json(override["environment"][0]["value"]), handler)
    return event


def _ecs_job(event: dict[str, Any]) -> dict[str, Any]:
    (override,) = event["detail"]["overrides"]["containerOverrides"]
    return get_job(SEED_MODEL_ID, JobEnvelope.model_validate_json(override["environment"][0]["value"]).job_id)


def test_a_task_that_stopped_with_exit_code_0_completes_its_job(ecs_stopped: dict[str, Any]):
    assert handle(ecs_stopped) == "succeeded"

    job = _ecs_job(ecs_stopped)
    assert job["status"] == "succeeded"
    after = get_version(SEED_MODEL_ID, "1")
    assert after["version"]["status"] == "active"
    assert after["model"]["active_version"] == "1"


def test_a_task_with_a_failed_container_fails_its_job_with_the_stopped_reason(ecs_stopped: dict[str, Any]):
    container = ecs_stopped["detail"]["containers"][0]
    container.update(exitCode=137, reason="OutOfMemoryError: Container killed due to memory usage")
    ecs_stopped["detail"]["stoppedReason"] = "Essential container in task exited"

    assert handle(ecs_stopped) == "failed"

    job = _ecs_job(ecs_stopped)
    assert job["status"] == "failed"
    assert job["error"].startswith("Essential container in task exited")
    assert "137" in job["error"]
    assert "OutOfMemoryError" in job["error"]
    assert get_version(SEED_MODEL_ID, "1")["version"]["status"] == "failed"


NOT_THE_JOBS_TASK = (
    ("clusterArn", "arn:aws:ecs:us-west-2:123456789012:cluster/default"),
    ("taskDefinitionArn", "arn:aws:ecs:us-west-2:123456789012:task-definition/other-family:3"),
    ("startedBy", "ecs-svc/1234567890123456789"),
    ("lastStatus", "RUNNING"),
)


def test_a_task_event_that_is_not_the_stop_of_the_jobs_task_is_ignored(ecs_stopped: dict[str, Any]):
    for field, value in NOT_THE_JOBS_TASK:
        event = copy.deepcopy(ecs_stopped)
        event["detail"][field] = value
        handle(event)

    assert _ecs_job(ecs_stopped)["status"] == "dispatched"
    assert get_version(SEED_MODEL_ID, "1")["version"]["status"] == "training"
    assert handle(ecs_stopped) == "succeeded"  # the real stop still completes it


# Step Functions execution status changes ----------------------------------------------------------

STATE_MACHINE_HANDLER = {
    "type": "step_functions",
    "state_machine_arn": "arn:aws:states:us-west-2:123456789012:stateMachine:train-price-model",
}


def sfn_event(outcome: str) -> dict[str, Any]:
    return load_event(f"complete_job_events_sfn_{outcome}")


@pytest.fixture
def sfn_training(table: Any) -> str:
    """A model trained by a state machine, version 1 training on the samples' job; its job id."""
    create_model(SEED_MODEL_ID, handlers={"training": STATE_MACHINE_HANDLER, "inference": STATE_MACHINE_HANDLER})
    walk_to(SEED_MODEL_ID, "1", "training")
    envelope = JobEnvelope.model_validate_json(sfn_event("succeeded")["detail"]["input"])
    return dispatched_job(envelope, STATE_MACHINE_HANDLER).id


def test_a_succeeded_execution_completes_its_job_with_the_output(sfn_training: str):
    assert handle(sfn_event("succeeded")) == "succeeded"

    job = get_job(SEED_MODEL_ID, sfn_training)
    assert job["status"] == "succeeded"
    assert job["output"] == {"model_uri": "s3://models/price/1", "loss": 0.12}
    assert get_version(SEED_MODEL_ID, "1")["version"]["status"] == "active"


@pytest.mark.parametrize(
    ("outcome", "words"),
    [("failed", "failed: States.TaskFailed: Training container"), ("timed_out", "timed out"), ("aborted", "aborted")],
)
def test_failed_timed_out_and_aborted_executions_fail_their_job(sfn_training: str, outcome: str, words: str):
    assert handle(sfn_event(outcome)) == "failed"

    job = get_job(SEED_MODEL_ID, sfn_training)
    assert job["status"] == "failed"
    assert words in job["error"]
    assert get_version(SEED_MODEL_ID, "1")["version"]["status"] == "failed"


def test_an_execution_of_another_state_machine_does_not_complete_the_job(sfn_training: str):
    event = sfn_event("succeeded")
    event["detail"]["stateMachineArn"] = STATE_MACHINE_HANDLER["state_machine_arn"].replace("train-price", "other")

    assert handle(event) == "foreign source"
    assert get_job(SEED_MODEL_ID, sfn_training)["status"] == "dispatched"


def test_a_redelivered_execution_event_changes_nothing(sfn_training: str):
    assert handle(sfn_event("succeeded")) == "succeeded"
    assert handle(sfn_event("failed")) == "already finished"

    assert get_job(SEED_MODEL_ID, sfn_training)["status"] == "succeeded"

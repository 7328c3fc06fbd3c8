"""The step_functions handler kind: its schema, StartExecution named after the job attempt (with
botocore's Stubber), and completion from "Step Functions Execution Status Change" events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from pydantic import TypeAdapter, ValidationError

from shared.dispatch.completions import completion_request, reported_result
from shared.domain.entities import Handler, Job
from shared.domain.requests import CompleteJobRequest
from shared.kinds import kind_of
from shared.kinds.envelope import JobEnvelope
from shared.kinds.starting import Backoff, DispatchFailed, StartContext
from shared.kinds.step_functions import StepFunctionsHandler, execution_name
from shared.kinds.step_functions_start import StepFunctionsStarter
from tests.conftest import load_event

NOW = datetime(2026, 1, 1, tzinfo=UTC)
STATE_MACHINE = "arn:aws:states:us-west-2:123456789012:stateMachine:train-price-model"
HANDLER = {"type": "step_functions", "state_machine_arn": STATE_MACHINE}
SAMPLES = ("succeeded", "failed", "timed_out", "aborted")


def sample(outcome: str) -> dict[str, Any]:
    return load_event(f"complete_job_events_sfn_{outcome}")


def sample_envelope() -> dict[str, Any]:
    return json.loads(sample("succeeded")["detail"]["input"])


def job(**changes: Any) -> Job:
    envelope = sample_envelope()
    fields: dict[str, Any] = {
        "id": envelope["job_id"],
        "model_id": envelope["model_id"],
        "version": envelope["version"],
        "action": envelope["action"],
        "status": "dispatched",
        "input": envelope["input"],
        "handler": HANDLER,
        "trigger": None,
        "attempt": 1,
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Job.model_validate({**fields, **changes})


# Schema ------------------------------------------------------------------------------------------


def test_a_state_machine_handler_validates_as_its_kind():
    handler = TypeAdapter(Handler).validate_python(HANDLER)

    assert isinstance(handler, StepFunctionsHandler)
    assert (handler.partition, handler.region, handler.account, handler.name) == (
        "aws",
        "us-west-2",
        "123456789012",
        "train-price-model",
    )
    assert kind_of(handler).type == "step_functions"
    assert handler.model_dump() == HANDLER


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:states:us-west-2:123456789012:execution:train:run-1",
        "arn:aws:lambda:us-west-2:123456789012:function:train",
        "arn:aws:states:us-west-2:1234:stateMachine:train",
        "arn:aws:states:us-west-2:123456789012:stateMachine:has space",
        "arn:aws:states:us-west-2:123456789012:stateMachine:" + "x" * 81,
        "arn:aws:states:us-west-2:123456789012:stateMachine:train\n",
    ],
    ids=["execution", "lambda", "short-account", "space", "too-long", "newline"],
)
def test_anything_but_a_state_machine_arn_is_refused(arn: str):
    with pytest.raises(ValidationError):
        TypeAdapter(Handler).validate_python({"type": "step_functions", "state_machine_arn": arn})


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError):
        TypeAdapter(Handler).validate_python({**HANDLER, "input": {}})


# Starting ----------------------------------------------------------------------------------------


@pytest.fixture
def stepfunctions() -> Any:
    client = boto3.client(
        "stepfunctions", region_name="us-west-2", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def starter(client: Any, sleeps: list[float] | None = None) -> StepFunctionsStarter:
    recorded = sleeps if sleeps is not None else []
    return StepFunctionsStarter(StartContext(client=lambda _service: client, backoff=Backoff(sleep=recorded.append)))


def expected_request(started: Job) -> dict[str, Any]:
    return {
        "stateMachineArn": STATE_MACHINE,
        "name": f"{started.id}-{started.attempt}",
        "input": JobEnvelope.of(started).model_dump_json(),
    }


def started_response(started: Job) -> dict[str, Any]:
    execution = STATE_MACHINE.replace(":stateMachine:", ":execution:") + f":{started.id}-{started.attempt}"
    return {"executionArn": execution, "startDate": NOW}


def test_a_job_starts_one_execution_named_after_its_attempt_with_the_envelope_as_input(stepfunctions: Any):
    client, stubber = stepfunctions
    started = job()
    stubber.add_response("start_execution", started_response(started), expected_request(started))

    assert starter(client).start(started) is None

    assert json.loads(expected_request(started)["input"])["job_id"] == started.id


def test_execution_names_fit_step_functions_limits():
    name = execution_name("1b4e28ba-2fa1-11d2-883f-0016d3cca427", 10)
    assert len(name) <= 80
    assert name.replace("-", "").isalnum()


def test_restarting_the_same_attempt_asks_for_the_same_execution(stepfunctions: Any):
    """StartExecution is idempotent on name and input: a restarted dispatch finds the running one."""
    client, stubber = stepfunctions
    started = job()
    stubber.add_response("start_execution", started_response(started), expected_request(started))
    stubber.add_response("start_execution", started_response(started), expected_request(started))

    starter(client).start(started)
    starter(client).start(started)


def test_an_execution_that_already_exists_for_the_attempt_counts_as_started(stepfunctions: Any):
    """Another input under the same name (or a closed execution): this attempt already ran; never twice."""
    client, stubber = stepfunctions
    started = job()
    stubber.add_client_error(
        "start_execution",
        "ExecutionAlreadyExists",
        "Execution Already Exists",
        400,
        expected_params=expected_request(started),
    )

    assert starter(client).start(started) is None


def test_the_next_attempt_starts_a_new_execution(stepfunctions: Any):
    client, stubber = stepfunctions
    second = job(attempt=2)
    stubber.add_response("start_execution", started_response(second), expected_request(second))

    starter(client).start(second)

    assert expected_request(second)["name"].endswith("-2")


def test_throttling_is_retried_with_the_same_name(stepfunctions: Any):
    client, stubber = stepfunctions
    started = job()
    sleeps: list[float] = []
    stubber.add_client_error(
        "start_execution", "ThrottlingException", "slow down", 400, expected_params=expected_request(started)
    )
    stubber.add_response("start_execution", started_response(started), expected_request(started))

    starter(client, sleeps).start(started)

    assert len(sleeps) == 1


@pytest.mark.parametrize("code", ["StateMachineDoesNotExist", "AccessDeniedException", "InvalidArn"])
def test_a_permanent_error_fails_the_start_with_the_reason(stepfunctions: Any, code: str):
    client, stubber = stepfunctions
    stubber.add_client_error("start_execution", code, "no", 400)

    with pytest.raises(DispatchFailed, match=f"Step Functions StartExecution {code}: no"):
        starter(client).start(job())


# Completion events -------------------------------------------------------------------------------


def test_a_succeeded_execution_reports_its_parsed_output():
    reported = reported_result(sample("succeeded"))

    assert reported is not None
    assert (reported.model_id, reported.job_id, reported.source) == (
        sample_envelope()["model_id"],
        sample_envelope()["job_id"],
        STATE_MACHINE,
    )
    assert completion_request(reported) == CompleteJobRequest(
        status="succeeded",
        output={"model_uri": "s3://models/price/1", "loss": 0.12},
        attempt=1,
        completion_token=sample_envelope()["completion_token"],
    )


@pytest.mark.parametrize(
    ("outcome", "words"),
    [
        ("failed", "failed: States.TaskFailed: Training container exited with code 137"),
        ("timed_out", "timed out: States.Timeout"),
        ("aborted", "was aborted"),
    ],
)
def test_failed_timed_out_and_aborted_executions_are_failures_saying_why(outcome: str, words: str):
    reported = reported_result(sample(outcome))

    assert reported is not None
    assert completion_request(reported).status == "failed"
    assert completion_request(reported).error == f"execution {sample_envelope()['job_id']}-1 {words}"


@pytest.mark.parametrize(
    ("output", "expected"), [("[1, 2]", {"result": [1, 2]}), ("7", {"result": 7}), ("null", {"result": None})]
)
def test_an_output_that_is_not_an_object_is_wrapped_as_the_result(output: str, expected: Any):
    event = sample("succeeded")
    event["detail"]["output"] = output

    assert completion_request(reported_result(event)).output == expected


def test_an_output_too_large_for_the_event_fails_the_job_saying_so():
    event = sample("succeeded")
    event["detail"]["output"] = None
    event["detail"]["outputDetails"] = {"included": False}

    result = completion_request(reported_result(event))

    assert result.status == "failed"
    assert "size limit" in result.error


def test_an_output_pie_cannot_store_fails_the_job():
    event = sample("succeeded")
    event["detail"]["output"] = '{"loss": NaN}'

    result = completion_request(reported_result(event))

    assert result.status == "failed"
    assert "cannot be stored" in result.error


@pytest.mark.parametrize("status", ["RUNNING", "PENDING_REDRIVE"])
def test_an_execution_that_has_not_ended_reports_nothing(status: str):
    event = sample("succeeded")
    event["detail"]["status"] = status

    assert reported_result(event) is None


@pytest.mark.parametrize(
    "change",
    [
        {"input": '{"hello": "world"}'},
        {"input": None, "inputDetails": {"included": False}},
        {"name": "someone-elses-execution"},
    ],
    ids=["not an envelope", "input not included", "name of another job"],
)
def test_an_execution_pie_did_not_start_for_the_job_reports_nothing(change: dict[str, Any]):
    event = sample("succeeded")
    event["detail"].update(change)

    assert reported_result(event) is None


def test_only_the_jobs_own_state_machine_is_its_source():
    handler = TypeAdapter(Handler).validate_python(HANDLER)
    kind = kind_of(handler)

    assert kind.reported_by(handler, STATE_MACHINE)
    assert not kind.reported_by(handler, STATE_MACHINE + "-v2")
    assert not kind.reported_by(handler, STATE_MACHINE.replace("123456789012", "999999999999"))

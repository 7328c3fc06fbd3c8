"""The stream dispatcher (functions/dispatch_jobs), fed the records PIE's writes put on the table's
stream: each job is started once however often its record arrives, start failures are retried and
then recorded on the job, a poison record fails alone, and in-process chains run to their end."""

from __future__ import annotations

import copy
import functools
import json
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from shared import runtime
from shared.data import outbox as outbox_module
from shared.domain.entities import Job
from shared.kinds import starting
from shared.runtime import outbox, use_stand_in
from shared.services import jobs as jobs_service
from tests.conftest import load_event
from tests.integration.api_events import SEED_MODEL_ID, create_model
from tests.integration.job_helpers import (
    ECS_TASK,
    LAMBDA_ARN,
    TRAINING_ARN,
    RecordingEcs,
    RecordingLambda,
    client_error,
    dispatch,
    drain,
    get_job,
    get_version,
    job_inserts,
    start_inference,
    start_training,
    started_job,
    table_stream,
)
from tests.integration.lifecycle_helpers import jobs_of, subscribe, walk_to

ECHO = {"type": "in_process", "implementation": "echo"}
FAIL = {"type": "in_process", "implementation": "fail"}


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The dispatcher's backoff records its delays instead of sleeping."""
    delays: list[float] = []
    monkeypatch.setattr(starting, "Backoff", functools.partial(starting.Backoff, sleep=delays.append))
    return delays


@pytest.fixture
def lambda_client(sleeps: list[float]) -> RecordingLambda:
    client = RecordingLambda()
    use_stand_in("lambda", client)
    return client


@pytest.fixture
def active_model(seed_model: dict[str, Any]) -> str:
    walk_to(SEED_MODEL_ID, "1", "active")
    return SEED_MODEL_ID


def status_of(model_id: str, job_id: str) -> str:
    return get_job(model_id, job_id)["status"]


# Exactly once -----------------------------------------------------------------------------------


def test_the_sample_stream_event_starts_its_job(seed_model: dict[str, Any], lambda_client: RecordingLambda):
    event = load_event("dispatch_jobs")
    job = Job.model_validate_json(event["Records"][0]["dynamodb"]["NewImage"]["doc"]["S"])
    outbox().commit([], [job], job.model_id, f"sample:{job.id}")

    assert dispatch(event["Records"]) == {"batchItemFailures": []}

    (invoked,) = lambda_client.calls
    assert invoked["FunctionName"] == LAMBDA_ARN
    assert invoked["InvocationType"] == "Event"
    assert "Qualifier" not in invoked
    assert json.loads(invoked["Payload"])["job_id"] == job.id
    dispatched = get_job(job.model_id, job.id)
    assert dispatched["status"] == "dispatched"
    assert dispatched["attempt"] == 1
    assert dispatched["dispatched_at"] is not None


def test_a_batch_delivered_three_times_starts_each_job_once(active_model: str, lambda_client: RecordingLambda):
    ids = sorted(started_job(start_inference(active_model, {"n": n}))["id"] for n in range(3))
    records = table_stream().read()
    assert len(job_inserts(records)) == 3

    for _ in range(3):
        assert dispatch(copy.deepcopy(records)) == {"batchItemFailures": []}

    assert lambda_client.invoked_job_ids() == ids
    for job_id in ids:
        job = get_job(active_model, job_id)
        assert (job["status"], job["attempt"]) == ("dispatched", 1)


def test_concurrent_deliveries_of_one_batch_start_each_job_once(active_model: str, lambda_client: RecordingLambda):
    ids = sorted(started_job(start_inference(active_model, {"n": n}))["id"] for n in range(3))
    records = table_stream().read()
    start = threading.Barrier(3)
    responses: list[dict[str, Any]] = []

    def deliver() -> None:
        start.wait()
        responses.append(dispatch(copy.deepcopy(records)))

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert responses == [{"batchItemFailures": []}] * 3
    assert lambda_client.invoked_job_ids() == ids


def _poisoned(record: dict[str, Any], kind: str) -> dict[str, Any]:
    poison = copy.deepcopy(record)
    poison["eventID"] = uuid.uuid4().hex
    poison["dynamodb"]["SequenceNumber"] = "9" * 21
    if kind == "unreadable job document":
        poison["dynamodb"]["NewImage"]["doc"] = {"S": '{"id": "truncated'}
    else:
        del poison["dynamodb"]["NewImage"]
    return poison


@pytest.mark.parametrize("kind", ["unreadable job document", "no new image"])
def test_a_poison_record_fails_alone_and_the_others_are_dispatched(
    active_model: str, lambda_client: RecordingLambda, kind: str
):
    ids = sorted(started_job(start_inference(active_model, {"n": n}))["id"] for n in range(2))
    good = job_inserts(table_stream().read())

    response = dispatch([good[0], _poisoned(good[0], kind), good[1]])

    assert response == {"batchItemFailures": [{"itemIdentifier": "9" * 21}]}
    assert lambda_client.invoked_job_ids() == ids
    assert all(status_of(active_model, job_id) == "dispatched" for job_id in ids)


def test_a_fan_out_left_by_a_crashed_request_is_materialized_once_however_often_delivered(
    active_model: str, lambda_client: RecordingLambda, monkeypatch: pytest.MonkeyPatch, table: Any
):
    now = datetime.now(UTC)
    handler = {"type": "lambda", "arn": LAMBDA_ARN}
    jobs = [
        Job(
            id=str(uuid.uuid4()),
            model_id=active_model,
            version="1",
            action="inference",
            status="queued",
            input={"n": n},
            handler=handler,
            trigger=None,
            created_at=now,
            updated_at=now,
        )
        for n in range(5)
    ]
    with monkeypatch.context() as crash:
        # Three items per transaction: two jobs fit, three overflow into a fan-out item; the
        # request then dies before it writes the overflow itself.
        crash.setattr(outbox_module, "TRANSACTION_ITEM_LIMIT", 3)
        crash.setattr(outbox_module.OutboxWriter, "materialize", lambda self, overflow: None)
        outbox().commit([], jobs, active_model, "crashed-change")
    assert len(jobs_of(table, active_model)) == 2
    stream = table_stream()
    records = stream.read()
    (fanout,) = [r for r in records if r["dynamodb"]["NewImage"]["entity_type"]["S"] == "FANOUT"]

    assert dispatch([copy.deepcopy(fanout)]) == {"batchItemFailures": []}
    assert dispatch([copy.deepcopy(fanout)]) == {"batchItemFailures": []}

    assert sorted(job["id"] for job in jobs_of(table, active_model)) == sorted(job.id for job in jobs)
    materialized = job_inserts(stream.read())
    assert sorted(r["dynamodb"]["Keys"]["SK"]["S"] for r in materialized) == sorted(f"JOB#{job.id}" for job in jobs[2:])
    assert dispatch(records + materialized) == {"batchItemFailures": []}
    assert lambda_client.invoked_job_ids() == sorted(job.id for job in jobs)


# Lambda -------------------------------------------------------------------------------------------


def test_a_lambda_job_is_invoked_asynchronously_on_its_qualifier_with_the_job_envelope(
    seed_model: dict[str, Any], lambda_client: RecordingLambda
):
    job = started_job(start_training(SEED_MODEL_ID, {"epochs": 3}, version="1"))

    assert dispatch(job_inserts(table_stream().read())) == {"batchItemFailures": []}

    (invoked,) = lambda_client.calls
    assert (invoked["FunctionName"], invoked["Qualifier"], invoked["InvocationType"]) == (TRAINING_ARN, "1", "Event")
    envelope = json.loads(invoked["Payload"])
    completion = envelope.pop("completion")
    assert len(envelope.pop("completion_token")) >= 43
    assert envelope == {
        "envelope_version": "1",
        "job_id": job["id"],
        "model_id": SEED_MODEL_ID,
        "version": "1",
        "action": "training",
        "attempt": 1,
        "input": {"epochs": 3},
        "trigger": None,
    }
    assert completion["method"] == "POST"
    assert completion["path"] == f"/v2/models/{SEED_MODEL_ID}/jobs/{job['id']}/complete"
    assert completion["scope"] == "jobs:write"
    assert status_of(SEED_MODEL_ID, job["id"]) == "dispatched"


def test_a_throttled_invoke_is_retried_with_backoff_until_it_is_accepted(
    seed_model: dict[str, Any], sleeps: list[float]
):
    client = boto3.client("lambda", region_name="us-west-2")
    stubber = Stubber(client)
    for _ in range(2):
        stubber.add_client_error(
            "invoke",
            service_error_code="TooManyRequestsException",
            service_message="Rate exceeded",
            http_status_code=429,
        )
    expected = {"FunctionName": TRAINING_ARN, "InvocationType": "Event", "Qualifier": "1", "Payload": ANY}
    stubber.add_response("invoke", {"StatusCode": 202}, expected)
    use_stand_in("lambda", client)
    job = started_job(start_training(SEED_MODEL_ID, {}))

    with stubber:
        assert dispatch(job_inserts(table_stream().read())) == {"batchItemFailures": []}
        stubber.assert_no_pending_responses()

    assert status_of(SEED_MODEL_ID, job["id"]) == "dispatched"
    assert len(sleeps) == 2
    assert sleeps[0] <= 0.1 and sleeps[1] <= 0.2  # capped exponential steps, jittered


def test_a_job_still_throttled_after_every_attempt_fails_with_the_reason(active_model: str, sleeps: list[float]):
    client = RecordingLambda(failures=[client_error("TooManyRequestsException", "Rate exceeded", status=429)] * 5)
    use_stand_in("lambda", client)
    job = started_job(start_inference(active_model, {}))

    assert dispatch(job_inserts(table_stream().read())) == {"batchItemFailures": []}

    assert len(client.calls) == 5
    assert len(sleeps) == 4
    failed = get_job(active_model, job["id"])
    assert failed["status"] == "failed"
    assert "5 attempts" in failed["error"]
    assert "TooManyRequestsException" in failed["error"]
    assert failed["completed_at"] is not None


def test_an_unknown_function_fails_the_job_at_once_and_its_training_version_with_it(
    seed_model: dict[str, Any], sleeps: list[float]
):
    not_found = client_error("ResourceNotFoundException", "Function not found: train:1", status=404)
    client = RecordingLambda(failures=[not_found])
    use_stand_in("lambda", client)
    job = started_job(start_training(SEED_MODEL_ID, {}))

    assert dispatch(job_inserts(table_stream().read())) == {"batchItemFailures": []}

    assert len(client.calls) == 1
    assert sleeps == []
    failed = get_job(SEED_MODEL_ID, job["id"])
    assert failed["status"] == "failed"
    assert "ResourceNotFoundException" in failed["error"]
    assert "Function not found" in failed["error"]
    version = get_version(SEED_MODEL_ID, "1")["version"]
    assert (version["status"], version["status_message"]) == ("failed", failed["error"])


# ECS ----------------------------------------------------------------------------------------------


@pytest.fixture
def ecs_model(table: Any) -> str:
    create_model(
        "trainer",
        handlers={"training": {"type": "ecs", "task": ECS_TASK}, "inference": {"type": "ecs", "task": "default/score"}},
    )
    return "trainer"


def test_an_ecs_job_runs_one_task_named_by_the_job_with_the_envelope_in_its_first_container(
    ecs_model: str, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PIE_ECS_RUN_TASK_DEFAULTS", json.dumps({"launchType": "FARGATE"}))
    ecs = RecordingEcs(container="trainer")
    use_stand_in("ecs", ecs)
    job = started_job(start_training(ecs_model, {"epochs": 3}))

    assert dispatch(job_inserts(table_stream().read())) == {"batchItemFailures": []}

    (run,) = ecs.calls
    assert run["cluster"] == "ml-cluster"
    assert run["taskDefinition"] == "train-price-model:3"
    assert run["clientToken"] == job["id"]
    assert run["startedBy"] == job["id"]
    assert run["launchType"] == "FARGATE"
    (override,) = run["overrides"]["containerOverrides"]
    assert override["name"] == "trainer"
    (variable,) = override["environment"]
    assert variable["name"] == "PIE_JOB"
    envelope = json.loads(variable["value"])
    assert (envelope["job_id"], envelope["model_id"], envelope["action"]) == (job["id"], ecs_model, "training")
    assert envelope["input"] == {"epochs": 3}
    assert envelope["completion"]["path"] == f"/v2/models/{ecs_model}/jobs/{job['id']}/complete"
    assert ecs.described == ["train-price-model:3"]
    assert status_of(ecs_model, job["id"]) == "dispatched"


def test_run_task_failures_fail_the_job_with_their_reason(ecs_model: str, sleeps: list[float]):
    missing = {
        "tasks": [],
        "failures": [
            {"arn": "arn:aws:ecs:us-west-2:123456789012:task-definition/train-price-model:3", "reason": "MISSING"}
        ],
    }
    ecs = RecordingEcs(responses=[missing])
    use_stand_in("ecs", ecs)
    job = started_job(start_training(ecs_model, {}))

    dispatch(job_inserts(table_stream().read()))

    assert len(ecs.calls) == 1
    assert sleeps == []
    failed = get_job(ecs_model, job["id"])
    assert failed["status"] == "failed"
    assert "MISSING" in failed["error"]
    assert get_version(ecs_model, "1")["version"]["status"] == "failed"


def test_a_capacity_failure_is_retried_with_the_same_client_token(ecs_model: str, sleeps: list[float]):
    instance = "arn:aws:ecs:us-west-2:123456789012:container-instance/ml-cluster/1a2b"
    no_memory = {"tasks": [], "failures": [{"arn": instance, "reason": "RESOURCE:MEMORY"}]}
    ecs = RecordingEcs(responses=[no_memory, client_error("ThrottlingException", "Rate exceeded", "RunTask")])
    use_stand_in("ecs", ecs)
    job = started_job(start_training(ecs_model, {}))

    dispatch(job_inserts(table_stream().read()))

    assert [call["clientToken"] for call in ecs.calls] == [job["id"]] * 3
    assert len(sleeps) == 2
    assert status_of(ecs_model, job["id"]) == "dispatched"


# In process ---------------------------------------------------------------------------------------


def _in_process_model(model_id: str, handler: dict[str, str]) -> None:
    create_model(model_id, handlers={"training": handler, "inference": handler})
    walk_to(model_id, "1", "active")


def test_an_echo_job_succeeds_with_its_input_and_its_chain_continues_on_the_next_delivery(table: Any):
    _in_process_model("first", ECHO)
    _in_process_model("second", ECHO)
    subscription = subscribe("first", "second", event="inference_complete", input_source="trigger_output")
    job = started_job(start_inference("first", {"x": 1}))
    stream = table_stream()

    assert dispatch(stream.read()) == {"batchItemFailures": []}

    done = get_job("first", job["id"])
    assert (done["status"], done["output"], done["attempt"]) == ("succeeded", {"x": 1}, 1)
    (fired,) = jobs_of(table, "second")
    assert fired["status"] == "queued"
    assert fired["trigger"]["subscription_id"] == subscription.id
    assert fired["trigger"]["source_job_id"] == job["id"]

    assert dispatch(stream.read()) == {"batchItemFailures": []}

    second = get_job("second", fired["id"])
    assert (second["status"], second["output"]) == ("succeeded", {"x": 1})


def test_a_cyclic_in_process_chain_stops_at_the_configured_depth_limit(table: Any, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PIE_MAX_CHAIN_DEPTH", "3")
    runtime.reset()
    _in_process_model("loop", ECHO)
    subscribe("loop", "loop", event="inference_complete", input_source="trigger_output")
    started_job(start_inference("loop", {"x": 1}))

    drain(table_stream())

    jobs = jobs_of(table, "loop")
    assert all(job["status"] == "succeeded" for job in jobs)
    assert all(job["output"] == {"x": 1} for job in jobs)
    assert sorted(job["trigger"]["depth"] if job["trigger"] else 0 for job in jobs) == [0, 1, 2, 3]


def test_a_failing_in_process_job_fails_with_the_reason_it_gives(table: Any):
    _in_process_model("broken", FAIL)
    subscribe("broken", "broken", event="inference_complete", input_source="trigger_output")
    job = started_job(start_inference("broken", {"message": "weights are missing"}))

    assert dispatch(table_stream().read()) == {"batchItemFailures": []}

    failed = get_job("broken", job["id"])
    assert (failed["status"], failed["error"], failed["output"]) == ("failed", "weights are missing", None)
    assert [j["id"] for j in jobs_of(table, "broken")] == [job["id"]]


def test_an_echo_job_whose_output_is_past_the_largest_float_completes_against_its_output_schema(table: Any):
    nines = int("9" * 309)  # odd: no multiple of 2.0
    schema = {"type": "object", "properties": {"n": {"multipleOf": 2.0}}}
    contracts = {"inference": {"output_schema": schema}}
    create_model("overflow", handlers={"training": ECHO, "inference": ECHO}, handler_contracts=contracts)
    walk_to("overflow", "1", "active")
    job = started_job(start_inference("overflow", {"n": nines}))

    assert dispatch(table_stream().read()) == {"batchItemFailures": []}

    done = get_job("overflow", job["id"])
    assert (done["status"], done["output"]) == ("succeeded", {"n": nines})


def test_an_in_process_job_whose_completion_raises_fails_at_once_with_the_real_reason(
    table: Any, monkeypatch: pytest.MonkeyPatch
):
    _in_process_model("recording-breaks", ECHO)
    job = started_job(start_inference("recording-breaks", {"x": 1}))

    def raises(*_: Any) -> list[str]:
        raise OverflowError("int too large to convert to float")

    monkeypatch.setattr(jobs_service.contracts, "schema_violations", raises)

    assert dispatch(table_stream().read()) == {"batchItemFailures": []}

    failed = get_job("recording-breaks", job["id"])
    assert failed["status"] == "failed"
    assert failed["error"] == "its result could not be recorded: OverflowError: int too large to convert to float"


# Triggered training -------------------------------------------------------------------------------


@pytest.fixture
def trains_on_inference(table: Any, lambda_client: RecordingLambda) -> str:
    """``source`` (echo) fires a training of the seed model each time it completes an inference."""
    _in_process_model("source", ECHO)
    create_model(SEED_MODEL_ID)
    subscribe("source", SEED_MODEL_ID, event="inference_complete", action="training", input_source="trigger_output")
    return SEED_MODEL_ID


def test_a_triggered_training_binds_a_pending_version_when_it_fires(
    trains_on_inference: str, lambda_client: RecordingLambda
):
    started_job(start_inference("source", {"data_path": "s3://d/"}))

    drain(table_stream())

    (invoked,) = lambda_client.calls
    assert (invoked["FunctionName"], invoked["Qualifier"]) == (TRAINING_ARN, "1")
    assert json.loads(invoked["Payload"])["input"] == {"data_path": "s3://d/"}
    version = get_version(trains_on_inference, "1")["version"]
    assert version["status"] == "training"
    assert version["status_history"][-1]["by"] == "pie"
    assert version["lineage"]["job_id"] == json.loads(invoked["Payload"])["job_id"]
    assert version["lineage"]["trigger"]["source_model_id"] == "source"


def test_a_triggered_training_of_an_active_version_cuts_and_trains_the_next(
    trains_on_inference: str, lambda_client: RecordingLambda, table: Any
):
    walk_to(trains_on_inference, "1", "active")
    started_job(start_inference("source", {}))

    drain(table_stream())

    (job,) = jobs_of(table, trains_on_inference)
    assert (job["status"], job["version"]) == ("dispatched", "2")
    assert [json.loads(call["Payload"])["version"] for call in lambda_client.calls] == ["2"]
    assert get_version(trains_on_inference, "1")["version"]["status"] == "active"
    cut = get_version(trains_on_inference, "2")["version"]
    assert (cut["status"], cut["training_job_id"]) == ("training", job["id"])


def test_a_triggered_training_leaves_a_version_another_job_trains_alone_and_cuts_its_own(
    trains_on_inference: str, lambda_client: RecordingLambda, table: Any
):
    """A triggered training never trains the version a user's job is training, and never fails
    for it: it cuts the next version."""
    users_job = started_job(start_training(trains_on_inference, {}))
    started_job(start_inference("source", {}))

    drain(table_stream())

    (triggered,) = [job for job in jobs_of(table, trains_on_inference) if job["id"] != users_job["id"]]
    assert (triggered["status"], triggered["version"]) == ("dispatched", "2")
    assert sorted(json.loads(call["Payload"])["job_id"] for call in lambda_client.calls) == sorted(
        [users_job["id"], triggered["id"]]
    )
    assert status_of(trains_on_inference, users_job["id"]) == "dispatched"
    assert get_version(trains_on_inference, "1")["version"]["training_job_id"] == users_job["id"]
    assert get_version(trains_on_inference, "2")["version"]["training_job_id"] == triggered["id"]


# Step Functions ----------------------------------------------------------------------------------

STATE_MACHINE = "arn:aws:states:us-west-2:123456789012:stateMachine:train-price-model"


class RecordingStepFunctions:
    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls: list[dict[str, Any]] = []

    def start_execution(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        if self.failures:
            raise self.failures.pop(0)
        execution = STATE_MACHINE.replace(":stateMachine:", ":execution:") + f":{request['name']}"
        return {"executionArn": execution, "startDate": datetime.now(UTC)}


@pytest.fixture
def sfn_model(table: Any) -> str:
    handler = {"type": "step_functions", "state_machine_arn": STATE_MACHINE}
    create_model("workflow", handlers={"training": handler, "inference": handler})
    return "workflow"


def test_a_step_functions_job_starts_one_execution_named_after_its_attempt_and_completes_from_its_event(
    sfn_model: str, sleeps: list[float]
):
    states = RecordingStepFunctions()
    use_stand_in("stepfunctions", states)
    job = started_job(start_training(sfn_model, {"epochs": 3}))
    records = job_inserts(table_stream().read())

    assert dispatch(records) == {"batchItemFailures": []}
    assert dispatch(records) == {"batchItemFailures": []}  # redelivered: already claimed

    (started,) = states.calls
    assert started["stateMachineArn"] == STATE_MACHINE
    assert started["name"] == f"{job['id']}-1"
    envelope = json.loads(started["input"])
    assert (envelope["job_id"], envelope["model_id"], envelope["input"]) == (job["id"], sfn_model, {"epochs": 3})
    assert status_of(sfn_model, job["id"]) == "dispatched"

    event = load_event("complete_job_events_sfn_succeeded")
    event["detail"].update(name=started["name"], input=started["input"], stateMachineArn=STATE_MACHINE)
    assert runtime.aws_completions().handle(event) == "succeeded"
    assert get_version(sfn_model, "1")["version"]["status"] == "active"


def test_a_state_machine_that_cannot_be_started_fails_the_job_with_the_reason(sfn_model: str, sleeps: list[float]):
    use_stand_in(
        "stepfunctions",
        RecordingStepFunctions(
            client_error("StateMachineDoesNotExist", "State Machine Does Not Exist", "StartExecution")
        ),
    )
    job = started_job(start_training(sfn_model, {"epochs": 3}))

    dispatch(job_inserts(table_stream().read()))

    failed = get_job(sfn_model, job["id"])
    assert failed["status"] == "failed"
    assert "StateMachineDoesNotExist" in failed["error"]

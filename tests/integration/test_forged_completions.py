"""Forged job results: a result completes a job only with its attempt's completion token.

Lambda's destination records reach EventBridge with source ``lambda``, which any principal allowed
``events:PutEvents`` on the bus can put; a job's id, model, handler and attempt are all readable
through the API. Each test here forges what such a principal could send, naming a victim job
exactly as the API shows it, through the deployed completion function
(functions/complete_job_events), and checks that the job is unchanged and the refusal logged; the
genuine report (the envelope the dispatcher really sent) still completes it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from functions.complete_job_events.handler import lambda_handler
from pie_local.settings import LOCAL_TABLE_NAME
from shared.data import keys
from shared.data.entities import COMPLETION_TOKEN_ATTRIBUTE
from shared.kinds.envelope import JobEnvelope
from shared.runtime import use_stand_in
from tests.conftest import LambdaContext, load_event
from tests.integration.api_events import SEED_MODEL_ID, call, create_model
from tests.integration.job_helpers import (
    ECS_TASK,
    LAMBDA_ARN,
    RecordingEcs,
    RecordingLambda,
    complete,
    drain,
    get_job,
    start_inference,
    started_job,
    table_stream,
)
from tools.openapi import build_document

ACCOUNT = "123456789012"  # the local deployment's, and its handlers'
STATE_MACHINE = "arn:aws:states:us-west-2:123456789012:stateMachine:train-price-model"
# What a forger can put where the token goes: nothing, a guess, the empty string.
FORGED_TOKENS = (None, "Yq3pZ0c8wM1sV4nR7tK2bH6xJ9fL5dA0uE3gW8iN1oQ", "")


def handle(event: dict[str, Any]) -> str:
    return lambda_handler(event, LambdaContext())["outcome"]


def victims_envelope(job: dict[str, Any], token: str | None) -> dict[str, Any]:
    """The envelope of a job as anyone who can read the job through the API can rebuild it."""
    envelope = JobEnvelope.model_validate(
        {
            "job_id": job["id"],
            "model_id": job["model_id"],
            "version": job["version"],
            "action": job["action"],
            "attempt": job["attempt"],
            "input": job["input"],
            "trigger": job["trigger"],
            "completion": {"path": f"/v2/models/{job['model_id']}/jobs/{job['id']}/complete"},
        }
    ).model_dump(mode="json", exclude={"completion_token"})
    return envelope if token is None else {**envelope, "completion_token": token}


def lambda_result(envelope: dict[str, Any], function_arn: str = f"{LAMBDA_ARN}:$LATEST") -> dict[str, Any]:
    """A "Lambda Function Invocation Result - Success" event for ``envelope``, as PutEvents can put it."""
    event = load_event("complete_job_events")
    event["resources"] = [f"arn:aws:events:us-west-2:{ACCOUNT}:event-bus/default", function_arn]
    event["detail"]["requestContext"]["functionArn"] = function_arn
    event["detail"]["requestPayload"] = envelope
    event["detail"]["responsePayload"] = {"price": 0.01}
    return event


@pytest.fixture
def lambda_client() -> RecordingLambda:
    client = RecordingLambda()
    use_stand_in("lambda", client)
    return client


@pytest.fixture
def victim(seed_model: dict[str, Any], lambda_client: RecordingLambda) -> dict[str, Any]:
    """Another team's inference job, dispatched to its Lambda handler: the job as the API shows it."""
    job = started_job(start_inference(SEED_MODEL_ID, {"features": [1, 2]}, version="1"))
    drain(table_stream())
    return get_job(SEED_MODEL_ID, job["id"])


def sent_envelope(lambda_client: RecordingLambda, job_id: str, attempt: int = 1) -> dict[str, Any]:
    (envelope,) = [e for e in lambda_client.envelopes() if (e["job_id"], e["attempt"]) == (job_id, attempt)]
    return envelope


# Lambda destination records --------------------------------------------------------------------


@pytest.mark.parametrize("token", FORGED_TOKENS)
@pytest.mark.parametrize("delivery", ["through EventBridge", "directly"])
def test_a_forged_lambda_result_naming_another_teams_job_is_refused_and_logged(
    victim: dict[str, Any], token: str | None, delivery: str, caplog: pytest.LogCaptureFixture
):
    forged = lambda_result(victims_envelope(victim, token))
    event = forged if delivery == "through EventBridge" else forged["detail"]

    with caplog.at_level(logging.WARNING):
        outcome = handle(event)

    assert outcome in ("unproven", "forged")
    assert get_job(SEED_MODEL_ID, victim["id"]) == victim
    assert any(victim["id"] == getattr(record, "job_id", None) for record in caplog.records)


def test_the_genuine_lambda_result_completes_the_job(victim: dict[str, Any], lambda_client: RecordingLambda):
    assert handle(lambda_result(victims_envelope(victim, "guess"))) == "forged"

    assert handle(lambda_result(sent_envelope(lambda_client, victim["id"]))) == "succeeded"

    job = get_job(SEED_MODEL_ID, victim["id"])
    assert (job["status"], job["output"]) == ("succeeded", {"price": 0.01})


def test_a_lambda_result_from_another_account_than_the_handlers_is_refused_even_with_the_token(
    victim: dict[str, Any], lambda_client: RecordingLambda
):
    event = lambda_result(sent_envelope(lambda_client, victim["id"]))
    event["account"] = "210987654321"

    assert handle(event) == "foreign account"
    assert get_job(SEED_MODEL_ID, victim["id"]) == victim


# ECS task state changes and Step Functions status changes ----------------------------------------


@pytest.fixture
def ecs_victim(table: Any) -> tuple[dict[str, Any], RecordingEcs]:
    handler = {"type": "ecs", "task": ECS_TASK}
    create_model("ecs-team", handlers={"training": handler, "inference": handler})
    ecs = RecordingEcs()
    use_stand_in("ecs", ecs)
    job = started_job(start_inference("ecs-team", {"features": [1]}, version="1"))
    drain(table_stream())
    return get_job("ecs-team", job["id"]), ecs


def task_stopped(job: dict[str, Any], envelope: dict[str, Any]) -> dict[str, Any]:
    event = load_event("complete_job_events_ecs")
    event["detail"]["startedBy"] = job["id"]
    event["detail"]["overrides"]["containerOverrides"][0]["environment"][0]["value"] = json.dumps(envelope)
    return event


@pytest.mark.parametrize("token", FORGED_TOKENS)
def test_a_forged_ecs_task_state_change_is_refused(ecs_victim: tuple[dict[str, Any], RecordingEcs], token: str | None):
    job, _ = ecs_victim

    assert handle(task_stopped(job, victims_envelope(job, token))) in ("unproven", "forged")

    assert get_job("ecs-team", job["id"]) == job


def test_the_genuine_ecs_task_state_change_completes_the_job_from_the_deployments_account_only(
    ecs_victim: tuple[dict[str, Any], RecordingEcs],
):
    job, ecs = ecs_victim
    (run_task,) = ecs.calls
    genuine = task_stopped(job, json.loads(run_task["overrides"]["containerOverrides"][0]["environment"][0]["value"]))
    elsewhere = {**genuine, "account": "210987654321"}

    assert handle(elsewhere) == "foreign account"
    assert get_job("ecs-team", job["id"]) == job
    assert handle(genuine) == "succeeded"


class RecordingStepFunctions:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def start_execution(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        return {"executionArn": f"{STATE_MACHINE.replace(':stateMachine:', ':execution:')}:{request['name']}"}


@pytest.fixture
def sfn_victim(table: Any) -> tuple[dict[str, Any], RecordingStepFunctions]:
    handler = {"type": "step_functions", "state_machine_arn": STATE_MACHINE}
    create_model("sfn-team", handlers={"training": handler, "inference": handler})
    states = RecordingStepFunctions()
    use_stand_in("stepfunctions", states)
    job = started_job(start_inference("sfn-team", {"features": [1]}, version="1"))
    drain(table_stream())
    return get_job("sfn-team", job["id"]), states


def execution_ended(job: dict[str, Any], envelope_json: str) -> dict[str, Any]:
    event = load_event("complete_job_events_sfn_succeeded")
    event["detail"].update(name=f"{job['id']}-{job['attempt']}", input=envelope_json, stateMachineArn=STATE_MACHINE)
    return event


@pytest.mark.parametrize("token", FORGED_TOKENS)
def test_a_forged_step_functions_status_change_is_refused(
    sfn_victim: tuple[dict[str, Any], RecordingStepFunctions], token: str | None
):
    job, _ = sfn_victim

    assert handle(execution_ended(job, json.dumps(victims_envelope(job, token)))) in ("unproven", "forged")

    assert get_job("sfn-team", job["id"]) == job


def test_the_genuine_step_functions_status_change_completes_the_job(
    sfn_victim: tuple[dict[str, Any], RecordingStepFunctions],
):
    job, states = sfn_victim
    (started,) = states.calls

    assert handle(execution_ended(job, started["input"])) == "succeeded"
    assert get_job("sfn-team", job["id"])["status"] == "succeeded"


# One token per attempt -------------------------------------------------------------------------------


def test_each_attempt_gets_a_new_token_and_an_earlier_attempts_token_is_refused(
    victim: dict[str, Any], lambda_client: RecordingLambda
):
    stream = table_stream()
    first = sent_envelope(lambda_client, victim["id"])
    failure = lambda_result(first)
    failure["detail"]["requestContext"]["condition"] = "RetriesExhausted"
    failure["detail"]["responsePayload"] = {"errorType": "ValueError", "errorMessage": "bad features"}
    assert handle(failure) == "failed"
    status, body, _ = call("retry_job", model_id=SEED_MODEL_ID, job_id=victim["id"])
    assert status == 202, body
    drain(stream)
    second = sent_envelope(lambda_client, victim["id"], attempt=2)
    retried = get_job(SEED_MODEL_ID, victim["id"])

    assert second["completion_token"] != first["completion_token"]
    # The first attempt's token, presented for the attempt now in flight, proves nothing.
    replayed = lambda_result({**first, "attempt": 2})
    assert handle(replayed) == "forged"
    assert handle(lambda_result(first)) == "stale attempt"
    assert get_job(SEED_MODEL_ID, victim["id"]) == retried
    assert handle(lambda_result(second)) == "succeeded"


def test_tokens_are_long_random_and_differ_between_jobs(seed_model: dict[str, Any], lambda_client: RecordingLambda):
    for _ in range(3):
        started_job(start_inference(SEED_MODEL_ID, {"features": [1]}, version="1"))
    drain(table_stream())

    tokens = [envelope["completion_token"] for envelope in lambda_client.envelopes()]

    assert len(set(tokens)) == 3
    assert all(len(token) >= 43 for token in tokens)


# Never shown ------------------------------------------------------------------------------------------


def test_the_token_is_stored_with_the_job_but_no_api_answer_shows_it(
    victim: dict[str, Any], lambda_client: RecordingLambda, table: Any
):
    token = sent_envelope(lambda_client, victim["id"])["completion_token"]
    key = keys.job_key(victim["model_id"], victim["id"])
    item = table.get_item(TableName=LOCAL_TABLE_NAME, Key={name: {"S": value} for name, value in key.items()})
    assert item["Item"][COMPLETION_TOKEN_ATTRIBUTE] == {"S": token}

    answers = [
        call("get_job", model_id=SEED_MODEL_ID, job_id=victim["id"]),
        call("list_jobs", model_id=SEED_MODEL_ID),
        call("list_all_jobs"),
        complete(SEED_MODEL_ID, victim["id"], {"status": "succeeded", "output": {}, "completion_token": token}),
        call("get_job", model_id=SEED_MODEL_ID, job_id=victim["id"]),
    ]

    for status, body, _ in answers:
        assert status == 200, body
        assert token not in json.dumps(body)
        assert COMPLETION_TOKEN_ATTRIBUTE not in json.dumps(body)


def test_the_published_job_schema_has_no_token():
    schemas = build_document()["components"]["schemas"]

    holders = sorted(name for name, schema in schemas.items() if COMPLETION_TOKEN_ATTRIBUTE in json.dumps(schema))

    assert holders == ["CompleteJobRequest"]


# The HTTP route ---------------------------------------------------------------------------------------


def test_the_route_refuses_another_token_than_the_attempts_and_changes_nothing(victim: dict[str, Any]):
    status, body, _ = complete(SEED_MODEL_ID, victim["id"], {"status": "succeeded", "completion_token": "guess"})

    assert status == 409
    assert body is not None
    assert body["success"] is False
    assert "completion token" in body["message"]
    assert "guess" not in body["message"]
    assert get_job(SEED_MODEL_ID, victim["id"]) == victim


@pytest.mark.parametrize("with_token", [True, False])
def test_the_route_completes_with_the_attempts_token_or_with_none(
    victim: dict[str, Any], lambda_client: RecordingLambda, with_token: bool
):
    body: dict[str, Any] = {"status": "succeeded", "output": {"price": 1.0}}
    if with_token:
        body["completion_token"] = sent_envelope(lambda_client, victim["id"])["completion_token"]

    status, answer, _ = complete(SEED_MODEL_ID, victim["id"], body)

    assert status == 200, answer
    assert get_job(SEED_MODEL_ID, victim["id"])["status"] == "succeeded"

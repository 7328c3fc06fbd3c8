"""Starting a claimed job: backoff, Lambda Invoke, ECS RunTask and in-process implementations."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from shared.dispatch.implementations import IMPLEMENTATIONS, ImplementationFailed
from shared.domain.entities import Job, JobTrigger
from shared.kinds import starting
from shared.kinds.ecs import EcsSettings
from shared.kinds.ecs_start import EcsStarter
from shared.kinds.envelope import JobEnvelope
from shared.kinds.in_process_start import InProcessStarter
from shared.kinds.lambda_start import LambdaStarter
from shared.kinds.starting import Backoff, DispatchFailed, Retry, StartContext

NOW = datetime(2026, 1, 1, tzinfo=UTC)
JOB_ID = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"


def job(handler: dict[str, Any], **changes: Any) -> Job:
    fields: dict[str, Any] = {
        "id": JOB_ID,
        "model_id": "m",
        "version": "3",
        "action": "training",
        "status": "dispatched",
        "input": {"epochs": 2},
        "handler": handler,
        "trigger": None,
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Job.model_validate({**fields, **changes})


def on(client: Any, backoff: Backoff, **settings: Any) -> StartContext:
    """A start context whose every service is ``client``."""
    return StartContext(client=lambda _service: client, backoff=backoff, **settings)


def _no_client(service: str) -> Any:
    raise AssertionError(f"in-process jobs need no {service} client")


def client_error(code: str, message: str = "nope") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "Op")


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


# Backoff ------------------------------------------------------------------------------------------


def test_backoff_returns_the_first_result_that_is_not_a_retry():
    outcomes = iter([Retry("busy"), Retry("busy"), "started"])
    sleeps = Sleeps()

    def attempt() -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert Backoff(sleep=sleeps).run(attempt) == "started"
    assert len(sleeps) == 2


def test_backoff_gives_up_after_its_attempts_with_the_last_reason():
    calls = []
    sleeps = Sleeps()

    def attempt() -> None:
        calls.append(1)
        raise Retry(f"busy {len(calls)}")

    with pytest.raises(DispatchFailed) as failed:
        Backoff(attempts=4, sleep=sleeps).run(attempt)

    assert len(calls) == 4
    assert len(sleeps) == 3  # no pointless sleep after the last attempt
    assert failed.value.reason == "gave up after 4 attempts: busy 4"


def always_busy() -> None:
    raise Retry("busy")


def test_backoff_delays_grow_exponentially_up_to_the_cap(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(starting.random, "uniform", lambda low, high: high)  # the top of each jitter range
    sleeps = Sleeps()

    with pytest.raises(DispatchFailed):
        Backoff(attempts=7, base_seconds=0.1, cap_seconds=1.0, sleep=sleeps).run(always_busy)

    assert sleeps == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


def test_backoff_does_not_retry_a_dispatch_failure():
    sleeps = Sleeps()

    def denied() -> None:
        raise DispatchFailed("denied")

    with pytest.raises(DispatchFailed, match="denied"):
        Backoff(sleep=sleeps).run(denied)

    assert sleeps == []


# Lambda -------------------------------------------------------------------------------------------


class FakeLambda:
    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        if self.failures:
            raise self.failures.pop(0)
        return {"StatusCode": 202}


LAMBDA = {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:train"}


def test_lambda_jobs_are_invoked_asynchronously_with_their_envelope():
    client = FakeLambda()

    LambdaStarter(on(client, Backoff(sleep=Sleeps()))).start(job(LAMBDA))

    (call,) = client.calls
    assert set(call) == {"FunctionName", "InvocationType", "Payload"}  # no Qualifier without a version
    assert call["FunctionName"] == LAMBDA["arn"]
    assert call["InvocationType"] == "Event"
    assert json.loads(call["Payload"]) == json.loads(JobEnvelope.of(job(LAMBDA)).model_dump_json())


def test_a_lambda_handlers_version_is_the_qualifier():
    client = FakeLambda()

    LambdaStarter(on(client, Backoff(sleep=Sleeps()))).start(job({**LAMBDA, "version": "live"}))

    assert client.calls[0]["Qualifier"] == "live"


@pytest.mark.parametrize(
    "failure",
    [
        client_error("TooManyRequestsException"),
        client_error("ResourceConflictException"),
        client_error("ServiceException"),
        EndpointConnectionError(endpoint_url="https://lambda.us-west-2.amazonaws.com"),
    ],
    ids=["throttled", "function updating", "service error", "connection"],
)
def test_transient_lambda_errors_are_retried(failure: Exception):
    client = FakeLambda(failure)
    sleeps = Sleeps()

    LambdaStarter(on(client, Backoff(sleep=sleeps))).start(job(LAMBDA))

    assert len(client.calls) == 2
    assert len(sleeps) == 1


@pytest.mark.parametrize(
    "code", ["ResourceNotFoundException", "AccessDeniedException", "InvalidParameterValueException"]
)
def test_permanent_lambda_errors_fail_at_once_with_the_code_and_message(code: str):
    client = FakeLambda(client_error(code, "it went wrong"))

    with pytest.raises(DispatchFailed) as failed:
        LambdaStarter(on(client, Backoff(sleep=Sleeps()))).start(job(LAMBDA))

    assert len(client.calls) == 1
    assert code in failed.value.reason
    assert "it went wrong" in failed.value.reason


# ECS ----------------------------------------------------------------------------------------------

ECS = {"type": "ecs", "task": "ml-cluster/train-price-model:3"}


class FakeEcs:
    def __init__(self, *responses: dict[str, Any] | Exception) -> None:
        self.responses = list(responses)
        self.calls: list[dict[str, Any]] = []
        self.described: list[str] = []

    def describe_task_definition(self, taskDefinition: str) -> dict[str, Any]:  # boto3's name
        self.described.append(taskDefinition)
        return {"taskDefinition": {"containerDefinitions": [{"name": "main"}, {"name": "sidecar"}]}}

    def run_task(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        response = self.responses.pop(0) if self.responses else {"tasks": [{"taskArn": "t"}], "failures": []}
        if isinstance(response, Exception):
            raise response
        return response


def test_ecs_jobs_run_one_task_named_by_the_job_with_the_envelope_in_the_first_container():
    client = FakeEcs()

    defaults = {"launchType": "FARGATE", "count": 1}
    EcsStarter(
        on(client, Backoff(sleep=Sleeps()), kind_settings={"ecs": EcsSettings(run_task_defaults=defaults)})
    ).start(job(ECS))

    (call,) = client.calls
    assert call["cluster"] == "ml-cluster"
    assert call["taskDefinition"] == "train-price-model:3"
    assert call["clientToken"] == JOB_ID
    assert call["startedBy"] == JOB_ID
    assert (call["launchType"], call["count"]) == ("FARGATE", 1)
    assert call["overrides"] == {
        "containerOverrides": [
            {"name": "main", "environment": [{"name": "PIE_JOB", "value": JobEnvelope.of(job(ECS)).model_dump_json()}]}
        ]
    }


def test_the_first_container_of_a_task_definition_is_looked_up_once():
    client = FakeEcs()
    starter = EcsStarter(on(client, Backoff(sleep=Sleeps())))

    starter.start(job(ECS))
    starter.start(job(ECS, id="2b4e28ba-2fa1-11d2-883f-0016d3cca427"))

    assert client.described == ["train-price-model:3"]


@pytest.mark.parametrize(
    "transient",
    [
        {"tasks": [], "failures": [{"arn": "a", "reason": "RESOURCE:CPU"}]},
        {"tasks": [], "failures": [{"arn": "a", "reason": "AGENT"}]},
        client_error("ThrottlingException"),
    ],
    ids=["no cpu", "agent disconnected", "throttled"],
)
def test_transient_ecs_failures_are_retried_with_the_same_client_token(transient: Any):
    client = FakeEcs(transient)
    sleeps = Sleeps()

    EcsStarter(on(client, Backoff(sleep=sleeps))).start(job(ECS))

    assert [call["clientToken"] for call in client.calls] == [JOB_ID, JOB_ID]
    assert len(sleeps) == 1


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (
            {"tasks": [], "failures": [{"arn": "td", "reason": "MISSING", "detail": "no such revision"}]},
            "MISSING (no such revision)",
        ),
        ({"tasks": [], "failures": []}, "no task started"),
        (client_error("ClusterNotFoundException", "Not found."), "ClusterNotFoundException: Not found."),
    ],
    ids=["failure in a 200", "nothing started", "unknown cluster"],
)
def test_permanent_ecs_failures_fail_at_once_with_the_reason(response: Any, reason: str):
    client = FakeEcs(response)

    with pytest.raises(DispatchFailed) as failed:
        EcsStarter(on(client, Backoff(sleep=Sleeps()))).start(job(ECS))

    assert len(client.calls) == 1
    assert reason in failed.value.reason


# In process ---------------------------------------------------------------------------------------


def in_process(implementation: str, job_input: dict[str, Any], implementations: Any = IMPLEMENTATIONS):
    handler = {"type": "in_process", "implementation": implementation}
    return InProcessStarter(StartContext(client=_no_client, backoff=Backoff(), implementations=implementations)).start(
        job(handler, input=job_input)
    )


def test_echo_succeeds_with_its_input():
    result = in_process("echo", {"x": [1, 2]})

    assert (result.output, result.error) == ({"x": [1, 2]}, None)


def test_fail_fails_with_the_inputs_message_or_a_default():
    assert in_process("fail", {"message": "weights missing"}).error == "weights missing"
    assert in_process("fail", {}).error == "failed on purpose"
    assert in_process("fail", {}).output is None


def test_an_implementation_that_crashes_fails_its_job_and_not_the_dispatcher():
    def crash(_: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("features")

    result = in_process("crash", {}, {"crash": crash})

    assert result.output is None
    assert result.error == "implementation 'crash' raised KeyError: 'features'"


def test_an_implementation_that_is_not_registered_fails_its_job():
    assert in_process("gone", {}, {}).error == "no in-process implementation named 'gone'"


def test_an_output_that_is_not_an_object_is_wrapped():
    assert in_process("count", {}, {"count": lambda _: 3}).output == {"result": 3}


def test_implementations_fail_by_raising_implementation_failed():
    with pytest.raises(ImplementationFailed, match="boom"):
        IMPLEMENTATIONS["fail"]({"message": "boom"})


# The envelope -------------------------------------------------------------------------------------


def test_the_envelope_carries_what_a_handler_needs_and_where_to_report():
    trigger = JobTrigger(subscription_id="s", source_model_id="up", source_job_id="j", depth=2)

    claimed = job(LAMBDA, trigger=trigger).with_completion_token("the-attempts-token")

    envelope = json.loads(JobEnvelope.of(claimed).model_dump_json())

    assert envelope == {
        "envelope_version": "1",
        "job_id": JOB_ID,
        "model_id": "m",
        "version": "3",
        "action": "training",
        "attempt": 1,
        "input": {"epochs": 2},
        "trigger": {
            "subscription_id": "s",
            "source_model_id": "up",
            "source_version": None,
            "source_job_id": "j",
            "root_job_id": None,
            "depth": 2,
        },
        "completion": {
            "method": "POST",
            "path": f"/v2/models/m/jobs/{JOB_ID}/complete",
            "scope": "jobs:write",
            "body": envelope["completion"]["body"],
        },
        "completion_token": "the-attempts-token",
    }
    assert '"status"' in envelope["completion"]["body"]
    assert '"completion_token"' in envelope["completion"]["body"]

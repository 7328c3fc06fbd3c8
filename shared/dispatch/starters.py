"""Starting a claimed job on its handler: Lambda (async Invoke), ECS (RunTask) or in process.

Throttling and capacity errors are retried with capped, jittered exponential backoff; when the
attempts run out, or the error cannot be retried (unknown function, access denied), ``start``
raises ``DispatchFailed`` with the reason, and the dispatcher marks the job failed with it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.dispatch.envelope import ECS_ENVIRONMENT_VARIABLE, JobEnvelope
from shared.dispatch.implementations import ImplementationFailed, JsonObject
from shared.domain.resources import EcsHandler, InProcessHandler, Job, LambdaHandler
from shared.observability import logger

RETRYABLE_LAMBDA_ERRORS = frozenset(
    {
        "TooManyRequestsException",
        "ThrottlingException",
        "ServiceException",
        "EC2ThrottledException",
        "ResourceConflictException",  # the function is being updated
        "ResourceNotReadyException",
    }
)
RETRYABLE_ECS_ERRORS = frozenset({"ThrottlingException", "ServerException", "LimitExceededException"})
# RunTask answers 200 with failures[] for capacity problems; these clear up when retried.
RETRYABLE_ECS_FAILURE_PREFIXES = ("RESOURCE:", "AGENT", "CAPACITY")


class DispatchFailed(Exception):
    """The job could not be started; ``reason`` is recorded as the job's error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Retry(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Backoff:
    attempts: int = 5
    base_seconds: float = 0.1
    cap_seconds: float = 2.0
    sleep: Callable[[float], None] = time.sleep

    def run(self, attempt: Callable[[], Any]) -> Any:
        """Call ``attempt`` until it stops raising ``_Retry`` or the attempts run out."""
        last = ""
        for number in range(self.attempts):
            try:
                return attempt()
            except _Retry as retry:
                last = retry.reason
                if number + 1 < self.attempts:
                    # Full jitter: a random delay up to the capped exponential step.
                    self.sleep(random.uniform(0, min(self.cap_seconds, self.base_seconds * 2**number)))
        raise DispatchFailed(f"gave up after {self.attempts} attempts: {last}")


def _aws_call(operation: str, retryable: frozenset[str], call: Callable[..., Any], request: dict[str, Any]) -> Any:
    """Make one AWS call; a throttling or capacity error is a ``_Retry``, any other a failure."""
    try:
        return call(**request)
    except ClientError as error:
        details = error.response.get("Error", {})
        reason = f"{operation} {details.get('Code', '')}: {details.get('Message', '')}"
        if details.get("Code", "") in retryable:
            raise _Retry(reason) from None
        raise DispatchFailed(reason) from None
    except BotoCoreError as error:
        raise _Retry(f"{operation}: {error}") from None


class LambdaStarter:
    def __init__(self, client: Any, backoff: Backoff) -> None:
        self._client = client
        self._backoff = backoff

    def start(self, job: Job) -> None:
        """Lambda accepted the asynchronous invocation (there is no task to record)."""
        handler = job.handler
        assert isinstance(handler, LambdaHandler)
        request: dict[str, Any] = {
            "FunctionName": handler.arn,
            "InvocationType": "Event",
            "Payload": JobEnvelope.of(job).model_dump_json().encode(),
        }
        if handler.version:
            request["Qualifier"] = handler.version

        self._backoff.run(lambda: _aws_call("Lambda Invoke", RETRYABLE_LAMBDA_ERRORS, self._client.invoke, request))


class EcsStarter:
    def __init__(
        self, client: Callable[[], Any], backoff: Backoff, run_task_defaults: Mapping[str, Any] | None = None
    ) -> None:
        """``client`` makes the ECS client on first use (most dispatchers never start a task);
        ``run_task_defaults`` are added to every RunTask (e.g. launchType, networkConfiguration)."""
        self._make_client = client
        self._ecs: Any = None
        self._backoff = backoff
        self._defaults = dict(run_task_defaults or {})
        self._containers: dict[str, str] = {}

    def start(self, job: Job) -> str | None:
        """Returns the started task's ARN (cancel stops it)."""
        handler = job.handler
        assert isinstance(handler, EcsHandler)
        task_definition = handler.task_definition
        envelope = JobEnvelope.of(job).model_dump_json()

        def run_task() -> str | None:
            container = self._container_of(task_definition)
            request = {
                **self._defaults,
                "cluster": handler.cluster,
                "taskDefinition": task_definition,
                "clientToken": job.id,
                "startedBy": job.id,
                "overrides": {
                    "containerOverrides": [
                        {"name": container, "environment": [{"name": ECS_ENVIRONMENT_VARIABLE, "value": envelope}]}
                    ]
                },
            }
            response = _aws_call("ECS RunTask", RETRYABLE_ECS_ERRORS, self._client().run_task, request)
            failures = response.get("failures") or []
            if failures or not response.get("tasks"):
                reasons = "; ".join(f"{f.get('reason')} ({f.get('detail') or f.get('arn', '')})" for f in failures)
                reason = f"ECS RunTask failed: {reasons or 'no task started'}"
                if any(str(f.get("reason", "")).startswith(RETRYABLE_ECS_FAILURE_PREFIXES) for f in failures):
                    raise _Retry(reason)
                raise DispatchFailed(reason)
            return response["tasks"][0].get("taskArn")

        return self._backoff.run(run_task)

    def _client(self) -> Any:
        if self._ecs is None:
            self._ecs = self._make_client()
        return self._ecs

    def _container_of(self, task_definition: str) -> str:
        """The first container of the task definition receives the envelope."""
        if task_definition not in self._containers:
            described = _aws_call(
                "ECS DescribeTaskDefinition",
                RETRYABLE_ECS_ERRORS,
                self._client().describe_task_definition,
                {"taskDefinition": task_definition},
            )
            self._containers[task_definition] = described["taskDefinition"]["containerDefinitions"][0]["name"]
        return self._containers[task_definition]


@dataclass(frozen=True)
class InProcessResult:
    output: JsonObject | None
    error: str | None


class InProcessRunner:
    """Runs a registered implementation inside the dispatcher; the job completes at once."""

    def __init__(self, implementations: Mapping[str, Callable[[JsonObject], JsonObject]]) -> None:
        self._implementations = implementations

    def run(self, job: Job) -> InProcessResult:
        handler = job.handler
        assert isinstance(handler, InProcessHandler)
        implementation = self._implementations.get(handler.implementation)
        if implementation is None:
            return InProcessResult(None, f"no in-process implementation named '{handler.implementation}'")
        try:
            output = implementation(job.input)
        except ImplementationFailed as failure:
            return InProcessResult(None, str(failure))
        except Exception as error:  # noqa: BLE001 — the implementation's own bug fails its job, not the batch
            return InProcessResult(None, f"implementation '{handler.implementation}' raised {type(error).__name__}: {error}")
        if not isinstance(output, dict):
            output = {"result": output}
        return InProcessResult(output, None)


class TaskStopper:
    """Stops the ECS task of a cancelled job (the one its start recorded); a Lambda invocation
    cannot be stopped, its later completion is refused instead."""

    def __init__(self, client: Callable[[], Any]) -> None:
        self._make_client = client

    def stop(self, job: Job) -> bool:
        handler = job.handler
        if not isinstance(handler, EcsHandler) or job.task_arn is None:
            return False
        try:
            self._make_client().stop_task(cluster=handler.cluster, task=job.task_arn, reason=f"PIE job {job.id} cancelled")
        except (ClientError, BotoCoreError) as error:
            # The job is cancelled either way; a task that already stopped or cannot be reached is logged.
            logger.warning("could not stop the cancelled job's task", extra={"job_id": job.id, "error": str(error)})
            return False
        return True

"""Starts ``ecs`` jobs: RunTask with the job envelope in the first container's environment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.domain.entities import Job
from shared.kinds.ecs import ECS_ENVIRONMENT_VARIABLE, KIND, EcsSettings
from shared.kinds.envelope import JobEnvelope
from shared.kinds.starting import (
    DispatchFailed,
    LazyClient,
    Retry,
    StartContext,
    Started,
    aws_call,
)
from shared.observability import logger

RETRYABLE_ECS_ERRORS = frozenset({"ThrottlingException", "ServerException", "LimitExceededException"})
# RunTask answers 200 with failures[] for capacity problems; these clear up when retried.
RETRYABLE_ECS_FAILURE_PREFIXES = ("RESOURCE:", "AGENT", "CAPACITY")


class EcsStarter:
    def __init__(self, context: StartContext) -> None:
        """Every RunTask gets the kind's ``run_task_defaults`` setting (e.g. launchType,
        networkConfiguration)."""
        self._client = LazyClient(context, "ecs")
        self._backoff = context.backoff
        settings = context.kind_settings.get(KIND.type) or EcsSettings()
        self._defaults = dict(settings.run_task_defaults)
        self._containers: dict[str, str] = {}

    def start(self, job: Job) -> Started:
        """The started task's ARN is recorded on the job (cancel stops it)."""
        handler = job.handler
        task_definition = handler.task_definition
        envelope = JobEnvelope.of(job).model_dump_json()

        def run_task() -> Started:
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
            response = aws_call("ECS RunTask", RETRYABLE_ECS_ERRORS, self._client().run_task, request)
            failures = response.get("failures") or []
            if failures or not response.get("tasks"):
                reasons = "; ".join(f"{f.get('reason')} ({f.get('detail') or f.get('arn', '')})" for f in failures)
                reason = f"ECS RunTask failed: {reasons or 'no task started'}"
                if any(str(f.get("reason", "")).startswith(RETRYABLE_ECS_FAILURE_PREFIXES) for f in failures):
                    raise Retry(reason)
                raise DispatchFailed(reason)
            return Started(task_arn=response["tasks"][0].get("taskArn"))

        return self._backoff.run(run_task)

    def _container_of(self, task_definition: str) -> str:
        """The first container of the task definition receives the envelope."""
        if task_definition not in self._containers:
            described = aws_call(
                "ECS DescribeTaskDefinition",
                RETRYABLE_ECS_ERRORS,
                self._client().describe_task_definition,
                {"taskDefinition": task_definition},
            )
            self._containers[task_definition] = described["taskDefinition"]["containerDefinitions"][0]["name"]
        return self._containers[task_definition]


def stop_task(client: Callable[[str], Any], job: Job) -> bool:
    """The ``ecs`` kind's stopper: StopTask on the task a cancelled job's start recorded."""
    try:
        client("ecs").stop_task(cluster=job.handler.cluster, task=job.task_arn, reason=f"PIE job {job.id} cancelled")
    except (ClientError, BotoCoreError) as error:
        # The job is cancelled either way; a task that already stopped or cannot be reached is logged.
        logger.warning("could not stop the cancelled job's task", extra={"job_id": job.id, "error": str(error)})
        return False
    return True

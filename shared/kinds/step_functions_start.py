"""Starts ``step_functions`` jobs: StartExecution named after the job attempt, the envelope as input.

StartExecution is idempotent on the name for Standard workflows: the same name and input return
the running execution. ``ExecutionAlreadyExists`` (the name is taken by a closed execution, or by
one started with another input, e.g. an envelope from an earlier release) also means this job
attempt already has its execution, whose status change completes the job, so it counts as started
rather than starting the workflow twice.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from shared.domain.entities import Job
from shared.kinds.envelope import JobEnvelope
from shared.kinds.starting import LazyClient, StartContext, aws_call
from shared.kinds.step_functions import execution_name
from shared.observability import logger

RETRYABLE_SFN_ERRORS = frozenset(
    {"ThrottlingException", "ExecutionLimitExceeded", "ServiceUnavailableException", "InternalServerException"}
)


class StepFunctionsStarter:
    def __init__(self, context: StartContext) -> None:
        self._client = LazyClient(context, "stepfunctions")
        self._backoff = context.backoff

    def start(self, job: Job) -> None:
        request = {
            "stateMachineArn": job.handler.state_machine_arn,
            "name": execution_name(job.id, job.attempt),
            "input": JobEnvelope.of(job).model_dump_json(),
        }

        def start_execution() -> None:
            try:
                aws_call("Step Functions StartExecution", RETRYABLE_SFN_ERRORS, self._start_execution, request)
            except _AlreadyStarted:
                logger.warning(
                    "the job's execution already exists; not started again",
                    extra={"job_id": job.id, "execution_name": request["name"]},
                )

        self._backoff.run(start_execution)

    def _start_execution(self, **request: str) -> None:
        try:
            self._client().start_execution(**request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                raise _AlreadyStarted from None
            raise


class _AlreadyStarted(Exception):
    pass

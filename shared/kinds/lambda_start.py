"""Starts ``lambda`` jobs: an asynchronous Invoke with the job envelope as the event."""

from __future__ import annotations

from typing import Any

from shared.domain.entities import Job
from shared.kinds.envelope import JobEnvelope
from shared.kinds.starting import LazyClient, StartContext, aws_call

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


class LambdaStarter:
    def __init__(self, context: StartContext) -> None:
        self._client = LazyClient(context, "lambda")
        self._backoff = context.backoff

    def start(self, job: Job) -> None:
        handler = job.handler
        request: dict[str, Any] = {
            "FunctionName": handler.arn,
            "InvocationType": "Event",
            "Payload": JobEnvelope.of(job).model_dump_json().encode(),
        }
        if handler.version:
            request["Qualifier"] = handler.version

        self._backoff.run(lambda: aws_call("Lambda Invoke", RETRYABLE_LAMBDA_ERRORS, self._client().invoke, request))

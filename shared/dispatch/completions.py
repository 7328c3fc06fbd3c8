"""Completing jobs from what AWS reports, without a callback from the handler.

- Lambda asynchronous-invocation destination records (on success / on failure), delivered directly
  or through EventBridge: the request payload is PIE's job envelope, the response payload the
  output (or the error).
- ECS "Task State Change" events of stopped tasks PIE started: the job is named by ``startedBy``
  and the envelope in the container's ``PIE_JOB`` variable; exit code 0 everywhere is success.

Both carry the envelope PIE sent, so its ``attempt`` says which attempt the result is for: a result
for an attempt that is no longer in flight (timed out, cancelled, retried) is acknowledged and
changes nothing.

A record only completes the job if it comes from the job's own handler (the function ARN, or the
cluster and task family), so an event from elsewhere cannot finish somebody's job. Records for jobs
that no longer exist or are already finished are acknowledged and ignored: AWS delivers at least
once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from shared.dispatch.envelope import ECS_ENVIRONMENT_VARIABLE
from shared.domain.errors import JobAlreadyFinishedError, JobNotFoundError, StaleAttemptError
from shared.domain.jobs import JobService
from shared.domain.resources import CompleteJobRequest, EcsHandler, Job, LambdaHandler
from shared.observability import logger

COMPLETION_ACTOR = "pie-aws-events"
_UNQUALIFIED = re.compile(r"^(arn:[^:]+:lambda:[^:]+:\d{12}:function:[^:]+)(:.+)?$")


@dataclass(frozen=True)
class ReportedResult:
    model_id: str
    job_id: str
    result: CompleteJobRequest
    source: str  # the function ARN or cluster/family that reported it


def lambda_destination_result(record: dict[str, Any]) -> ReportedResult | None:
    context = record.get("requestContext") or {}
    payload = record.get("requestPayload")
    if not isinstance(payload, dict) or "job_id" not in payload or "model_id" not in payload:
        return None
    response = record.get("responsePayload")
    succeeded = context.get("condition") == "Success" and not (record.get("responseContext") or {}).get("functionError")
    if succeeded:
        output = response if isinstance(response, dict) else {"result": response}
        try:
            result = CompleteJobRequest(status="succeeded", output=output)
        except ValidationError as invalid:
            # An output PIE cannot store (NaN or Infinity, which Python's JSON accepts) fails the job
            # rather than failing this record, whose retries would run out with the job dispatched.
            reason = f"the handler's output cannot be stored: {invalid.errors()[0]['msg']}"
            result = CompleteJobRequest(status="failed", error=reason[:4096])
    else:
        if isinstance(response, dict):
            reason = f"{response.get('errorType', 'Error')}: {response.get('errorMessage', '')}"
        else:
            reason = f"invocation {context.get('condition', 'failed')}"
        result = CompleteJobRequest(status="failed", error=reason[:4096])
    result = result.model_copy(update={"attempt": _attempt_of(payload)})
    return ReportedResult(str(payload["model_id"]), str(payload["job_id"]), result, str(context.get("functionArn", "")))


def ecs_task_result(detail: dict[str, Any]) -> ReportedResult | None:
    if detail.get("lastStatus") != "STOPPED":
        return None
    envelope = None
    for override in (detail.get("overrides") or {}).get("containerOverrides", []):
        for variable in override.get("environment", []):
            if variable.get("name") == ECS_ENVIRONMENT_VARIABLE:
                envelope = json.loads(variable.get("value") or "{}")
    if not envelope or envelope.get("job_id") != detail.get("startedBy"):
        return None
    failed = [c for c in detail.get("containers", []) if c.get("exitCode") != 0]
    if failed:
        reasons = ", ".join(f"{c.get('name')} exited {c.get('exitCode')} {c.get('reason', '')}".strip() for c in failed)
        result = CompleteJobRequest(status="failed", error=f"{detail.get('stoppedReason', 'task stopped')}: {reasons}"[:4096])
    else:
        result = CompleteJobRequest(status="succeeded", output={})
    result = result.model_copy(update={"attempt": _attempt_of(envelope)})
    cluster = str(detail.get("clusterArn", "")).rsplit("/", 1)[-1]
    family = str(detail.get("taskDefinitionArn", "")).rsplit("/", 1)[-1]
    return ReportedResult(str(envelope["model_id"]), str(envelope["job_id"]), result, f"{cluster}/{family}")


def _attempt_of(envelope: dict[str, Any]) -> int | None:
    """The envelope's attempt; None for envelopes sent before attempts existed."""
    attempt = envelope.get("attempt")
    return attempt if isinstance(attempt, int) and not isinstance(attempt, bool) and attempt >= 1 else None


def _reported_by_handler(job: Job, source: str) -> bool:
    handler = job.handler
    if isinstance(handler, LambdaHandler):
        match = _UNQUALIFIED.match(source)
        return match is not None and match.group(1) == handler.arn
    if isinstance(handler, EcsHandler):
        cluster, _, family_revision = source.partition("/")
        return cluster == handler.cluster and family_revision.split(":", 1)[0] == handler.family
    return False


class AwsCompletions:
    def __init__(self, jobs: JobService) -> None:
        self._jobs = jobs

    def handle(self, event: dict[str, Any]) -> str:
        reported = self._read(event)
        if reported is None:
            logger.info("event is not a result of a PIE job; ignored")
            return "ignored"
        return self.complete(reported)

    def complete(self, reported: ReportedResult) -> str:
        """Completes the job with what its handler reported (``pie-local`` reports ECS commands'
        printed output this way, which a task state change cannot carry)."""
        try:
            job = self._jobs.get(reported.model_id, reported.job_id).job
        except JobNotFoundError:
            logger.warning("result for an unknown job; ignored", extra={"job_id": reported.job_id})
            return "unknown job"
        if not _reported_by_handler(job, reported.source):
            logger.warning(
                "result not from the job's handler; ignored", extra={"job_id": job.id, "source": reported.source}
            )
            return "foreign source"
        try:
            completion = self._jobs.finish(job, reported.result, actor=COMPLETION_ACTOR)
        except JobAlreadyFinishedError:
            return "already finished"
        except StaleAttemptError:
            logger.info("result for an attempt no longer in flight; ignored", extra={"job_id": job.id})
            return "stale attempt"
        return completion.job.status

    @staticmethod
    def _read(event: dict[str, Any]) -> ReportedResult | None:
        detail_type = event.get("detail-type", "")
        if event.get("source") == "aws.ecs" and detail_type == "ECS Task State Change":
            return ecs_task_result(event.get("detail") or {})
        if detail_type.startswith("Lambda Function Invocation Result"):
            return lambda_destination_result(event.get("detail") or {})
        if "requestContext" in event and "requestPayload" in event:
            return lambda_destination_result(event)
        return None

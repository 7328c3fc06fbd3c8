"""Completing jobs from what AWS reports, without a callback from the handler.

Each handler kind reads its own reports (``shared.kinds``): Lambda asynchronous-invocation
destination records, ECS "Task State Change" events of stopped tasks, Step Functions "Execution
Status Change" events. A report only completes the job if it comes from the job's own handler (the
function ARN, the cluster and task family, the state machine), so an event from elsewhere cannot
finish somebody's job. Reports for jobs that no longer exist or are already finished are
acknowledged and ignored: AWS delivers at least once.

Each report carries the envelope PIE sent, so its ``attempt`` says which attempt the result is for:
a result for an attempt that is no longer in flight (timed out, cancelled, retried) is acknowledged
and changes nothing.

Naming the job's handler is not proof: Lambda's results reach EventBridge as events of source
``lambda``, which any principal allowed ``events:PutEvents`` on the bus can put, naming any job it
can read. So a report completes a job only with the attempt's completion token, which only the
envelope PIE sent carries (``shared.domain.completion_tokens``); one without it, or with another,
is logged and dropped with the job unchanged. An EventBridge event must also come from the account
of the job's handler (the deployment's own for ECS): EventBridge sets ``account`` itself.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from shared.domain.access import Access
from shared.domain.errors import (
    CompletionTokenMismatchError,
    JobAlreadyFinishedError,
    JobNotFoundError,
    StaleAttemptError,
)
from shared.domain.requests import CompleteJobRequest
from shared.kinds import KINDS, kind_of
from shared.kinds.base import ERROR_LIMIT, ReportedResult
from shared.observability import logger
from shared.services.jobs import JobService

COMPLETION_ACTOR = "pie-aws-events"


def reported_result(event: dict[str, Any]) -> ReportedResult | None:
    """The job result an event reports, read by the kind whose event it is; None for others. An
    EventBridge event's result keeps the event's ``account``."""
    for kind in KINDS.values():
        reported = kind.read_event(event)
        if reported is not None:
            if "detail-type" in event:
                return replace(reported, account=str(event.get("account", "")))
            return reported
    return None


def completion_request(reported: ReportedResult) -> CompleteJobRequest:
    """The completion a reported result makes: a failure keeps its (bounded) error; a success its
    output, a non-object output wrapped as ``{"result": ...}``."""
    if reported.status != "succeeded":
        return CompleteJobRequest(
            status="failed",
            error=(reported.error or "failed")[:ERROR_LIMIT],
            attempt=reported.attempt,
            completion_token=reported.completion_token,
        )
    output = reported.output if isinstance(reported.output, dict) else {"result": reported.output}
    try:
        return CompleteJobRequest(
            status="succeeded", output=output, attempt=reported.attempt, completion_token=reported.completion_token
        )
    except ValidationError as invalid:
        # An output PIE cannot store (NaN or Infinity, which Python's JSON accepts) fails the job
        # rather than the record, whose retries would run out with the job still dispatched.
        reason = f"the handler's output cannot be stored: {invalid.errors()[0]['msg']}"
        return CompleteJobRequest(
            status="failed",
            error=reason[:ERROR_LIMIT],
            attempt=reported.attempt,
            completion_token=reported.completion_token,
        )


class AwsCompletions:
    def __init__(self, jobs: JobService, account: str | None = None) -> None:
        """``account``: the deployment's AWS account (the settings'), whose events report ECS jobs."""
        self._jobs = jobs
        self._account = account

    def handle(self, event: dict[str, Any]) -> str:
        reported = reported_result(event)
        if reported is None:
            logger.info("event is not a result of a PIE job; ignored")
            return "ignored"
        return self.complete(reported)

    def complete(self, reported: ReportedResult) -> str:
        """Completes the job with what its handler reported (``pie-local`` reports ECS commands'
        printed output this way, which a task state change cannot carry)."""
        try:
            job = self._jobs.get(reported.model_id, reported.job_id, Access.service(COMPLETION_ACTOR)).job
        except JobNotFoundError:
            logger.warning("result for an unknown job; ignored", extra={"job_id": reported.job_id})
            return "unknown job"
        kind = kind_of(job.handler)
        if not kind.reported_by(job.handler, reported.source):
            logger.warning(
                "result not from the job's handler; ignored", extra={"job_id": job.id, "source": reported.source}
            )
            return "foreign source"
        if reported.account is not None and reported.account != kind.events_account(job.handler, self._account):
            logger.warning(
                "result from another account than the job's handler; ignored",
                extra={"job_id": job.id, "account": reported.account},
            )
            return "foreign account"
        if reported.completion_token is None:
            logger.warning("result without a (well-formed) completion token; ignored", extra={"job_id": job.id})
            return "unproven"
        try:
            completion = self._jobs.finish(job, completion_request(reported), actor=COMPLETION_ACTOR)
        except JobAlreadyFinishedError:
            return "already finished"
        except StaleAttemptError:
            logger.info("result for an attempt no longer in flight; ignored", extra={"job_id": job.id})
            return "stale attempt"
        except CompletionTokenMismatchError:
            logger.warning(
                "result whose completion token is not the attempt's; refused as forged",
                extra={"job_id": job.id, "attempt": reported.attempt, "source": reported.source},
            )
            return "forged"
        return completion.job.status

"""The ``step_functions`` kind: StartExecution named after the job attempt, with the envelope as its
input; the execution's "Step Functions Execution Status Change" event completes the job.

SUCCEEDED is success with the execution's output (a JSON document; one that is not an object is
wrapped as ``{"result": ...}``, as for Lambda); FAILED, TIMED_OUT and ABORTED are failures with the
error and cause. Only Standard workflows send these events (Express workflows do not).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from shared.kinds.allow_list import HandlerAllowList
from shared.kinds.base import (
    EventRule,
    HandlerKind,
    HandlerModel,
    IamStatement,
    ReportedResult,
    arn_prefixes,
    attempt_of,
    check_arn_target,
    parsed_json,
)

STATE_MACHINE_ARN_PATTERN = (
    r"^arn:aws[a-z-]*:states:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:stateMachine:[A-Za-z0-9_-]{1,80}$"
)
STATUS_CHANGE = "Step Functions Execution Status Change"
FINAL_STATUSES = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


class StepFunctionsHandler(HandlerModel):
    type: Literal["step_functions"]
    state_machine_arn: Annotated[str, StringConstraints(pattern=STATE_MACHINE_ARN_PATTERN)] = Field(
        description="A Standard workflow; each job attempt starts one execution named after it.",
        examples=["arn:aws:states:us-west-2:123456789012:stateMachine:train-price-model"],
    )

    @property
    def partition(self) -> str:
        return self.state_machine_arn.split(":")[1]

    @property
    def region(self) -> str:
        return self.state_machine_arn.split(":")[3]

    @property
    def account(self) -> str:
        return self.state_machine_arn.split(":")[4]

    @property
    def name(self) -> str:
        return self.state_machine_arn.split(":")[6]


def execution_name(job_id: str, attempt: int) -> str:
    """One execution per job attempt: StartExecution is idempotent on the name, so starting the same
    attempt again never runs the workflow twice. A uuid, a dash and the attempt fit the 80 characters
    of [A-Za-z0-9-_] an execution name may have."""
    return f"{job_id}-{attempt}"


def check(role: str, handler: StepFunctionsHandler, allow: HandlerAllowList, _implementations: Collection[str]) -> None:
    check_arn_target(
        role,
        "state machine name",
        partition=handler.partition,
        account=handler.account,
        region=handler.region,
        name=handler.name,
        accounts=allow.step_functions_accounts,
        regions=allow.step_functions_regions,
        prefixes=allow.step_functions_name_prefixes,
        allow=allow,
    )


def state_machine_arn_prefixes(allow: HandlerAllowList) -> list[str]:
    return arn_prefixes(
        "states:{region}:{account}:stateMachine:",
        allow.step_functions_accounts,
        allow.step_functions_regions,
        allow.step_functions_name_prefixes,
    )


def _failure(status: str, detail: dict[str, Any]) -> str:
    words = {"FAILED": "failed", "TIMED_OUT": "timed out", "ABORTED": "was aborted"}[status]
    explained = ": ".join(str(part) for part in (detail.get("error"), detail.get("cause")) if part)
    return f"execution {detail.get('name', '')} {words}" + (f": {explained}" if explained else "")


def execution_result(detail: dict[str, Any]) -> ReportedResult | None:
    """A finished execution PIE started: its input is a job envelope and its name that job's."""
    status = detail.get("status")
    if status not in FINAL_STATUSES:
        return None
    envelope = parsed_json(detail.get("input"))
    if not isinstance(envelope, dict) or "job_id" not in envelope or "model_id" not in envelope:
        return None
    if not str(detail.get("name", "")).startswith(f"{envelope['job_id']}-"):
        return None
    reported = (str(envelope["model_id"]), str(envelope["job_id"]), str(detail.get("stateMachineArn", "")))
    if status != "SUCCEEDED":
        return ReportedResult(*reported, attempt=attempt_of(envelope), status="failed", error=_failure(status, detail))
    if (detail.get("outputDetails") or {}).get("included") is False:
        return ReportedResult(
            *reported,
            attempt=attempt_of(envelope),
            status="failed",
            error="the execution's output is over EventBridge's event size limit",
        )
    output = parsed_json(detail.get("output"))
    if output is None and detail.get("output") not in (None, "null"):
        return ReportedResult(
            *reported, attempt=attempt_of(envelope), status="failed", error="the execution's output is not JSON"
        )
    return ReportedResult(*reported, attempt=attempt_of(envelope), status="succeeded", output=output)


def read_event(event: dict[str, Any]) -> ReportedResult | None:
    if event.get("source") == "aws.states" and event.get("detail-type") == STATUS_CHANGE:
        return execution_result(event.get("detail") or {})
    return None


def reported_by(handler: StepFunctionsHandler, source: str) -> bool:
    return source == handler.state_machine_arn


def completion_rules(allow: HandlerAllowList) -> list[EventRule]:
    prefixes = state_machine_arn_prefixes(allow)
    if not prefixes:
        return []
    return [
        EventRule(
            "StepFunctionsExecutionsEnded",
            "PIE: finished executions of allowed state machines",
            {
                "source": ["aws.states"],
                "detail-type": [STATUS_CHANGE],
                "detail": {
                    "status": list(FINAL_STATUSES),
                    "stateMachineArn": [{"prefix": prefix} for prefix in prefixes],
                },
            },
        )
    ]


def dispatcher_statements(allow: HandlerAllowList, _pass_roles: tuple[str, ...]) -> list[IamStatement]:
    arns = tuple(f"{prefix}*" for prefix in state_machine_arn_prefixes(allow))
    return [IamStatement(("states:StartExecution",), arns)] if arns else []


KIND = HandlerKind(
    type="step_functions",
    model=StepFunctionsHandler,
    check=check,
    starter="shared.kinds.step_functions_start:StepFunctionsStarter",
    # Standard workflows may run for a year; a job's deadline is capped at a day (timeout_seconds).
    default_timeout_seconds=86400,
    client_service="stepfunctions",
    stand_in="shared.local.targets:LocalStepFunctions",
    read_event=read_event,
    reported_by=reported_by,
    completion_rules=completion_rules,
    dispatcher_statements=dispatcher_statements,
    iam_wildcard_reason=(
        "state machines are admitted by name prefix: <allowed account>:<allowed region>:stateMachine:<allowed prefix>*"
    ),
)

"""The ``step_functions`` kind: StartExecution named after the job attempt, with the envelope as its
input; the execution's "Step Functions Execution Status Change" event completes the job.

SUCCEEDED is success with the execution's output (a JSON document; one that is not an object is
wrapped as ``{"result": ...}``, as for Lambda); FAILED, TIMED_OUT and ABORTED are failures with the
error and cause. Only Standard workflows send these events (Express workflows do not).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from shared.kinds.arn import ArnHandlerModel, ArnTarget
from shared.kinds.base import ReportedResult, is_envelope, parsed_json

TARGET = ArnTarget(
    service="states",
    resource_type="stateMachine",
    noun="state machine",
    allow_list_group="step_functions",
    start_actions=("states:StartExecution",),
)
STATE_MACHINE_ARN_PATTERN = TARGET.arn_pattern(r"[A-Za-z0-9_-]{1,80}")
STATUS_CHANGE = "Step Functions Execution Status Change"
FINAL_STATUSES = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


class StepFunctionsHandler(ArnHandlerModel):
    type: Literal["step_functions"]
    state_machine_arn: Annotated[str, StringConstraints(pattern=STATE_MACHINE_ARN_PATTERN)] = Field(
        description="A Standard workflow; each job attempt starts one execution named after it.",
        examples=["arn:aws:states:us-west-2:123456789012:stateMachine:train-price-model"],
    )

    @property
    def target_arn(self) -> str:
        return self.state_machine_arn


def execution_name(job_id: str, attempt: int) -> str:
    """One execution per job attempt: StartExecution is idempotent on the name, so starting the same
    attempt again never runs the workflow twice. A uuid, a dash and the attempt fit the 80 characters
    of [A-Za-z0-9-_] an execution name may have."""
    return f"{job_id}-{attempt}"


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
    if not is_envelope(envelope) or not str(detail.get("name", "")).startswith(f"{envelope['job_id']}-"):
        return None
    source = str(detail.get("stateMachineArn", ""))
    if status != "SUCCEEDED":
        return ReportedResult.of(envelope, source, "failed", error=_failure(status, detail))
    if (detail.get("outputDetails") or {}).get("included") is False:
        return ReportedResult.of(
            envelope, source, "failed", error="the execution's output is over EventBridge's event size limit"
        )
    output = parsed_json(detail.get("output"))
    if output is None and detail.get("output") not in (None, "null"):
        return ReportedResult.of(envelope, source, "failed", error="the execution's output is not JSON")
    return ReportedResult.of(envelope, source, "succeeded", output=output)


def read_event(event: dict[str, Any]) -> ReportedResult | None:
    if event.get("source") == "aws.states" and event.get("detail-type") == STATUS_CHANGE:
        return execution_result(event.get("detail") or {})
    return None


KIND = TARGET.kind(
    type="step_functions",
    model=StepFunctionsHandler,
    starter="shared.kinds.step_functions_start:StepFunctionsStarter",
    # Standard workflows may run for a year; a job's deadline is capped at a day (timeout_seconds).
    default_timeout_seconds=86400,
    client_service="stepfunctions",
    stand_in="pie_local.runtime.targets:LocalStepFunctions",
    read_event=read_event,
    rule=(
        "StepFunctionsExecutionsEnded",
        "PIE: finished executions of allowed state machines",
        lambda state_machines: {
            "source": ["aws.states"],
            "detail-type": [STATUS_CHANGE],
            "detail": {"status": list(FINAL_STATUSES), "stateMachineArn": state_machines},
        },
    ),
)

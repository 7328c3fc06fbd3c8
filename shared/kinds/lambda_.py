"""The ``lambda`` kind: an asynchronous Invoke; results come back as Lambda destination records."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from shared.kinds.arn import ArnHandlerModel, ArnTarget
from shared.kinds.base import ReportedResult, is_envelope

TARGET = ArnTarget(
    service="lambda",
    resource_type="function",
    noun="function",
    allow_list_group="lambda",
    start_actions=("lambda:InvokeFunction",),
)
LAMBDA_ARN_PATTERN = TARGET.arn_pattern(r"[A-Za-z0-9_-]{1,64}")
LAMBDA_QUALIFIER_PATTERN = r"^(\$LATEST|[A-Za-z0-9_-]{1,128})$"
RESULT_DETAIL_TYPES = (
    "Lambda Function Invocation Result - Success",
    "Lambda Function Invocation Result - Failure",
)
_UNQUALIFIED = re.compile(r"^(arn:[^:]+:lambda:[^:]+:\d{12}:function:[^:]+)(:.+)?$")


def _absent(value: Any) -> bool:
    return value is None


class LambdaHandler(ArnHandlerModel):
    type: Literal["lambda"]
    arn: Annotated[str, StringConstraints(pattern=LAMBDA_ARN_PATTERN)] = Field(
        examples=["arn:aws:lambda:us-west-2:123456789012:function:train"]
    )
    version: Annotated[str, StringConstraints(pattern=LAMBDA_QUALIFIER_PATTERN)] | None = Field(
        default=None,
        description="Qualifier (version or alias) to invoke; unqualified when absent.",
        exclude_if=_absent,
    )

    @property
    def target_arn(self) -> str:
        return self.arn


def destination_result(record: dict[str, Any]) -> ReportedResult | None:
    """An asynchronous invocation's destination record whose request payload is a job envelope."""
    context = record.get("requestContext") or {}
    payload = record.get("requestPayload")
    if not is_envelope(payload):
        return None
    response = record.get("responsePayload")
    source = str(context.get("functionArn", ""))
    succeeded = context.get("condition") == "Success" and not (record.get("responseContext") or {}).get("functionError")
    if succeeded:
        return ReportedResult.of(payload, source, "succeeded", output=response)
    if isinstance(response, dict):
        reason = f"{response.get('errorType', 'Error')}: {response.get('errorMessage', '')}"
    else:
        reason = f"invocation {context.get('condition', 'failed')}"
    return ReportedResult.of(payload, source, "failed", error=reason)


def read_event(event: dict[str, Any]) -> ReportedResult | None:
    if str(event.get("detail-type", "")).startswith("Lambda Function Invocation Result"):
        return destination_result(event.get("detail") or {})
    if "requestContext" in event and "requestPayload" in event:
        # A handler that names the completion function as its destination directly.
        return destination_result(event)
    return None


def reported_by(handler: LambdaHandler, source: str) -> bool:
    match = _UNQUALIFIED.match(source)
    return match is not None and match.group(1) == handler.arn


KIND = TARGET.kind(
    type="lambda",
    model=LambdaHandler,
    starter="shared.kinds.lambda_start:LambdaStarter",
    # A function runs at most 15 minutes; Lambda retries a failed asynchronous invocation twice
    # (after about 1 and 2 more minutes): 3 x 15 + 3 = 48 minutes, rounded up to an hour.
    default_timeout_seconds=3600,
    client_service="lambda",
    stand_in="pie_local.runtime.targets:LocalLambda",
    read_event=read_event,
    reported_by=reported_by,
    rule=(
        "LambdaResults",
        "PIE: invocation records of allowed Lambda handlers",
        lambda functions: {"source": ["lambda"], "detail-type": list(RESULT_DETAIL_TYPES), "resources": functions},
    ),
)

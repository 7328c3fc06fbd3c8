"""The ``lambda`` kind: an asynchronous Invoke; results come back as Lambda destination records."""

from __future__ import annotations

import re
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
)

# Plain (ECMA-compatible) patterns: they are published in the OpenAPI document. The partition is
# checked against the allow-list, which names the ones admitted.
LAMBDA_ARN_PATTERN = r"^arn:aws[a-z-]*:lambda:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}$"
LAMBDA_QUALIFIER_PATTERN = r"^(\$LATEST|[A-Za-z0-9_-]{1,128})$"
RESULT_DETAIL_TYPES = (
    "Lambda Function Invocation Result - Success",
    "Lambda Function Invocation Result - Failure",
)
_UNQUALIFIED = re.compile(r"^(arn:[^:]+:lambda:[^:]+:\d{12}:function:[^:]+)(:.+)?$")


def _absent(value: Any) -> bool:
    return value is None


class LambdaHandler(HandlerModel):
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
    def partition(self) -> str:
        return self.arn.split(":")[1]

    @property
    def region(self) -> str:
        return self.arn.split(":")[3]

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]

    @property
    def function_name(self) -> str:
        return self.arn.split(":")[6]


def check(role: str, handler: LambdaHandler, allow: HandlerAllowList, _implementations: Collection[str]) -> None:
    check_arn_target(
        role,
        "function name",
        partition=handler.partition,
        account=handler.account,
        region=handler.region,
        name=handler.function_name,
        accounts=allow.lambda_accounts,
        regions=allow.lambda_regions,
        prefixes=allow.lambda_name_prefixes,
        allow=allow,
    )


def function_arn_prefixes(allow: HandlerAllowList) -> list[str]:
    return arn_prefixes(
        "lambda:{region}:{account}:function:", allow.lambda_accounts, allow.lambda_regions, allow.lambda_name_prefixes
    )


def destination_result(record: dict[str, Any]) -> ReportedResult | None:
    """An asynchronous invocation's destination record whose request payload is a job envelope."""
    context = record.get("requestContext") or {}
    payload = record.get("requestPayload")
    if not isinstance(payload, dict) or "job_id" not in payload or "model_id" not in payload:
        return None
    response = record.get("responsePayload")
    source = str(context.get("functionArn", ""))
    reported = (str(payload["model_id"]), str(payload["job_id"]), source)
    succeeded = context.get("condition") == "Success" and not (record.get("responseContext") or {}).get("functionError")
    if succeeded:
        return ReportedResult(*reported, attempt=attempt_of(payload), status="succeeded", output=response)
    if isinstance(response, dict):
        reason = f"{response.get('errorType', 'Error')}: {response.get('errorMessage', '')}"
    else:
        reason = f"invocation {context.get('condition', 'failed')}"
    return ReportedResult(*reported, attempt=attempt_of(payload), status="failed", error=reason)


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


def completion_rules(allow: HandlerAllowList) -> list[EventRule]:
    prefixes = function_arn_prefixes(allow)
    if not prefixes:
        return []
    return [
        EventRule(
            "LambdaResults",
            "PIE: invocation records of allowed Lambda handlers",
            {
                "source": ["lambda"],
                "detail-type": list(RESULT_DETAIL_TYPES),
                "resources": [{"prefix": prefix} for prefix in prefixes],
            },
        )
    ]


def dispatcher_statements(allow: HandlerAllowList, _pass_roles: tuple[str, ...]) -> list[IamStatement]:
    arns = tuple(f"{prefix}*" for prefix in function_arn_prefixes(allow))
    return [IamStatement(("lambda:InvokeFunction",), arns)] if arns else []


KIND = HandlerKind(
    type="lambda",
    model=LambdaHandler,
    check=check,
    starter="shared.kinds.lambda_start:LambdaStarter",
    # A function runs at most 15 minutes; Lambda retries a failed asynchronous invocation twice
    # (after about 1 and 2 more minutes): 3 x 15 + 3 = 48 minutes, rounded up to an hour.
    default_timeout_seconds=3600,
    client_service="lambda",
    stand_in="shared.local.targets:LocalLambda",
    read_event=read_event,
    reported_by=reported_by,
    completion_rules=completion_rules,
    dispatcher_statements=dispatcher_statements,
    iam_wildcard_reason=(
        "functions are admitted by name prefix: <allowed account>:<allowed region>:function:<allowed prefix>*"
    ),
)

"""The handler allow-list: which targets a model may name as its handlers.

The same list scopes the deployed dispatcher's IAM policy, so nobody with write access can make PIE
invoke an arbitrary function or task.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from pydantic import BaseModel, Field

from shared.domain.errors import HandlerNotAllowedError
from shared.domain.resources import (
    ECS_TASK_PATTERN,
    LAMBDA_ARN_PATTERN,
    EcsHandler,
    Handlers,
    InProcessHandler,
    LambdaHandler,
)

_LAMBDA_ARN = re.compile(LAMBDA_ARN_PATTERN)
_ECS_TASK = re.compile(ECS_TASK_PATTERN)


class HandlerAllowList(BaseModel):
    """Targets PIE may start. An empty list admits nothing of that kind."""

    lambda_accounts: list[str] = Field(default_factory=list)
    lambda_regions: list[str] = Field(default_factory=list)
    lambda_name_prefixes: list[str] = Field(default_factory=list)
    ecs_clusters: list[str] = Field(default_factory=list)
    in_process_implementations: list[str] = Field(default_factory=list)


class HandlerPolicy:
    def __init__(self, allow_list: HandlerAllowList, registered_implementations: Collection[str]):
        self._allow = allow_list
        self._registered = registered_implementations

    def check(self, handlers: Handlers) -> None:
        for kind in ("training", "inference"):
            self._check_one(kind, getattr(handlers, kind))

    def _check_one(self, kind: str, handler: LambdaHandler | EcsHandler | InProcessHandler) -> None:
        if isinstance(handler, LambdaHandler):
            self._check_lambda(kind, handler)
        elif isinstance(handler, EcsHandler):
            self._check_ecs(kind, handler)
        else:
            self._check_in_process(kind, handler)

    def _check_lambda(self, kind: str, handler: LambdaHandler) -> None:
        parts = _LAMBDA_ARN.match(handler.arn)
        assert parts is not None  # the resource model already enforced the format
        if parts["account"] not in self._allow.lambda_accounts:
            raise HandlerNotAllowedError(
                f"{kind} handler: account {parts['account']} is not in the handler allow-list"
            )
        if parts["region"] not in self._allow.lambda_regions:
            raise HandlerNotAllowedError(
                f"{kind} handler: region {parts['region']} is not in the handler allow-list"
            )
        if not any(parts["name"].startswith(prefix) for prefix in self._allow.lambda_name_prefixes):
            raise HandlerNotAllowedError(
                f"{kind} handler: function name '{parts['name']}' does not start with an allowed prefix"
            )

    def _check_ecs(self, kind: str, handler: EcsHandler) -> None:
        parts = _ECS_TASK.match(handler.task)
        assert parts is not None
        if parts["cluster"] not in self._allow.ecs_clusters:
            raise HandlerNotAllowedError(
                f"{kind} handler: ECS cluster '{parts['cluster']}' is not in the handler allow-list"
            )

    def _check_in_process(self, kind: str, handler: InProcessHandler) -> None:
        if handler.implementation not in self._registered:
            raise HandlerNotAllowedError(
                f"{kind} handler: no in-process implementation named '{handler.implementation}' "
                f"(registered: {', '.join(sorted(self._registered))})"
            )
        if handler.implementation not in self._allow.in_process_implementations:
            raise HandlerNotAllowedError(
                f"{kind} handler: in-process implementation '{handler.implementation}' is not in the "
                "handler allow-list"
            )

"""The handler allow-list: which targets a model may name as its handlers.

The same list scopes the deployed dispatcher's IAM policy, so nobody with write access can make PIE
invoke an arbitrary function or task.
"""

from __future__ import annotations

from collections.abc import Collection

from pydantic import BaseModel, Field

from shared.domain.errors import HandlerNotAllowedError
from shared.domain.resources import (
    EcsHandler,
    Handlers,
    InProcessHandler,
    LambdaHandler,
)


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
        if handler.account not in self._allow.lambda_accounts:
            raise HandlerNotAllowedError(
                f"{kind} handler: account {handler.account} is not in the handler allow-list"
            )
        if handler.region not in self._allow.lambda_regions:
            raise HandlerNotAllowedError(
                f"{kind} handler: region {handler.region} is not in the handler allow-list"
            )
        if not any(handler.function_name.startswith(prefix) for prefix in self._allow.lambda_name_prefixes):
            raise HandlerNotAllowedError(
                f"{kind} handler: function name '{handler.function_name}' does not start with an allowed prefix"
            )

    def _check_ecs(self, kind: str, handler: EcsHandler) -> None:
        if handler.cluster not in self._allow.ecs_clusters:
            raise HandlerNotAllowedError(
                f"{kind} handler: ECS cluster '{handler.cluster}' is not in the handler allow-list"
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

"""The handler policy: a model's handlers must be inside the handler allow-list.

Each kind checks its own handlers (``shared.kinds``); the same list scopes the deployed
dispatcher's IAM policy, so nobody with write access can make PIE start an arbitrary target.
"""

from __future__ import annotations

from collections.abc import Collection

from shared.domain.entities import Handlers
from shared.domain.errors import HandlerNotAllowedError
from shared.kinds import kind_of
from shared.kinds.allow_list import HandlerAllowList


class HandlerPolicy:
    def __init__(self, allow_list: HandlerAllowList, registered_implementations: Collection[str]):
        self._allow = allow_list
        self._registered = registered_implementations

    def check(self, handlers: Handlers) -> None:
        for role in ("training", "inference"):
            handler = getattr(handlers, role)
            kind_of(handler).check(role, handler, self._allow, self._registered)

    def problems(self, handlers: Handlers) -> list[str]:
        """What ``check`` would refuse, for both handlers: the reasons, none when both are allowed."""
        found: list[str] = []
        for role in ("training", "inference"):
            handler = getattr(handlers, role)
            try:
                kind_of(handler).check(role, handler, self._allow, self._registered)
            except HandlerNotAllowedError as refused:
                found.append(refused.message)
        return found

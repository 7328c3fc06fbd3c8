"""The handler policy: a model's handlers must be inside the handler allow-list.

Each kind checks its own handlers (``shared.kinds``); the same list scopes the deployed
dispatcher's IAM policy, so nobody with write access can make PIE start an arbitrary target.
"""

from __future__ import annotations

from collections.abc import Collection

from shared.domain.entities import Handlers
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

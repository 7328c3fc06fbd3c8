"""The handler-kind registry: every kind PIE can start jobs on, in one table.

Each kind is one module (``lambda_``, ``ecs``, ``in_process``, ``step_functions``) declaring a
``HandlerKind`` (see ``shared.kinds.base``): its schema, allow-list check, starter, completion
events, IAM statements, default timeout and local stand-in. The ``Handler`` union is built from this
table, so a handler of an unregistered type never validates, and ``kind_of`` raises rather than
falling through to another kind's branch. Adding a kind is one module and one line below.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Field

from shared.kinds import ecs, in_process, lambda_, step_functions
from shared.kinds.base import HandlerKind

KINDS: dict[str, HandlerKind] = {
    kind.type: kind for kind in (lambda_.KIND, ecs.KIND, in_process.KIND, step_functions.KIND)
}

# Union[...] of a computed tuple: the X | Y spelling has no form for a sequence of types.
Handler = Annotated[Union[tuple(kind.model for kind in KINDS.values())], Field(discriminator="type")]  # noqa: UP007


class UnknownHandlerKindError(LookupError):
    """A handler type no kind is registered for: a programming error, never a request's fault
    (requests are validated against ``Handler``, which admits registered kinds only)."""


def kind_of(handler: Any) -> HandlerKind:
    try:
        return KINDS[handler.type]
    except KeyError:
        raise UnknownHandlerKindError(f"no handler kind registered for type {handler.type!r}") from None

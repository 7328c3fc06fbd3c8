"""The handler-kind registry: every kind PIE can start jobs on, in one table.

Each kind is one module (``KIND_MODULES``) declaring a ``HandlerKind`` (see ``shared.kinds.base``):
its schema, allow-list fields and check, starter, stopper, completion events, IAM statements,
settings, default timeout and the name of its local stand-in. The ``Handler`` union is built from this
table, so a handler of an unregistered type never validates, and ``kind_of`` raises rather than
falling through to another kind's branch. Adding a kind is one module (two for an AWS
kind: the starter apart) and one line below; the dispatcher, the allow-list and infra iterate the
table.
"""

from __future__ import annotations

import importlib
from typing import Annotated, Any, Union

from pydantic import Field

from shared.kinds.base import HandlerKind

# The registered kinds: the modules of this package that declare a ``KIND``. One line per kind.
KIND_MODULES = (
    "lambda_",
    "ecs",
    "in_process",
    "step_functions",
)
KINDS: dict[str, HandlerKind] = {
    kind.type: kind for kind in (importlib.import_module(f"{__name__}.{module}").KIND for module in KIND_MODULES)
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

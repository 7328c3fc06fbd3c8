"""The handler allow-list: which targets a model may name as its handlers (one field group per kind).

The same list scopes the deployed dispatcher's IAM policy and the completion rules, so nobody with
write access can make PIE start an arbitrary function, task or workflow. Its fields are the ones the
registered kinds declare (``HandlerKind.allow_list``), beside ``partitions``, which every ARN kind
reads: a new kind adds its fields in its own module.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field, create_model

from shared.kinds import KINDS
from shared.kinds.base import HandlerKind

# The deployment's own partition; a deployment in another one (aws-cn, aws-us-gov) names its own.
DEFAULT_PARTITIONS = ("aws",)


class AllowListBase(BaseModel):
    """Targets PIE may start. An empty list admits nothing of that kind."""

    partitions: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PARTITIONS),
        description="ARN partitions handlers may name; the dispatcher can only reach its own.",
    )


def assembled(kinds: Iterable[HandlerKind]) -> type[AllowListBase]:
    """The allow-list model with every kind's fields; a field two kinds (or a kind and the base)
    declare is refused, so one kind can never widen another's list."""
    fields: dict[str, Any] = {}
    for kind in kinds:
        for name, description in kind.allow_list.items():
            if name in fields or name in AllowListBase.model_fields:
                raise TypeError(f"the allow-list field {name!r} of the {kind.type} kind is declared twice")
            fields[name] = (list[str], Field(default_factory=list, description=description or None))
    return create_model(
        "HandlerAllowList", __base__=AllowListBase, __module__=__name__, __doc__=AllowListBase.__doc__, **fields
    )


HandlerAllowList = assembled(KINDS.values())

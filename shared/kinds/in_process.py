"""The ``in_process`` kind: a Python implementation registered in the code base, run inside the
dispatcher; the job completes in the same delivery, so no AWS event or IAM is involved."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, StringConstraints

from shared.domain.errors import HandlerNotAllowedError
from shared.kinds.base import HandlerKind, HandlerModel

if TYPE_CHECKING:  # the allow-list is assembled from the registered kinds (shared.kinds.allow_list)
    from shared.kinds.allow_list import HandlerAllowList

IMPLEMENTATION_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
# What an implementation takes (the job's input) and returns (its output).
JsonObject = dict[str, Any]


class ImplementationFailed(Exception):
    """Raised by an in-process implementation: its job fails with the message as the reason."""


class InProcessHandler(HandlerModel):
    type: Literal["in_process"]
    implementation: Annotated[str, StringConstraints(pattern=IMPLEMENTATION_PATTERN)] = Field(
        description="Name of an implementation registered in PIE's code base.", examples=["echo"]
    )


def check(role: str, handler: InProcessHandler, allow: HandlerAllowList, implementations: Collection[str]) -> None:
    if handler.implementation not in implementations:
        raise HandlerNotAllowedError(
            f"{role} handler: no in-process implementation named '{handler.implementation}' "
            f"(registered: {', '.join(sorted(implementations))})"
        )
    if handler.implementation not in allow.in_process_implementations:
        raise HandlerNotAllowedError(
            f"{role} handler: in-process implementation '{handler.implementation}' is not in the handler allow-list"
        )


KIND = HandlerKind(
    type="in_process",
    model=InProcessHandler,
    allow_list={"in_process_implementations": "Registered in-process implementations handlers may name."},
    check=check,
    starter="shared.kinds.in_process_start:InProcessStarter",
    # Runs inside the dispatcher, so the dispatcher function's own timeout bounds it.
    default_timeout_seconds=900,
)

"""What every handler kind declares, and the plain-data shapes its facets speak in.

Nothing here does I/O or imports boto3 or the CDK: the API validates handlers with these modules,
and the CDK app turns their IAM statements and event rules (plain data, with ``{partition}``,
``{region}`` and ``{account}`` standing for the stack's own) into constructs. Starters and local
stand-ins are named by ``"module:attribute"`` and loaded only by the dispatcher and ``pie-local``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeGuard

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from shared.domain.completion_tokens import well_formed
from shared.domain.stored import from_storage

if TYPE_CHECKING:  # the allow-list is assembled from the registered kinds (shared.kinds.allow_list)
    from shared.kinds.allow_list import HandlerAllowList

ERROR_LIMIT = 4096
# Unknown fields of one object named one by one; more are one error naming the first and counting
# them, so that a body of 80,000 unknown keys is not answered with an error naming each.
UNKNOWN_FIELDS_LISTED = 10
# Characters of an unknown field's name repeated in an error (a name may be megabytes long).
NAME_SHOWN = 64


def shortened(text: str, limit: int = NAME_SHOWN) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


class ClosedModel(BaseModel):
    """A document that takes no unknown fields: each is a 400, not a silently ignored setting.

    Up to :data:`UNKNOWN_FIELDS_LISTED` of them are pydantic's usual errors (beside the object's
    other problems); past that, the object's only error names the first few and counts them all."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _many_unknown_fields_in_one_error(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict) or len(data) <= UNKNOWN_FIELDS_LISTED or from_storage(info):
            return data
        accepted = {field.alias or name for name, field in cls.model_fields.items()}
        unknown = [name for name in data if name not in accepted]
        if len(unknown) > UNKNOWN_FIELDS_LISTED:
            first = ", ".join(repr(shortened(str(name))) for name in unknown[:UNKNOWN_FIELDS_LISTED])
            raise PydanticCustomError(
                "extra_forbidden",
                "Extra inputs are not permitted: {count} unknown fields, the first {listed}: {first}",
                {"count": f"{len(unknown):,}", "listed": UNKNOWN_FIELDS_LISTED, "first": first},
            )
        return data


class HandlerModel(ClosedModel):
    """A handler's stored and wire schema; unknown fields are a 400, not a silently ignored setting.

    Every kind shares how long one attempt may run; absent, the kind's ``default_timeout_seconds``."""

    timeout_seconds: int | None = Field(
        default=None,
        strict=True,  # "5", true and 5.0 are not integers: a request sending them is refused
        ge=1,
        le=86400,
        description="Seconds one attempt may run before it ends as timed_out; the kind's default when absent. "
        'An integer: 5, not 5.0 or "5".',
        exclude_if=lambda value: value is None,
    )


@dataclass(frozen=True)
class ReportedResult:
    """A job's result as AWS reported it. ``source`` names what reported it (a function ARN, a
    cluster/family, a state machine ARN), so only the job's own handler can complete the job."""

    model_id: str
    job_id: str
    source: str
    status: str  # "succeeded" | "failed"
    output: Any = None
    error: str | None = None
    # The attempt the envelope PIE sent names; None for envelopes sent before attempts existed.
    attempt: int | None = None
    # The envelope's completion token, which proves the result is the attempt's (None: no proof).
    completion_token: str | None = field(default=None, repr=False)
    # The account of the EventBridge event that carried it; None when it came in another way.
    account: str | None = None

    @classmethod
    def of(
        cls, envelope: Mapping[str, Any], source: str, status: str, output: Any = None, error: str | None = None
    ) -> ReportedResult:
        """The result of the job the envelope PIE sent names (see ``is_envelope``)."""
        return cls(
            str(envelope["model_id"]),
            str(envelope["job_id"]),
            source,
            status,
            output,
            error,
            attempt_of(envelope),
            well_formed(envelope.get("completion_token")),
        )


@dataclass(frozen=True)
class IamStatement:
    """An Allow statement for a deployed function; ARNs use ``{partition}``/``{region}``/``{account}``."""

    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class EventRule:
    """An EventBridge rule sending a kind's completion events to the completion function.

    ``pattern`` is EventBridge's JSON pattern syntax (``{"prefix": ...}`` matchers included), with
    ``{partition}``/``{region}``/``{account}`` placeholders in its strings."""

    construct_id: str
    description: str
    pattern: Mapping[str, Any]


def _none(*_: Any) -> list[Any]:
    return []


@dataclass(frozen=True)
class HandlerKind:
    """One handler kind: every facet PIE needs to accept, start, complete and deploy it."""

    type: str
    model: type[HandlerModel]
    # The kind's fields of the handler allow-list (name -> description), each a list of strings
    # that admits nothing when empty; ``HandlerAllowList`` is assembled from every kind's.
    allow_list: Mapping[str, str]
    # Raises HandlerNotAllowedError for a handler outside the allow-list; ``role`` is "training" or
    # "inference", ``implementations`` the in-process implementations the code base registers.
    check: Callable[[str, Any, HandlerAllowList, Collection[str]], None]
    # "module:factory"; the factory takes a shared.kinds.starting.StartContext.
    starter: str
    default_timeout_seconds: int
    # "module:function" ``(client_factory, job) -> bool`` stopping a cancelled job's recorded task;
    # None for kinds whose work cannot be stopped (their later completion is refused instead).
    stopper: str | None = None
    # The boto3 service the starter uses, which pie-local replaces by ``stand_in`` ("module:Class",
    # constructed with pie_local.runtime.targets.LocalTargets).
    client_service: str | None = None
    stand_in: str | None = None
    # Reads an event (EventBridge, or a record sent straight to the completion function) that
    # reports one of this kind's jobs ending; None for anything else.
    read_event: Callable[[dict[str, Any]], ReportedResult | None] = lambda _event: None
    # Whether ``source`` of a ReportedResult is this handler.
    reported_by: Callable[[Any, str], bool] = lambda _handler, _source: False
    # The account whose EventBridge events report this handler's results, given the deployment's
    # own: the handler's resource's account (ARN kinds), else the deployment's (ECS clusters are
    # named by short name, so they are the stack's).
    events_account: Callable[[Any, str | None], str | None] = lambda _handler, deployment: deployment
    completion_rules: Callable[[HandlerAllowList], list[EventRule]] = _none
    # Statements of the dispatcher's role; the second argument is the deployment's iam:PassRole list.
    dispatcher_statements: Callable[[HandlerAllowList, tuple[str, ...]], list[IamStatement]] = _none
    # Synth warnings (a setting that leaves the kind half usable).
    deploy_warnings: Callable[[HandlerAllowList, tuple[str, ...]], list[str]] = _none
    # Why the wildcard resources in ``dispatcher_statements`` are least privilege (for cdk-nag).
    iam_wildcard_reason: str = ""
    # Statements of the cancel route's role, which ``stopper`` needs (e.g. ecs:StopTask on the
    # allowed clusters' tasks), and why their wildcards are least privilege.
    stop_statements: Callable[[HandlerAllowList], list[IamStatement]] = _none
    stop_wildcard_reason: str = ""
    # Reads the kind's own dispatcher settings from the environment (a pydantic model, e.g. the ECS
    # RunTask defaults; raises ValidationError or ValueError for a bad value); its starter finds
    # them in ``StartContext.kind_settings`` under the kind's type. None: the kind has none.
    settings: Callable[[Mapping[str, str]], BaseModel] | None = None


def load(reference: str) -> Any:
    """The attribute a ``"module:attribute"`` reference names."""
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


def is_envelope(value: Any) -> TypeGuard[dict[str, Any]]:
    """Whether ``value``, found in an AWS event, is a job envelope: it names its job and model."""
    return isinstance(value, dict) and "job_id" in value and "model_id" in value


def attempt_of(envelope: Mapping[str, Any]) -> int | None:
    """The envelope's attempt; None for envelopes sent before attempts existed."""
    attempt = envelope.get("attempt")
    return attempt if isinstance(attempt, int) and not isinstance(attempt, bool) and attempt >= 1 else None


def parsed_json(text: Any) -> Any:
    """A JSON document carried as a string in an event, or None when it is not one."""
    import json

    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None

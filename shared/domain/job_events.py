"""The job-event table: every event a subscription can fire on, in one place (SPEC.md, "Firing").

Each row says which action's succeeded job produces the event and which version transition fires
it too: a training job's success moves its version training→active, and so does setting that
status by hand, so both fire ``training_complete``; an inference job moves no version. On an event,
the source model's active subscriptions whose ``trigger_event`` is it fire (``fires_on``). A
``trigger_output`` subscription receives the source job's ``output``; fired by a transition with no
job, it receives ``transition_output`` instead. Its contract is the producing action's
``output_schema``.

One event is produced by no job: ``alias_set`` fires when an alias of the source model moves to
another version (never on a no-op); its subscriptions name the alias they follow (``alias``) and a
``trigger_output`` one receives ``alias_output`` (its contract is ``ALIAS_OUTPUT_SCHEMA``).

``TriggerEvent`` (entities.py) is derived from this table, and every lookup elsewhere reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class JobEvent:
    name: str
    action: str | None  # a succeeded job of this action produces the event (None: no job does)
    transition: tuple[str, str] | None  # the version move (current, requested) that fires it, if any
    alias_move: bool = False  # an alias of the model moving to another version fires it


ALIAS_SET = "alias_set"
TABLE: tuple[JobEvent, ...] = (
    JobEvent("training_complete", action="training", transition=("training", "active")),
    JobEvent("inference_complete", action="inference", transition=None),
    JobEvent(ALIAS_SET, action=None, transition=None, alias_move=True),
)
EVENT_NAMES: tuple[str, ...] = tuple(event.name for event in TABLE)

_BY_NAME = {event.name: event for event in TABLE}
_BY_ACTION = {event.action: event for event in TABLE if event.action is not None}

# What a ``trigger_output`` subscription of an alias move receives (``alias_output``).
ALIAS_OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "model_id": {"type": "string"},
        "alias": {"type": "string"},
        "version": {"type": "string"},
        "previous_version": {"type": ["string", "null"]},
    },
    "required": ["model_id", "alias", "version", "previous_version"],
}


def produced_by(action: str) -> str:
    """The event a succeeded job of ``action`` fires."""
    return _BY_ACTION[action].name


def producing_action(event: str) -> str | None:
    """The action whose job produces ``event``: its output is what ``trigger_output`` receives
    (None for an event no job produces)."""
    return _BY_NAME[event].action


def is_alias_event(event: str) -> bool:
    """Whether ``event`` is fired by an alias move (its subscriptions name the alias)."""
    return _BY_NAME[event].alias_move


def fired_by_transition(current: str, requested: str) -> str | None:
    """The event a version moving ``current → requested`` fires, or None."""
    for event in TABLE:
        if event.transition == (current, requested):
            return event.name
    return None


class _Subscribed(Protocol):
    """What ``fires_on`` reads of a subscription (entities.py builds ``TriggerEvent`` from this table)."""

    status: str
    trigger_event: str
    alias: str | None


def fires_on(subscription: _Subscribed, event: str, alias: str | None = None) -> bool:
    """Whether ``subscription`` is one that fires when ``event`` happens on its source model
    (for an alias move, a move of ``alias``)."""
    return subscription.status == "active" and subscription.trigger_event == event and subscription.alias == alias


def transition_output(model_id: str, version: str | None, metadata: dict[str, Any]) -> dict[str, Any]:
    """What a ``trigger_output`` subscription receives from a transition made by hand (no job)."""
    return {"model_id": model_id, "version": version, "metadata": metadata}


def alias_output(model_id: str, alias: str, version: str, previous_version: str | None) -> dict[str, Any]:
    """What a ``trigger_output`` subscription receives from an alias move."""
    return {"model_id": model_id, "alias": alias, "version": version, "previous_version": previous_version}

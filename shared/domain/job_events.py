"""The job-event table: every event a subscription can fire on, in one place (SPEC.md, "Firing").

Each row says which action's succeeded job produces the event and which version transition fires
it too: a training job's success moves its version training→active, and so does setting that
status by hand, so both fire ``training_complete``; an inference job moves no version. On an event,
the source model's active subscriptions whose ``trigger_event`` is it fire (``fires_on``). A
``trigger_output`` subscription receives the source job's ``output``; fired by a transition with no
job, it receives ``transition_output`` instead. Its contract is the producing action's
``output_schema``.

``TriggerEvent`` (entities.py) is derived from this table, and every lookup elsewhere reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class JobEvent:
    name: str
    action: str  # a succeeded job of this action produces the event
    transition: tuple[str, str] | None  # the version move (current, requested) that fires it, if any


TABLE: tuple[JobEvent, ...] = (
    JobEvent("training_complete", action="training", transition=("training", "active")),
    JobEvent("inference_complete", action="inference", transition=None),
)
EVENT_NAMES: tuple[str, ...] = tuple(event.name for event in TABLE)

_BY_NAME = {event.name: event for event in TABLE}
_BY_ACTION = {event.action: event for event in TABLE}


def produced_by(action: str) -> str:
    """The event a succeeded job of ``action`` fires."""
    return _BY_ACTION[action].name


def producing_action(event: str) -> str:
    """The action whose job produces ``event``: its output is what ``trigger_output`` receives."""
    return _BY_NAME[event].action


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


def fires_on(subscription: _Subscribed, event: str) -> bool:
    """Whether ``subscription`` is one that fires when ``event`` happens on its source model."""
    return subscription.status == "active" and subscription.trigger_event == event


def transition_output(model_id: str, version: str | None, metadata: dict[str, Any]) -> dict[str, Any]:
    """What a ``trigger_output`` subscription receives from a transition made by hand (no job)."""
    return {"model_id": model_id, "version": version, "metadata": metadata}

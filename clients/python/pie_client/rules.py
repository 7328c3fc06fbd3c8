"""The server's rules the SDK and the CLI follow, as PIE publishes them: never re-typed here.

``rules.json`` is a copy of the ``x-pie-lifecycle`` and ``x-pie-job-events`` extensions of PIE's
OpenAPI document (``docs/openapi.json``), shipped in the package; ``make openapi`` writes both,
and a test fails when the copy and the document differ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

_PUBLISHED: dict[str, Any] = json.loads(resources.files("pie_client").joinpath("rules.json").read_text())


@dataclass(frozen=True)
class JobEvent:
    name: str
    action: str | None  # a succeeded job of this action produces the event (None: no job does)
    transition: tuple[str, str] | None  # the version move (from, to) that fires it too, if any
    alias_move: bool = False  # an alias of the model moving to another version fires it


# The version lifecycle: the statuses a version may move to from each status.
NEXT_STATUSES: dict[str, tuple[str, ...]] = {
    status: tuple(following) for status, following in _PUBLISHED["x-pie-lifecycle"]["next_statuses"].items()
}
VERSION_STATUSES: tuple[str, ...] = tuple(NEXT_STATUSES)

# Every event a subscription can fire on, and what produces it.
JOB_EVENTS: tuple[JobEvent, ...] = tuple(
    JobEvent(
        event["name"],
        event["action"],
        None if event["transition"] is None else (event["transition"]["from"], event["transition"]["to"]),
        event["alias_move"],
    )
    for event in _PUBLISHED["x-pie-job-events"]["events"]
)
EVENT_NAMES: tuple[str, ...] = tuple(event.name for event in JOB_EVENTS)

_BY_NAME = {event.name: event for event in JOB_EVENTS}


def producing_action(event: str) -> str | None:
    """The action whose job produces ``event``: its output is what a ``trigger_output``
    subscription on ``event`` receives. None for an event no job produces (an alias move)."""
    return _BY_NAME[event].action


def is_alias_event(event: str) -> bool:
    """Whether an alias move fires ``event``: its subscriptions name the alias (``alias``) and a
    ``trigger_output`` one receives {model_id, alias, version, previous_version}."""
    return _BY_NAME[event].alias_move

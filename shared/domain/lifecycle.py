"""The version lifecycle (SPEC.md): which status may follow which, and how much of the way there
a version keeps (its status history, bounded so that the version can always move)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.domain.errors import IllegalTransitionError

if TYPE_CHECKING:
    from shared.domain.entities import Version

# A version keeps its newest status changes, at most this many (docs/decisions.md: a long history
# had frozen versions at the item size limit).
STATUS_HISTORY_LIMIT = 100

NEXT_STATUSES: dict[str, tuple[str, ...]] = {
    "pending": ("training", "failed"),
    "training": ("active", "failed", "pending"),
    "failed": ("pending", "training"),
    "active": ("failed",),
}


def check_transition(current: str, requested: str) -> bool:
    """True when ``current -> requested`` is a change to make, False when it is the no-op of setting
    the current status again; an illegal transition raises, naming the allowed next states."""
    if requested == current:
        return False
    allowed = NEXT_STATUSES[current]
    if requested not in allowed:
        raise IllegalTransitionError(current, requested, allowed)
    return True


def bounded_history(version: Version, max_bytes: int) -> Version:
    """The version keeping its newest ``STATUS_HISTORY_LIMIT`` status changes, and fewer while its
    document (its JSON, as stored) is over ``max_bytes``: the oldest go first, the newest always
    stays. ``status_history_dropped`` counts every change no longer kept."""
    history = version.status_history
    drop = max(0, len(history) - STATUS_HISTORY_LIMIT)
    while True:
        kept = version.model_copy(
            update={"status_history": history[drop:], "status_history_dropped": version.status_history_dropped + drop}
        )
        over = len(kept.model_dump_json().encode()) - max_bytes
        if over <= 0 or drop >= len(history) - 1:
            return kept
        while over > 0 and drop < len(history) - 1:
            over -= len(history[drop].model_dump_json().encode()) + 1  # the change and its comma
            drop += 1

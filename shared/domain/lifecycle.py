"""The version lifecycle (SPEC.md): which status may follow which."""

from __future__ import annotations

from shared.domain.errors import IllegalTransitionError

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

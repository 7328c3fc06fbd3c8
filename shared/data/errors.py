"""What a conditional write found instead of what it expected: facts, not decisions.

The data layer raises these; the services decide what they mean for the caller (a 404, a 409 naming
the current ``entity_version``, or a retry on fresh state).
"""

from __future__ import annotations


class StaleEntityError(Exception):
    """A conditional write lost to a concurrent one; ``current`` is the entity_version of ``entity``
    now stored (None when unknown or the item no longer exists)."""

    def __init__(self, current: int | None, entity: str = "model") -> None:
        super().__init__(f"{entity} entity_version is now {current}")
        self.current = current
        self.entity = entity


class ItemExistsError(Exception):
    """A create (``attribute_not_exists``) found the item already there; ``entity`` names it."""

    def __init__(self, entity: str) -> None:
        super().__init__(f"the {entity} already exists")
        self.entity = entity

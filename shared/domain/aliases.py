"""Aliases: the rules for naming, resolving, moving and protecting them. No I/O."""

from __future__ import annotations

from datetime import datetime

from shared.domain.entities import LATEST, Alias, AliasChange, Model
from shared.domain.errors import AliasNameInvalidError, AsOfInvalidError

# ``versions/@champion``: a version named through an alias.
ALIAS_MARK = "@"
# The mark as a client that percent-encodes every path segment sends it (``versions/%40champion``).
ENCODED_ALIAS_MARK = "%40"
# Who moves an alias when a promotion policy does, and why.
PROMOTION_ACTOR = "pie"
PROMOTION_REASON = "activated"


def check_name(name: str) -> None:
    """The path pattern checks the shape; ``latest`` already names the newest version."""
    if name == LATEST:
        raise AliasNameInvalidError(name)


def alias_in(reference: str) -> str | None:
    """The alias a version reference names (``@champion`` → ``champion``), or None for a version."""
    for mark in (ALIAS_MARK, ENCODED_ALIAS_MARK):
        if reference.startswith(mark):
            return reference.removeprefix(mark)
    return None


def parse_as_of(value: str) -> datetime:
    """An RFC 3339 instant with its offset (``2026-01-01T00:00:00Z``)."""
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise AsOfInvalidError(value) from None
    if instant.tzinfo is None:
        raise AsOfInvalidError(value)
    return instant


def moved(
    current: Alias | None,
    model_id: str,
    name: str,
    version: str,
    reason: str | None,
    by: str,
    at: datetime,
    first_entity_version: int = 1,
) -> tuple[Alias, AliasChange]:
    """The alias after a move to ``version`` and the history entry recording it."""
    alias = Alias(
        name=name,
        model_id=model_id,
        version=version,
        reason=reason,
        updated_at=at,
        updated_by=by,
        entity_version=current.entity_version + 1 if current is not None else first_entity_version,
    )
    change = AliasChange(
        version=version,
        previous_version=current.version if current is not None else None,
        reason=reason,
        at=at,
        by=by,
    )
    return alias, change


def moves_to_another_version(change: AliasChange) -> bool:
    """Whether a move is one that fires the alias's subscriptions: to another version than the
    alias pointed at (a creation is one; setting it again where it is, e.g. to change the reason,
    is not)."""
    return change.version is not None and change.version != change.previous_version


def deleted(current: Alias, by: str, at: datetime) -> AliasChange:
    """The history entry of a delete: a tombstone, so that ``as_of`` after it finds nothing."""
    return AliasChange(version=None, previous_version=current.version, reason=None, at=at, by=by)


def as_it_stood(model_id: str, name: str, change: AliasChange, entity_version: int) -> Alias | None:
    """The alias a history entry left behind (None after a delete)."""
    if change.version is None:
        return None
    return Alias(
        name=name,
        model_id=model_id,
        version=change.version,
        reason=change.reason,
        updated_at=change.at,
        updated_by=change.by,
        entity_version=entity_version,
    )


def is_protected(model: Model, name: str) -> bool:
    return name in (model.protected_aliases or [])


def promoted_alias(model: Model) -> str | None:
    """The alias the model's promotion policy moves to each version that becomes active."""
    return model.promotion.alias if model.promotion is not None else None


def needs_promote(before: Model | None, after: Model) -> str | None:
    """Why declaring ``after``'s protection and promotion (over ``before``'s) needs
    ``models:promote``, or None: lifting a protection, or a promotion policy that would move a
    protected alias (activating a version would then move it for any writer)."""
    lifted = set(before.protected_aliases if before is not None else []) - set(after.protected_aliases)
    if lifted:
        return f"it lifts the protection of {', '.join(sorted(lifted))}"
    promoted = promoted_alias(after)
    if (
        promoted is not None
        and is_protected(after, promoted)
        and (before is None or promoted_alias(before) != promoted or not is_protected(before, promoted))
    ):
        return f"its promotion policy moves the protected alias '{promoted}'"
    return None

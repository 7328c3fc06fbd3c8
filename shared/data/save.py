"""The one conditional-save helper and the one retry-on-stale helper.

Every write of an entity is conditional: a create on ``attribute_not_exists``, a replace on the
``entity_version`` that was read (and, where a change depends on it, the status). ``save`` runs one
such write and ``save_together`` several in one transaction; both translate what DynamoDB answers —
a failed condition, a cancelled transaction's reasons, an item it refuses to store — into the data
layer's errors (``shared.data.errors``), and decide nothing. ``retry_on_stale`` is the
optimistic-lock loop the services run around them: read, decide, write, and on a lost write either
decide again on fresh state or stop, as the caller says.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import replace as renamed
from enum import Enum
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from shared.data.entities import EVENTS, VERSION_ATTRIBUTE, EntityDescriptor
from shared.data.errors import ItemExistsError, StaleEntityError
from shared.data.items import cancellation_reasons, error_code, key, n, number, s
from shared.domain.errors import ConcurrentUpdateError, ItemNotStorableError
from shared.domain.events import Event

E = TypeVar("E")
T = TypeVar("T")

# How often a read-modify-write is tried before the caller hears it lost to concurrent writes.
WRITE_ATTEMPTS = 5
# How often a transaction cancelled only by a conflict with another request is sent, and the
# longest pause before the next attempt (times the attempt number).
CONFLICT_ATTEMPTS = 3
CONFLICT_PAUSE_SECONDS = 0.025

_CALLS = {"Put": "put_item", "Update": "update_item", "Delete": "delete_item"}


@dataclass(frozen=True)
class Write:
    """One write, as a TransactWriteItems operation (``{"Put": ...}``, ``{"Update": ...}`` or
    ``{"Delete": ...}``). ``entity`` names its item in the errors a failed condition raises;
    ``creates`` says its condition is that the item does not exist yet. ``events`` are the outbound
    events the write's change reports: whoever runs the write puts them in its transaction
    (``shared.domain.events``)."""

    operation: dict[str, Any]
    entity: str
    creates: bool = False
    events: tuple[Event, ...] = ()

    def reporting(self, *events: Event | None) -> Write:
        """The same write, also reporting ``events`` (None: nothing to report)."""
        return renamed(self, events=(*self.events, *(event for event in events if event is not None)))

    @property
    def table(self) -> str:
        ((_, request),) = self.operation.items()
        return str(request["TableName"])


def items_of(writes: list[Write]) -> int:
    """How many transaction items the writes take, their events included."""
    return len(writes) + sum(len(write.events) for write in writes)


def event_writes(writes: list[Write]) -> list[Write]:
    """One create per event the writes report (an event id is new: its create cannot collide)."""
    return [create(write.table, EVENTS, event) for write in writes for event in write.events]


# Building writes --------------------------------------------------------------------------------


def create(table: str, descriptor: EntityDescriptor[E], entity: E) -> Write:
    """Put the entity's item if no item has its key (``ItemExistsError`` otherwise)."""
    put = {"TableName": table, "Item": descriptor.encode(entity), "ConditionExpression": "attribute_not_exists(PK)"}
    return Write({"Put": put}, descriptor.name, creates=True)


def replace(
    table: str,
    descriptor: EntityDescriptor[E],
    entity: E,
    expected_version: int,
    expected_status: str | None = None,
) -> Write:
    """Replace the entity's item if it is still at ``expected_version`` (and ``expected_status``):
    ``StaleEntityError`` with the version now stored otherwise."""
    assert descriptor.version_attribute is not None, f"{descriptor.name} items are never replaced"
    put = {
        "TableName": table,
        "Item": descriptor.encode(entity),
        **_guard(descriptor.version_attribute, expected_version, expected_status),
    }
    return Write({"Put": put}, descriptor.name)


def overwrite(table: str, descriptor: EntityDescriptor[E], entity: E) -> Write:
    """Put the entity's item whatever is there (only beside a create that guards the change)."""
    return Write({"Put": {"TableName": table, "Item": descriptor.encode(entity)}}, descriptor.name)


def update(
    table: str,
    descriptor: EntityDescriptor[Any],
    table_key: dict[str, str],
    attributes: dict[str, Any],
    remove: tuple[str, ...],
    expected_version: int,
    expected_status: str | None = None,
    condition: tuple[str, dict[str, Any]] | None = None,
) -> Write:
    """Set ``attributes`` of an item in place (and remove ``remove``) if it is still at
    ``expected_version`` (and ``expected_status``); ``condition`` adds a clause and its values."""
    assert descriptor.version_attribute is not None, f"{descriptor.name} items are never updated"
    guard = _guard(descriptor.version_attribute, expected_version, expected_status)
    names = {**guard.get("ExpressionAttributeNames", {})}
    values = {**guard["ExpressionAttributeValues"]}
    assignments = []
    for index, (name, value) in enumerate(attributes.items()):
        names[f"#a{index}"] = name
        values[f":a{index}"] = value
        assignments.append(f"#a{index} = :a{index}")
    expression = "SET " + ", ".join(assignments)
    if remove:
        removed = {f"#r{index}": name for index, name in enumerate(remove)}
        names.update(removed)
        expression += " REMOVE " + ", ".join(removed)
    condition_expression = guard["ConditionExpression"]
    if condition is not None:
        condition_expression += f" AND ({condition[0]})"
        values.update(condition[1])
    operation = {
        "TableName": table,
        "Key": key(table_key),
        "UpdateExpression": expression,
        "ConditionExpression": condition_expression,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    return Write({"Update": operation}, descriptor.name)


def delete(
    table: str, descriptor: EntityDescriptor[Any], table_key: dict[str, str], expected_version: int | None = None
) -> Write:
    """Delete an item that exists, or with ``expected_version`` only while it is at that version;
    either way a failed condition is a ``StaleEntityError`` (``current`` None: there is no item)."""
    operation: dict[str, Any] = {"TableName": table, "Key": key(table_key)}
    if expected_version is None:
        operation["ConditionExpression"] = "attribute_exists(PK)"
    else:
        assert descriptor.version_attribute is not None, f"{descriptor.name} items have no version"
        operation.update(_guard(descriptor.version_attribute, expected_version, None))
    return Write({"Delete": operation}, descriptor.name)


def erase(table: str, descriptor: EntityDescriptor[Any], table_key: dict[str, str]) -> Write:
    """Delete an item whether or not it exists (only beside a write that guards the change)."""
    return Write({"Delete": {"TableName": table, "Key": key(table_key)}}, descriptor.name)


def _guard(version_attribute: str, expected_version: int, expected_status: str | None) -> dict[str, Any]:
    guard: dict[str, Any] = {
        "ConditionExpression": f"{version_attribute} = :expected",
        "ExpressionAttributeValues": {":expected": n(expected_version)},
        # The item as it is now comes back with a failed condition: its version goes in the error.
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if expected_status is not None:
        guard["ConditionExpression"] += " AND #status = :previous"
        guard["ExpressionAttributeNames"] = {"#status": "status"}
        guard["ExpressionAttributeValues"][":previous"] = s(expected_status)
    return guard


# Running writes ---------------------------------------------------------------------------------


def save(client: Any, write: Write) -> None:
    """Run one write on its own (in a transaction with the events it reports, if any)."""
    if write.events:
        save_together(client, [write])
        return
    ((kind, request),) = write.operation.items()
    try:
        getattr(client, _CALLS[kind])(**request)
    except ClientError as error:
        translated = _translated(error, [write], write.entity)
        if translated is None:
            raise
        raise translated from None


def save_together(client: Any, writes: list[Write]) -> None:
    """Run the writes in one transaction, with the events they report: all of them or none. (The
    events come last, so a cancellation's reasons still line up with ``writes``.)

    A transaction DynamoDB cancels only because another one touched an item at the same moment
    (``TransactionConflict``) applied nothing and is sent again, up to ``CONFLICT_ATTEMPTS`` times
    with a short random pause; then it is a ``ConcurrentUpdateError`` (409), never a 500."""
    operations = [write.operation for write in [*writes, *event_writes(writes)]]
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            client.transact_write_items(TransactItems=operations)
            return
        except ClientError as error:
            if _only_conflicts(error):
                if attempt == CONFLICT_ATTEMPTS:
                    raise ConcurrentUpdateError(f"the {writes[0].entity}") from None
                time.sleep(random.uniform(0, CONFLICT_PAUSE_SECONDS * attempt))
                continue
            translated = _translated(error, writes, "change")
            if translated is None:
                raise
            raise translated from None


def _only_conflicts(error: ClientError) -> bool:
    """A cancellation whose only reasons are conflicts with other requests (nothing refused)."""
    codes = {reason.get("Code", "None") for reason in cancellation_reasons(error) or []}
    return "TransactionConflict" in codes and codes <= {"TransactionConflict", "None"}


def _translated(error: ClientError, writes: list[Write], request: str) -> Exception | None:
    """The data-layer error for what DynamoDB answered, or None for anything else; ``request``
    names what a refusal of the whole request refused.

    Of a cancelled transaction, a lost condition comes first (the caller re-reads and decides
    again), then an item DynamoDB refuses to store, then a create that found its item. An item over
    400 KB is a ValidationException of the request (or, in real DynamoDB, a ``ValidationError``
    reason of the item)."""
    code = error_code(error)
    if code == "ConditionalCheckFailedException":
        return _condition_failed(writes[0], error.response.get("Item"))
    if code == "ValidationException":
        return _not_storable(request, error.response.get("Error", {}).get("Message", ""))
    reasons = cancellation_reasons(error)
    if not reasons:
        return None
    answers = list(zip(writes, reasons, strict=False))
    for write, reason in answers:
        if reason.get("Code") == "ConditionalCheckFailed" and not write.creates:
            return _condition_failed(write, reason.get("Item"))
    for write, reason in answers:
        if reason.get("Code") == "ValidationError":
            return _not_storable(write.entity, reason.get("Message", ""))
    for write, reason in answers:
        if reason.get("Code") == "ConditionalCheckFailed":
            return ItemExistsError(write.entity)
    return None


def _condition_failed(write: Write, item_now: dict[str, Any] | None) -> Exception:
    if write.creates:
        return ItemExistsError(write.entity)
    return StaleEntityError(number(item_now, VERSION_ATTRIBUTE), write.entity)


def _not_storable(entity: str, reason: str) -> ItemNotStorableError:
    return ItemNotStorableError(f"DynamoDB refused to store the {entity}: {reason}")


# Retrying ---------------------------------------------------------------------------------------


class Retry(Enum):
    """What an ``on_stale`` callback returns to have the write decided again on fresh state."""

    RETRY = "retry"


RETRY = Retry.RETRY


def _always_retry(stale: StaleEntityError) -> Retry:
    return RETRY


def retry_on_stale(
    attempt: Callable[[], T],
    exhausted: Exception,
    on_stale: Callable[[StaleEntityError], T | Retry] = _always_retry,
) -> T:
    """Run ``attempt`` (read, decide, write conditionally) until its write does not lose to a
    concurrent one, at most ``WRITE_ATTEMPTS`` times.

    A lost write is shown to ``on_stale``, which raises the caller's error (an ``If-Match`` that no
    longer holds, an item that is gone), returns ``RETRY`` to try again (the default), or returns
    the answer to give instead. After ``WRITE_ATTEMPTS`` lost writes, ``exhausted`` is raised.
    """
    for _ in range(WRITE_ATTEMPTS):
        try:
            return attempt()
        except StaleEntityError as lost:
            stale = lost
        outcome = on_stale(stale)
        if outcome is not RETRY:
            return outcome
    raise exhausted

"""One request to the embedded table at a time, each applied whole: published if it succeeds, undone if not.

Real DynamoDB applies each request atomically. Moto's in-memory backend does not lock, so two
threads could interleave inside one conditional write or transaction; the embedded table therefore
serializes requests (``SERIALIZE``), which restores the atomicity the code relies on. The
``atomic_requests`` and ``change_capture`` patches (``pie_local.table.moto_patches``) open a
``Request`` around each call and record into it every item the call changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pie_local.table.changes import Change, ChangeLog

SERIALIZE = threading.RLock()
# Set on the moto table whose changes a ChangeLog records, with its PartitionIndex.
CHANGES_ATTRIBUTE = "_pie_changes"
INDEX_ATTRIBUTE = "_pie_index"


_Answer = TypeVar("_Answer")


class InFlight:
    """The outermost request in progress; only read and written while holding ``SERIALIZE``."""

    request: Request | None = None


class Request:
    """The items one request changed, to publish if it succeeds and to restore if it fails.

    DynamoDB applies a request whole or not at all. Moto backs a transaction up by deep-copying
    the whole table, once per item of the transaction, and swaps the copy in on failure, which makes
    every transaction cost the size of the table. Instead, the table is never copied: the previous
    version of each item a request touches is kept here (moto replaces an item or mutates a deep copy
    of it, so the previous object stays intact) and put back if the request fails.
    """

    def __init__(self) -> None:
        self._written: list[tuple[ChangeLog, int]] = []
        self._undo: list[tuple[Any, Any, Any, Any]] = []
        self._first_touch: dict[tuple[int, Any, Any], tuple[Any, Any, Any, Any]] = {}

    def touch(self, table: Any, old: Any, new: Any) -> None:
        item = old if old is not None else new
        touched = (table, item.hash_key, item.range_key, old)
        self._undo.append(touched)
        self._first_touch.setdefault((id(table), item.hash_key, item.range_key), touched)

    def commit(self) -> None:
        """Publish one change per item whose content changed, as DynamoDB's stream does."""
        by_log: dict[int, tuple[ChangeLog, list[Change]]] = {}
        for table, hash_key, range_key, old in self._first_touch.values():
            current = table.get_item(hash_key, range_key)
            old_image = old.to_json()["Attributes"] if old is not None else None
            new_image = current.to_json()["Attributes"] if current is not None else None
            if old_image == new_image:
                continue
            getattr(table, INDEX_ATTRIBUTE).move(hash_key, range_key, old_image, new_image)
            keys = {table.hash_key_attr: hash_key.to_json()}
            if range_key is not None:
                keys[table.range_key_attr] = range_key.to_json()
            changes = getattr(table, CHANGES_ATTRIBUTE)
            by_log.setdefault(id(changes), (changes, []))[1].append(Change(keys, old_image, new_image))
        for changes, batch in by_log.values():
            self._written.append((changes, changes.append(batch)))

    def wait_durable(self) -> None:
        """Return once the committed changes are on disk (``ChangeLog.sync``); called after the
        table's lock is released, so that writers waiting at once share one fsync."""
        for changes, sequence in self._written:
            changes.sync(sequence)

    def roll_back(self) -> None:
        for table, hash_key, range_key, old in reversed(self._undo):
            if range_key is None:
                if old is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = old
            elif old is None:
                table.items[hash_key].pop(range_key, None)
            else:
                table.items[hash_key][range_key] = old


def applied_whole(call: Callable[[], _Answer], refused: Callable[[_Answer], bool]) -> _Answer:
    """Run one request to moto alone and whole: its item changes are published when it succeeds and
    undone when its answer is ``refused`` or it raises. A request moto makes inside a request joins
    it. Returns once the changes are on disk, waited for after the lock is released, so that the
    disk's time holds up no other request and writers that commit meanwhile share the fsync."""
    with SERIALIZE:
        if InFlight.request is not None:
            return call()
        InFlight.request = current = Request()
        try:
            answer = call()
            if refused(answer):
                current.roll_back()
            else:
                current.commit()
        except BaseException:
            current.roll_back()
            raise
        finally:
            InFlight.request = None
    current.wait_durable()
    return answer

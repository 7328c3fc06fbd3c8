"""Moto's transaction backups, made to cost what the transaction touches.

Before applying a transaction, moto deep-copies the whole table so that it can roll back, and it
does so once per *item* of the transaction. The copy includes every stream record the table has
ever produced. A 100-item transaction on a table of N items with S stream records therefore copies
100 × (N + S) objects, and every write makes later transactions slower, a cost DynamoDB does not
have. ``one_backup_per_transaction`` makes moto back each table up once per transaction and share,
rather than copy, the stream records already written (moto never changes a record once appended).
The backup is still taken before any item is applied, so moto's results and rollbacks are the same.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_installed = threading.Lock()


@contextmanager
def one_backup_per_transaction() -> Iterator[None]:
    """Install the change for the duration (a no-op when it is installed already)."""
    if not _installed.acquire(blocking=False):
        yield
        return
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    backend = models.DynamoDBBackend
    original = backend.transact_write_items
    state = threading.local()

    class _CopyOncePerTransaction:
        """Stands in for the ``copy`` module inside ``moto.dynamodb.models``."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
            backups = getattr(state, "backups", None)
            if backups is None or not isinstance(value, Table):
                return copy.deepcopy(value, memo)
            if id(value) not in backups:
                shared = {} if memo is None else memo
                shard = getattr(value, "stream_shard", None)
                for record in shard.items if shard is not None else ():
                    shared[id(record)] = record
                backups[id(value)] = copy.deepcopy(value, shared)
            return backups[id(value)]

    def transact_write_items(self: Any, transact_items: Any) -> Any:
        state.backups = {}
        try:
            return original(self, transact_items)
        finally:
            state.backups = None

    models.copy = _CopyOncePerTransaction()
    backend.transact_write_items = transact_write_items
    try:
        yield
    finally:
        models.copy = copy
        backend.transact_write_items = original
        _installed.release()

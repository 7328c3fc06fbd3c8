"""An embedded DynamoDB for the local stack and the tests: moto, in this process.

Real DynamoDB applies each request atomically. Moto's in-memory backend does not lock, so two
threads could interleave inside one conditional write or transaction; the embedded table
therefore serializes requests, which restores the atomicity the code relies on. Each request's
item changes are published to the table's ``ChangeLog`` (``shared.local.changes``) when it succeeds
and undone when it fails, which also makes moto's whole-table transaction backups unnecessary.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from shared.data.table import TTL_ATTRIBUTE, create_table
from shared.local.changes import Change, ChangeLog

LOCAL_REGION = "us-east-1"


def use_fake_credentials(environ: dict[str, str] | Any = os.environ) -> None:
    """Moto's documented fake credentials, so nothing can reach a real account."""
    environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    environ.setdefault("AWS_SESSION_TOKEN", "testing")
    environ.setdefault("AWS_DEFAULT_REGION", LOCAL_REGION)
    environ.setdefault("AWS_REGION", environ["AWS_DEFAULT_REGION"])
    # botocore 1.44 sends DynamoDB Streams calls to an account-specific endpoint that moto does not
    # recognise ("Not yet implemented"); the classic endpoint is what moto serves.
    environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"


_serialize_requests = threading.RLock()
_patched = False
# The outermost request in progress; only read and written while holding _serialize_requests.
_request: _Request | None = None
_change_logs: dict[str, ChangeLog] = {}
# Set on the moto table whose changes a ChangeLog records.
_CHANGES_ATTRIBUTE = "_pie_changes"


class _Request:
    """The items one request changed, to publish if it succeeds and to restore if it fails.

    DynamoDB applies a request whole or not at all. Moto backs a transaction up by deep-copying
    the whole table, once per item of the transaction, and swaps the copy in on failure, which makes
    every transaction cost the size of the table. Instead, the table is never copied: the previous
    version of each item a request touches is kept here (moto replaces an item or mutates a deep copy
    of it, so the previous object stays intact) and put back if the request fails.
    """

    def __init__(self) -> None:
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
            keys = {table.hash_key_attr: hash_key.to_json()}
            if range_key is not None:
                keys[table.range_key_attr] = range_key.to_json()
            changes = getattr(table, _CHANGES_ATTRIBUTE)
            by_log.setdefault(id(changes), (changes, []))[1].append(Change(keys, old_image, new_image))
        for changes, batch in by_log.values():
            changes.append(batch)

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


def _make_moto_atomic() -> None:
    global _patched
    if _patched:
        return
    import copy

    from moto.core.botocore_stubber import BotocoreStubber
    from moto.dynamodb import models
    from moto.dynamodb.models.table import StreamShard, Table

    original_call = BotocoreStubber.__call__
    original_add = StreamShard.add

    def atomic_call(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        global _request
        with _serialize_requests:
            if _request is not None:
                return original_call(self, event_name, request, **kwargs)
            _request = current = _Request()
            try:
                response = original_call(self, event_name, request, **kwargs)
                if response is not None and response.status_code >= 300:
                    current.roll_back()
                else:
                    current.commit()
                return response
            except BaseException:
                current.roll_back()
                raise
            finally:
                _request = None

    def add(self: Any, old: Any, new: Any) -> None:
        if getattr(self.table, _CHANGES_ATTRIBUTE, None) is None:
            original_add(self, old, new)
        elif _request is not None:
            _request.touch(self.table, old, new)
        else:
            alone = _Request()
            alone.touch(self.table, old, new)
            alone.commit()

    class _TablesAreNotCopied:
        """Stands in for the ``copy`` module inside ``moto.dynamodb.models``, whose only deep copy
        of a table is the transaction backup that ``_Request`` makes unnecessary."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
            if isinstance(value, Table) and getattr(value, _CHANGES_ATTRIBUTE, None) is not None:
                return value
            return copy.deepcopy(value, memo)

    BotocoreStubber.__call__ = atomic_call  # type: ignore[method-assign]
    StreamShard.add = add  # type: ignore[method-assign]
    models.copy = _TablesAreNotCopied()  # type: ignore[attr-defined]
    _patched = True


@contextmanager
def embedded_dynamodb(
    table_name: str, *, data_dir: Path | None = None, fsync: bool = False
) -> Iterator[Any]:
    """Start moto, create PIE's table, and yield a DynamoDB client for it.

    The table's committed changes go to a ``ChangeLog`` (``table_changes(table_name)``). With
    ``data_dir`` the table is loaded from it first and every committed change is kept there.
    """
    from moto import mock_aws

    use_fake_credentials()
    _make_moto_atomic()
    with mock_aws():
        client = boto3.client("dynamodb", region_name=os.environ["AWS_REGION"])
        create_table(client, table_name)
        description = client.describe_table(TableName=table_name)["Table"]
        table = _moto_table(description["TableArn"], table_name)
        changes = ChangeLog(description["LatestStreamArn"], client.meta.region_name, data_dir=data_dir, fsync=fsync)
        with _serialize_requests:
            _load(table, changes.load())
            changes.open(lambda: _live_items(table))
            setattr(table, _CHANGES_ATTRIBUTE, changes)
        _change_logs[table_name] = changes
        try:
            yield client
        finally:
            _change_logs.pop(table_name, None)
            changes.close()


def table_changes(table_name: str) -> ChangeLog:
    """The change log of the embedded table ``table_name`` (inside ``embedded_dynamodb``)."""
    return _change_logs[table_name]


def _moto_table(table_arn: str, table_name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    _, _, _, region, account, _ = table_arn.split(":", 5)
    return dynamodb_backends[account][region].tables[table_name]


def _load(table: Any, items: list[dict[str, Any]]) -> None:
    """Put stored items straight into moto's table: no request, so no stream record."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    now = time.time()
    for image in items:
        expires = image.get(TTL_ATTRIBUTE, {}).get("N")
        if expires is not None and float(expires) < now:
            continue  # DynamoDB deletes items past their time to live.
        hash_key = DynamoType(image[table.hash_key_attr])
        range_key = DynamoType(image[table.range_key_attr])
        table.items[hash_key][range_key] = Item(hash_key, range_key, image)


def _live_items(table: Any) -> Iterator[dict[str, Any]]:
    for by_range in table.items.values():
        for item in by_range.values():
            yield item.to_json()["Attributes"]

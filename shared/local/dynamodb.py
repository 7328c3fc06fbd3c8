"""An embedded DynamoDB for the local stack and the tests: moto, in this process.

Real DynamoDB applies each request atomically. Moto's in-memory backend does not lock, so two
threads could interleave inside one conditional write or transaction; the embedded table
therefore serializes requests, which restores the atomicity the code relies on. Each request's
item changes are published to the table's ``ChangeLog`` (``shared.local.changes``) when it succeeds
and undone when it fails, which also makes moto's whole-table transaction backups unnecessary.
Queries read only the partition they ask for. Together these keep a request's cost independent of
how much the table holds, as it is in DynamoDB.
"""

from __future__ import annotations

import json
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
# Set on the moto table whose changes a ChangeLog records, with its _PartitionIndex.
_CHANGES_ATTRIBUTE = "_pie_changes"
_INDEX_ATTRIBUTE = "_pie_index"


class _PartitionIndex:
    """Which items are in each partition of the table's global secondary indexes.

    Moto answers every query by sorting the whole table and filtering it, so a query's cost grows
    with the table. DynamoDB reads only the partition asked for; with this map (and the table's own
    items, which moto keeps by partition key) the embedded table does the same. It reflects
    committed items: ``_Request.commit`` moves an item between partitions, ``_load`` adds them.
    """

    def __init__(self, table: Any) -> None:
        self._attributes = [
            key["AttributeName"] for index in table.global_indexes for key in index.schema if key["KeyType"] == "HASH"
        ]
        self._global = {index.name for index in table.global_indexes}
        self._members: dict[tuple[str, str, Any], set[tuple[Any, Any]]] = {}

    def move(self, hash_key: Any, range_key: Any, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        for name in self._attributes:
            if old is not None and name in old:
                self._members.get(_partition(name, old[name]), set()).discard((hash_key, range_key))
            if new is not None and name in new:
                self._members.setdefault(_partition(name, new[name]), set()).add((hash_key, range_key))

    def candidates(self, table: Any, index_name: str | None, hash_key: Any, conditions: list[Any]) -> list[Any] | None:
        """The items a query can match, or None when the query is not one this map narrows."""
        if index_name not in self._global:
            if hash_key is None or hash_key not in table.items:
                return None if hash_key is None else []
            return list(table.items[hash_key].values())
        if len(conditions) != 1 or conditions[0][0] not in self._attributes:
            return None
        name, value = conditions[0]
        found = []
        for item_hash, item_range in self._members.get((name, value.type, value.value), ()):
            item = table.items.get(item_hash, {}).get(item_range)
            if item is not None:
                found.append(item)
        return found


# Moto's own limit (DynamoDB's 400 KB, measured the way moto measures).
_ITEM_SIZE_LIMIT = 405_000


def _partition(name: str, value: dict[str, Any]) -> tuple[str, str, Any]:
    ((kind, content),) = value.items()
    return name, kind, content


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
            getattr(table, _INDEX_ATTRIBUTE).move(hash_key, range_key, old_image, new_image)
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


_READS_ANSWERED_AS_JSON = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})


def _sort_value(value: Any) -> Any:
    """What a key attribute sorts by: strings as they are, numbers and binaries as moto casts them."""
    if value is None:
        return ""
    return value.value if value.type == "S" else value.cast_value


def _raw_sort_value(value: dict[str, Any] | None) -> Any:
    """``_sort_value`` of a key attribute as the wire holds it (``{"S": "..."}``)."""
    if value is not None and "S" in value:
        return value["S"]
    from moto.dynamodb.models.dynamo_type import DynamoType

    return _sort_value(DynamoType(value)) if value is not None else ""


def _patch_moto() -> None:
    global _patched
    if _patched:
        return
    import copy

    from moto.core.botocore_stubber import BotocoreStubber
    from moto.dynamodb import models
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.table import StreamShard, Table
    from moto.dynamodb.models.utilities import bytesize
    from moto.dynamodb.responses import DynamoResult

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

    original_query = Table.query
    original_all_items = Table.all_items

    def query(self: Any, hash_key: Any, *arguments: Any, **options: Any) -> Any:
        index = getattr(self, _INDEX_ATTRIBUTE, None)
        if index is None:
            return original_query(self, hash_key, *arguments, **options)
        index_name = arguments[6] if len(arguments) > 6 else options.get("index_name")
        self._pie_candidates = index.candidates(self, index_name, hash_key, options.get("hash_key_conditions") or [])
        try:
            return original_query(self, hash_key, *arguments, **options)
        finally:
            self._pie_candidates = None

    def all_items(self: Any) -> Any:
        # Inside a query, the items of the partition it reads (moto filters and sorts them again).
        candidates = getattr(self, "_pie_candidates", None)
        if candidates is None:
            return original_all_items(self)
        return sorted(candidates, key=lambda item: (_sort_value(item.hash_key), _sort_value(item.range_key)))

    def sorted_items(self: Any, hash_key_attrs: list[str], range_key_attrs: list[str | None], items: list[Any]) -> Any:
        # Moto's own sort compares DynamoType objects, each comparison converting both values:
        # about 70 ms for a partition of 1,000 models, paid again for every page of a list.
        attributes = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
        items.sort(key=lambda item: tuple(_sort_value(item.attrs[name]) for name in attributes))
        return items

    def comes_before(
        self: Any,
        item: Any,
        start: dict[str, Any],
        hash_key_attrs: list[str],
        range_key_attrs: list[str | None],
        scan_index_forward: bool,
    ) -> bool:
        # A page's ExclusiveStartKey is compared with every item before it: without conversions.
        for name in self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs):
            if name in item.attrs:
                held, given = _sort_value(item.attrs[name]), _raw_sort_value(start.get(name))
                if held != given:
                    return (held < given) == scan_index_forward
        return True

    original_equal, original_unequal = DynamoType.__eq__, DynamoType.__ne__

    def equal(self: Any, other: Any) -> bool:
        if type(other) is DynamoType and self.type == "S" and other.type == "S":
            return self.value == other.value
        return original_equal(self, other)

    def unequal(self: Any, other: Any) -> bool:
        if type(other) is DynamoType and self.type == "S" and other.type == "S":
            return self.value != other.value
        return original_unequal(self, other)

    def attribute_size(value: Any) -> int:
        return value.size() if type(value) is DynamoType else bytesize(str(value))

    def set_attribute(self: Any, name: str, value: Any) -> None:
        # Moto counts the value being replaced as well as its replacement, so SET on a large
        # attribute fails at half DynamoDB's item size limit; DynamoDB counts the resulting item.
        others = sum(bytesize(key) + attribute_size(held) for key, held in self.items() if key != name)
        if others + bytesize(name) + attribute_size(value) > _ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        dict.__setitem__(self, name, value)

    original_execute_result = DynamoResult.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        # Moto walks the service model to serialize every answer, about 8 ms per item read; what a
        # read returns is already DynamoDB's JSON (a test compares the two), so it is dumped as is.
        if context.operation_model.name not in _READS_ANSWERED_AS_JSON:
            return original_execute_result(self, context)
        try:
            body = json.dumps(self.result)
        except TypeError:
            return original_execute_result(self, context)
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]
    LimitedSizeDict.__setitem__ = set_attribute  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
    Table.sorted_items = sorted_items  # type: ignore[method-assign]
    Table._item_comes_before_dct = comes_before  # type: ignore[method-assign]
    DynamoType.__eq__ = equal  # type: ignore[method-assign]
    DynamoType.__ne__ = unequal  # type: ignore[method-assign]
    BotocoreStubber.__call__ = atomic_call  # type: ignore[method-assign]
    StreamShard.add = add  # type: ignore[method-assign]
    models.copy = _TablesAreNotCopied()  # type: ignore[attr-defined]
    _patched = True


@contextmanager
def embedded_dynamodb(table_name: str, *, data_dir: Path | None = None, fsync: bool = False) -> Iterator[Any]:
    """Start moto, create PIE's table, and yield a DynamoDB client for it.

    The table's committed changes go to a ``ChangeLog`` (``table_changes(table_name)``). With
    ``data_dir`` the table is loaded from it first and every committed change is kept there.
    """
    from moto import mock_aws

    use_fake_credentials()
    _patch_moto()
    with mock_aws():
        client = boto3.client("dynamodb", region_name=os.environ["AWS_REGION"])
        create_table(client, table_name)
        description = client.describe_table(TableName=table_name)["Table"]
        table = _moto_table(description["TableArn"], table_name)
        changes = ChangeLog(description["LatestStreamArn"], client.meta.region_name, data_dir=data_dir, fsync=fsync)
        try:
            with _serialize_requests:
                setattr(table, _INDEX_ATTRIBUTE, _PartitionIndex(table))
                loaded = _load(table, changes.load())
                changes.open(lambda: _live_items(table), loaded)
                setattr(table, _CHANGES_ATTRIBUTE, changes)
            _change_logs[table_name] = changes
            yield client
        finally:
            _change_logs.pop(table_name, None)
            with _serialize_requests:  # a request in flight finishes and is kept first
                changes.close()


def table_changes(table_name: str) -> ChangeLog:
    """The change log of the embedded table ``table_name`` (inside ``embedded_dynamodb``)."""
    return _change_logs[table_name]


def _moto_table(table_arn: str, table_name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    _, _, _, region, account, _ = table_arn.split(":", 5)
    return dynamodb_backends[account][region].tables[table_name]


def _load(table: Any, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Put stored items straight into moto's table (no request, so no stream record); returns them.

    Each item passed moto's size check when it was written, so it is not checked again (moto's
    check is quadratic in an item's attributes, and would make a restart slow).
    """
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    now = time.time()
    kept = []
    for image in items:
        expires = image.get(TTL_ATTRIBUTE, {}).get("N")
        if expires is not None and float(expires) < now:
            continue  # DynamoDB deletes items past their time to live.
        item = Item.__new__(Item)
        item.hash_key = DynamoType(image[table.hash_key_attr])
        item.range_key = DynamoType(image[table.range_key_attr])
        attributes = LimitedSizeDict.__new__(LimitedSizeDict)
        for name, value in image.items():
            dict.__setitem__(attributes, name, DynamoType(value))
        item.attrs = attributes
        table.items[item.hash_key][item.range_key] = item
        getattr(table, _INDEX_ATTRIBUTE).move(item.hash_key, item.range_key, None, image)
        kept.append(image)
    return kept


def _live_items(table: Any) -> Iterator[dict[str, Any]]:
    for by_range in table.items.values():
        for item in by_range.values():
            yield item.to_json()["Attributes"]

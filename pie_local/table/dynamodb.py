"""An embedded DynamoDB for the local stack and the tests: moto, in this process.

Real DynamoDB applies each request atomically. Moto's in-memory backend does not lock, so two
threads could interleave inside one conditional write or transaction; the embedded table
therefore serializes requests, which restores the atomicity the code relies on. Each request's
item changes are published to the table's ``ChangeLog`` (``pie_local.table.changes``) when it succeeds
and undone when it fails, which also makes moto's whole-table transaction backups unnecessary.
A Query reads only its page, from partitions kept sorted. Together these keep a request's cost
independent of how much the table holds, as it is in DynamoDB.
"""

from __future__ import annotations

import bisect
import inspect
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from pie_local.table.changes import Change, ChangeLog
from shared.data.table import TTL_ATTRIBUTE, create_table

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


class _View:
    """One way a Query reads the table (the table itself, or one index): each partition's members in
    the order moto sorts them (moto's own list of attributes: the partition key, the sort key, then
    the table's key, which breaks ties between equal sort keys)."""

    def __init__(self, order: list[str]) -> None:
        self.order = tuple(order)
        # A partition key's members: (their values of ``order``, item hash key, item range key), ascending.
        self.sorted: dict[str, list[tuple[tuple[str, ...], Any, Any]]] = {}
        # Members with a key attribute that is not a string, which DynamoDB refuses and moto does not:
        # how they sort is moto's business, so a partition holding one is handed to moto whole.
        self.odd: dict[str, set[tuple[Any, Any]]] = {}

    def place(self, image: dict[str, Any] | None) -> tuple[str, tuple[str, ...] | None] | None:
        """The partition of an item (None when no query by a string key reads it) and its place
        in it (None for an odd member)."""
        if image is None or any(name not in image for name in self.order) or "S" not in image[self.order[0]]:
            return None
        values = [image[name] for name in self.order]
        if all("S" in value for value in values):
            return values[0]["S"], tuple(value["S"] for value in values)
        return values[0]["S"], None

    def add(self, place: tuple[str, tuple[str, ...] | None], keys: tuple[Any, Any], in_order: bool = True) -> None:
        partition, order = place
        if order is None:
            self.odd.setdefault(partition, set()).add(keys)
        elif in_order:
            bisect.insort(self.sorted.setdefault(partition, []), (order, *keys))
        else:
            self.sorted.setdefault(partition, []).append((order, *keys))

    def remove(self, place: tuple[str, tuple[str, ...] | None], keys: tuple[Any, Any]) -> None:
        partition, order = place
        members: Any
        if order is None:
            members = self.odd[partition]
            members.discard(keys)
        else:
            members = self.sorted[partition]
            del members[bisect.bisect_left(members, (order,))]
        if not members:
            del (self.odd if order is None else self.sorted)[partition]


class _PartitionIndex:
    """The items of every partition of the table and of its indexes, in the order a Query reads them.

    Moto answers a Query by sorting the whole table, keeping the partition asked for, and walking it
    from its first item past the page's ExclusiveStartKey: every page of a list costs the whole
    table. DynamoDB reads one partition, from the start key on. With each partition kept sorted the
    way moto sorts it, a Query hands moto only the items its answer depends on, found by bisection:
    from the start key and the key condition's first match to one item past Limit. It reflects
    committed items: ``_Request.commit`` moves an item between partitions, ``_load`` adds them.
    """

    def __init__(self, table: Any) -> None:
        order = table._generate_attr_to_sort_by
        self._views = {None: _View(order([table.hash_key_attr], [table.range_key_attr]))}
        for index in table.all_indexes():
            hash_keys = [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"]
            range_keys = [key["AttributeName"] for key in index.schema if key["KeyType"] == "RANGE"]
            if len(hash_keys) == 1 and len(range_keys) == 1:
                self._views[index.name] = _View(
                    order([*hash_keys, table.hash_key_attr], [*range_keys, table.range_key_attr])
                )

    def move(self, hash_key: Any, range_key: Any, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        for view in self._views.values():
            before, after = view.place(old), view.place(new)
            if before != after:
                if before is not None:
                    view.remove(before, (hash_key, range_key))
                if after is not None:
                    view.add(after, (hash_key, range_key))

    def load(self, items: list[tuple[Any, Any, dict[str, Any]]]) -> None:
        """Add items at start: sorted once per partition, not one insertion at a time."""
        for view in self._views.values():
            for hash_key, range_key, image in items:
                place = view.place(image)
                if place is not None:
                    view.add(place, (hash_key, range_key), in_order=False)
            for members in view.sorted.values():
                members.sort()

    def candidates(
        self,
        table: Any,
        index_name: str | None,
        hash_conditions: list[tuple[str, Any]],
        range_conditions: list[tuple[str, str, list[Any]]],
        limit: int | None,
        start: dict[str, Any] | None,
        forward: bool,
        whole_partition: bool,
    ) -> list[Any] | None:
        """The items a query's answer depends on, ascending; None when the query is not one on a
        string partition key of a view (moto then reads the whole table)."""
        view = self._views.get(index_name)
        if view is None or len(hash_conditions) != 1:
            return None
        name, value = hash_conditions[0]
        if name != view.order[0] or value.type != "S":
            return None
        members = view.sorted.get(value.value, [])
        matching = _matching(members, range_conditions, view.order[1])
        start_order = _start_order(start, view.order)
        if whole_partition or value.value in view.odd or matching is None or start_order is False:
            odd = view.odd.get(value.value, ())
            return _items(table, members) + [table.items[hash_key][range_key] for hash_key, range_key in odd]
        low, high = matching
        if start_order is not None:
            at = bisect.bisect_left(members, (start_order,))
            if forward:
                low = max(low, at + (at < len(members) and members[at][0] == start_order))
            else:
                high = min(high, at)
        if limit is not None and high - low >= limit:
            # Moto reads the item after the page's last, whichever it is, to answer a LastEvaluatedKey.
            page = members[low : low + limit + 1] if forward else members[max(0, high - limit - 1) : high]
            return _items(table, page)
        page = _items(table, members[low:high])
        rest = members[high:] if forward else members[:low]
        if rest and sum(item.size() for item in page) + _ITEM_SIZE_LIMIT > _RESULT_SIZE_LIMIT:
            # Moto walks on past the matches only to stop where its answer would pass 1 MB, which
            # an item of at most DynamoDB's size can make it do only after this much.
            return page + _items(table, rest) if forward else _items(table, rest) + page
        return page


def _items(table: Any, members: list[tuple[tuple[str, ...], Any, Any]]) -> list[Any]:
    return [table.items[hash_key][range_key] for _, hash_key, range_key in members]


def _start_order(start: dict[str, Any] | None, order: tuple[str, ...]) -> tuple[str, ...] | bool | None:
    """An ExclusiveStartKey's place in a partition's order: None without one, False when it does
    not name a string for every attribute of the order (moto then compares it its own way)."""
    if start is None:
        return None
    if any(not isinstance(start.get(name), dict) or "S" not in start[name] for name in order):
        return False
    return tuple(start[name]["S"] for name in order)


def _sort_key_of(member: tuple[tuple[str, ...], Any, Any]) -> str:
    return member[0][1]


def _matching(
    members: list[tuple[tuple[str, ...], Any, Any]], range_conditions: list[tuple[str, str, list[Any]]], sort_key: str
) -> tuple[int, int] | None:
    """Where the members a key condition on the sort key keeps are (they are consecutive); None for
    a condition moto should judge member by member."""
    if not range_conditions:
        return 0, len(members)
    if len(range_conditions) != 1 or range_conditions[0][0] != sort_key:
        return None
    _, comparison, values = range_conditions[0]
    if any(value.type != "S" for value in values):
        return None
    operands = [value.value for value in values]
    if comparison == "BEGINS_WITH":
        prefix = operands[0]

        def truncated(member: tuple[tuple[str, ...], Any, Any]) -> str:
            return member[0][1][: len(prefix)]

        return bisect.bisect_left(members, prefix, key=truncated), bisect.bisect_right(members, prefix, key=truncated)
    below = bisect.bisect_left(members, operands[0], key=_sort_key_of)
    through = bisect.bisect_right(members, operands[-1], key=_sort_key_of)
    bounds = {
        "=": (below, through),
        "<": (0, below),
        "<=": (0, through),
        ">": (through, len(members)),
        ">=": (below, len(members)),
        "BETWEEN": (below, through),
    }
    return bounds.get(comparison)


# Moto's own limits: DynamoDB's 400 KB an item, measured the way moto measures, and 1 MB an answer.
_ITEM_SIZE_LIMIT = 405_000
_RESULT_SIZE_LIMIT = 1_000_000


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
# DynamoDB's types whose values moto holds as they are on the wire.
_PLAIN_TYPES = frozenset({"S", "N", "BOOL", "NULL"})


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


_PLAIN_SET = re.compile(r"SET (#\w+ = :\w+(?:, #\w+ = :\w+)*)(?: REMOVE (#\w+(?:, #\w+)*))?")


def _plain_update(
    table: Any, expression: str | None, names: dict[str, str] | None, values: dict[str, Any] | None
) -> tuple[list[tuple[str, dict[str, Any]]], list[str]] | None:
    """``(sets, removes)`` of an update expression that only sets whole attributes from
    placeholders and removes whole attributes, naming no key attribute of the table or of an index
    with a value an index would refuse; None for any other expression (moto then handles it)."""
    matched = _PLAIN_SET.fullmatch(expression or "")
    if matched is None or names is None or values is None:
        return None
    sets = []
    for assignment in matched[1].split(", "):
        name, value = assignment.split(" = ")
        if name not in names or value not in values:
            return None
        sets.append((names[name], values[value]))
    removes = []
    for name in matched[2].split(", ") if matched[2] else ():
        if name not in names:
            return None
        removes.append(names[name])
    touched = [name for name, _ in sets] + removes
    if len(set(touched)) != len(touched) or {table.hash_key_attr, table.range_key_attr} & set(touched):
        return None
    index_keys = {
        part["AttributeName"]
        for index in [*(table.global_indexes or []), *(table.indexes or [])]
        for part in index.schema
    }
    declared = {definition["AttributeName"]: definition["AttributeType"] for definition in table.attr}
    for name, value in sets:
        # An index key must be a non-empty value of its declared type; anything else is moto's to judge.
        if name in index_keys and (list(value) != [declared.get(name)] or "" in value.values()):
            return None
    return sets, removes


def _patch_moto() -> None:
    global _patched
    if _patched:
        return
    import copy

    from moto.core.botocore_stubber import BotocoreStubber
    from moto.core.responses import ActionResult
    from moto.dynamodb import models
    from moto.dynamodb.comparisons import create_condition_expression_parser
    from moto.dynamodb.exceptions import ConditionalCheckFailed, ItemSizeTooLarge, ItemSizeToUpdateTooLarge
    from moto.dynamodb.models import table as table_module
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.table import StreamShard, Table
    from moto.dynamodb.models.utilities import bytesize, dynamo_to_dict
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

    class _AnswersAreNotCopied:
        """Stands in for the ``copy`` module inside ``moto.dynamodb.models.table``, whose only deep
        copy of a list of items is a Query's answer: moto projects it into new items and turns it
        into new JSON before it leaves, changing none of it, so the copy (most of what moto's Query
        spent on a page of models) is not made."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
            if type(value) is list and all(type(item) is Item for item in value):
                return list(value)
            return copy.deepcopy(value, memo)

    original_update_item = models.DynamoDBBackend.update_item

    def update_item(
        self: Any,
        table_name: str,
        key: dict[str, Any],
        update_expression: str,
        expression_attribute_names: dict[str, Any],
        expression_attribute_values: dict[str, Any],
        attribute_updates: dict[str, Any] | None = None,
        expected: dict[str, Any] | None = None,
        condition_expression: str | None = None,
        return_values_on_condition_check_failure: str | None = None,
    ) -> Any:
        """Moto's update, without its expression machinery for what PIE's data layer sends: ``SET``
        of whole attributes from placeholders (and ``REMOVE`` of whole attributes) on an item that
        exists. Moto parses and validates such an expression into a syntax tree and deep-copies the
        item for the stream's old image, which was most of a status change's cost; here the
        condition is still moto's, the size limit is moto's (each value set through its
        ``LimitedSizeDict``), and the old image is the item's attributes before the change. Anything
        else (nested paths, arithmetic, key attributes, a new item) is moto's own path."""
        table = self.get_table(table_name)
        plan = _plain_update(table, update_expression, expression_attribute_names, expression_attribute_values)
        item = None
        if plan is not None and not attribute_updates and not expected:
            hash_value, range_value = self.get_keys_value(table, key)
            item = table.get_item(hash_value, range_value)
        if item is None or getattr(table, _CHANGES_ATTRIBUTE, None) is None:
            return original_update_item(
                self,
                table_name,
                key,
                update_expression,
                expression_attribute_names,
                expression_attribute_values,
                attribute_updates,
                expected,
                condition_expression,
                return_values_on_condition_check_failure,
            )
        condition = create_condition_expression_parser(
            condition_expression, expression_attribute_names, expression_attribute_values
        ).parse()
        if not condition.expr(item):
            if return_values_on_condition_check_failure == "ALL_OLD":
                raise ConditionalCheckFailed(item=item.to_json()["Attributes"])
            raise ConditionalCheckFailed
        sets, removes = plan
        attributes = LimitedSizeDict(item.attrs)  # a dict copy: its values are replaced, never changed
        try:
            for name, value in sets:
                attributes[name] = DynamoType(value)
        except ItemSizeTooLarge:
            raise ItemSizeToUpdateTooLarge() from None
        for name in removes:
            attributes.pop(name, None)
        old = copy.copy(item)
        item.attrs = attributes
        if table.stream_shard is not None:
            table.stream_shard.add(old, item)
        return item

    original_query = Table.query
    original_all_items = Table.all_items
    query_parameters = inspect.signature(original_query)

    def query(self: Any, *arguments: Any, **options: Any) -> Any:
        index = getattr(self, _INDEX_ATTRIBUTE, None)
        if index is None:
            return original_query(self, *arguments, **options)
        given = query_parameters.bind(self, *arguments, **options).arguments
        self._pie_candidates = index.candidates(
            self,
            given.get("index_name"),
            given.get("hash_key_conditions") or [],
            given.get("range_key_conditions") or [],
            given["limit"],
            given["exclusive_start_key"],
            given["scan_index_forward"] is not False,
            whole_partition=bool(given.get("filter_kwargs")),
        )
        try:
            return original_query(self, *arguments, **options)
        finally:
            self._pie_candidates = None

    def all_items(self: Any) -> Any:
        # Inside a query, the items its answer depends on (moto filters and sorts them again).
        candidates = getattr(self, "_pie_candidates", None)
        return original_all_items(self) if candidates is None else candidates

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

    original_size = DynamoType.size

    def size(self: Any) -> int:
        # Moto measures every item an answer reads, twice; most of their values are strings.
        if self.type == "S":
            return bytesize(self.value)
        return original_size(self)

    def as_json(value: Any) -> Any:
        """``dynamo_to_dict``, without its generic walk for the values most items hold."""
        if type(value) is DynamoType and value.type in _PLAIN_TYPES and type(value.value) in (str, bool):
            return {value.type: value.value}
        if isinstance(value, dict) and not hasattr(value, "to_json"):
            return {name: as_json(held) for name, held in value.items()}
        if type(value) is list:
            return [as_json(held) for held in value]
        return dynamo_to_dict(value)

    def dynamo_result(self: Any, result: object) -> None:
        ActionResult.__init__(self, as_json(result))

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

    DynamoResult.__init__ = dynamo_result  # type: ignore[method-assign]
    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]
    DynamoType.size = size  # type: ignore[method-assign]
    LimitedSizeDict.__setitem__ = set_attribute  # type: ignore[method-assign]
    models.DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
    Table.sorted_items = sorted_items  # type: ignore[method-assign]
    Table._item_comes_before_dct = comes_before  # type: ignore[method-assign]
    DynamoType.__eq__ = equal  # type: ignore[method-assign]
    DynamoType.__ne__ = unequal  # type: ignore[method-assign]
    BotocoreStubber.__call__ = atomic_call  # type: ignore[method-assign]
    StreamShard.add = add  # type: ignore[method-assign]
    models.copy = _TablesAreNotCopied()  # type: ignore[attr-defined]
    table_module.copy = _AnswersAreNotCopied()  # type: ignore[attr-defined]
    _patched = True


_session: boto3.Session | None = None


def _mocked_session() -> boto3.Session:
    global _session
    if _session is None:
        _session = boto3.Session()
    return _session


@contextmanager
def embedded_dynamodb(
    table_name: str, *, data_dir: Path | None = None, fsync: bool = False, accept_data_loss: bool = False
) -> Iterator[Any]:
    """Start moto, create PIE's table, and yield a DynamoDB client for it.

    The table's committed changes go to a ``ChangeLog`` (``table_changes(table_name)``). With
    ``data_dir`` the table is loaded from it first and every committed change is kept there; a
    damaged one is refused (``DataDirectoryDamagedError``) unless ``accept_data_loss``.
    """
    from moto import mock_aws

    use_fake_credentials()
    _patch_moto()
    with mock_aws():
        # Moto empties boto3's default session inside a mock, so every client would start a new
        # session and parse botocore's service models again (~120 ms each: most of what a test
        # table cost). One session, made inside a mock with the fake credentials, serves them all.
        boto3.DEFAULT_SESSION = _mocked_session()
        client = boto3.client("dynamodb", region_name=os.environ["AWS_REGION"])
        create_table(client, table_name)
        description = client.describe_table(TableName=table_name)["Table"]
        table = _moto_table(description["TableArn"], table_name)
        changes = ChangeLog(
            description["LatestStreamArn"],
            client.meta.region_name,
            data_dir=data_dir,
            fsync=fsync,
            accept_data_loss=accept_data_loss,
        )
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
    placed = []
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
        placed.append((item.hash_key, item.range_key, image))
    getattr(table, _INDEX_ATTRIBUTE).load(placed)
    return [image for _, _, image in placed]


def _live_items(table: Any) -> Iterator[dict[str, Any]]:
    for by_range in table.items.values():
        for item in by_range.values():
            yield item.to_json()["Attributes"]

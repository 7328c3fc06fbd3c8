"""The embedded table's changes to moto, one named piece each, for the moto version they were written for.

Each ``Patch`` replaces named moto internals (``replaces``) for one documented reason (its
function's docstring). Together they make moto's in-memory DynamoDB answer as DynamoDB does,
atomically and at a cost independent of the table's size, for the table the local stack owns (the
moto table carrying ``CHANGES_ATTRIBUTE``); any other moto table keeps moto's own behaviour.
``tests/integration/test_moto_patches.py`` holds each piece's answers against pristine moto's.

They reach into moto's internals, which change between releases without notice, so they are applied
only to the moto version they were written for (``WRITTEN_FOR``, the pin in ``pyproject.toml``):
any other version stops the start with ``UnsupportedMotoError``, naming both versions.
"""

from __future__ import annotations

import copy
import importlib
import importlib.metadata
import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pie_local.table.direct_calls import EVENT as DIRECT_CALLS_EVENT
from pie_local.table.partitions import ITEM_SIZE_LIMIT, raw_sort_value, sort_value
from pie_local.table.request_scope import (
    CHANGES_ATTRIBUTE,
    INDEX_ATTRIBUTE,
    InFlight,
    Request,
    applied_whole,
)

# The moto release these patches were written for and tested against; pyproject pins the same.
WRITTEN_FOR = "5.2.5"


class UnsupportedMotoError(RuntimeError):
    """The installed moto is not the release the embedded table's patches were written for."""


def check_moto_version(installed: str | None = None) -> None:
    """Refuse to patch a moto release other than ``WRITTEN_FOR`` (the installed one by default)."""
    installed = importlib.metadata.version("moto") if installed is None else installed
    if installed != WRITTEN_FOR:
        raise UnsupportedMotoError(
            f"the embedded DynamoDB patches moto's internals and was written for moto {WRITTEN_FOR}, "
            f"but moto {installed} is installed: install the pinned version "
            f"(pip install -e '.[dev]', which pins moto[dynamodb]=={WRITTEN_FOR}), or port "
            "pie_local/table/moto_patches.py to the new release and move the pin and WRITTEN_FOR together"
        )


@dataclass(frozen=True)
class Patch:
    name: str
    # The moto internals it replaces, as "module:attribute" (a dotted attribute for a class's).
    replaces: tuple[str, ...]
    apply: Callable[[], None]
    # The botocore events it adds a handler for (to every session made after it is applied).
    handles: tuple[str, ...] = ()

    @property
    def purpose(self) -> str:
        return inspect.getdoc(self.apply) or ""


def resolve(target: str) -> Any:
    """The object a ``replaces`` entry names, as moto holds it now."""
    module, _, attribute = target.partition(":")
    value: Any = importlib.import_module(module)
    for name in attribute.split("."):
        value = inspect.getattr_static(value, name)
    return value


def _replace(target: str, replacement: Any) -> None:
    module, _, attribute = target.partition(":")
    owner: Any = importlib.import_module(module)
    *path, name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    setattr(owner, name, replacement)


def _ours(table: Any) -> bool:
    """Whether a moto table is one the local stack owns (its changes go to a ChangeLog)."""
    return getattr(table, CHANGES_ATTRIBUTE, None) is not None


# The pieces ------------------------------------------------------------------------------------


def _atomic_requests() -> None:
    """Serialize every request to moto and apply it whole: a request's item changes are published
    to the table's ChangeLog when it succeeds and undone when it answers an error or raises, as
    DynamoDB applies a request atomically (moto does not lock, so threads could interleave inside
    one conditional write or transaction). A request moto makes inside a request joins it. The
    request returns once its changes are on disk, waited for after the lock is released."""
    from moto.core.botocore_stubber import BotocoreStubber

    original_call = BotocoreStubber.__call__

    def atomic_call(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        return applied_whole(
            lambda: original_call(self, event_name, request, **kwargs),
            refused=lambda response: response is not None and response.status_code >= 300,
        )

    _replace("moto.core.botocore_stubber:BotocoreStubber.__call__", atomic_call)


def _change_capture() -> None:
    """Record each item change of an owned table in the request in progress (or publish it alone),
    instead of moto's stream shard: the ChangeLog is the table's stream, one record per item whose
    content changed, as DynamoDB's stream has."""
    from moto.dynamodb.models.table import StreamShard

    original_add = StreamShard.add

    def add(self: Any, old: Any, new: Any) -> None:
        if not _ours(self.table):
            original_add(self, old, new)
        elif InFlight.request is not None:
            InFlight.request.touch(self.table, old, new)
        else:
            alone = Request()
            alone.touch(self.table, old, new)
            alone.commit()
            alone.wait_durable()

    _replace("moto.dynamodb.models.table:StreamShard.add", add)


def _no_table_backup() -> None:
    """Do not deep-copy an owned table as a transaction's backup: moto copies the whole table once
    per item of a transaction and swaps the copy back on failure, so every transaction cost the
    size of the table; ``Request`` keeps each touched item's previous version instead."""
    from moto.dynamodb.models.table import Table

    class TablesAreNotCopied:
        """Stands in for the ``copy`` module inside ``moto.dynamodb.models``, whose only deep copy
        of a table is the transaction backup."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
            if isinstance(value, Table) and _ours(value):
                return value
            return copy.deepcopy(value, memo)

    _replace("moto.dynamodb.models:copy", TablesAreNotCopied())


def _no_answer_copy() -> None:
    """Do not deep-copy a Query's items: moto projects them into new items and turns them into new
    JSON before they leave, changing none of them, so the copy (most of what moto's Query spent on a
    page of models) is not made."""
    from moto.dynamodb.models.dynamo_type import Item

    class AnswersAreNotCopied:
        """Stands in for the ``copy`` module inside ``moto.dynamodb.models.table``, whose only deep
        copy of a list of items is a Query's answer."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
            if type(value) is list and all(type(item) is Item for item in value):
                return list(value)
            return copy.deepcopy(value, memo)

    _replace("moto.dynamodb.models.table:copy", AnswersAreNotCopied())


PLAIN_SET = re.compile(r"SET (#\w+ = :\w+(?:, #\w+ = :\w+)*)(?: REMOVE (#\w+(?:, #\w+)*))?")


def plain_update(
    table: Any, expression: str | None, names: dict[str, str] | None, values: dict[str, Any] | None
) -> tuple[list[tuple[str, dict[str, Any]]], list[str]] | None:
    """``(sets, removes)`` of an update expression that only sets whole attributes from
    placeholders and removes whole attributes, naming no key attribute of the table or of an index
    with a value an index would refuse; None for any other expression (moto then handles it)."""
    matched = PLAIN_SET.fullmatch(expression or "")
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


def _plain_updates() -> None:
    """Apply what PIE's data layer sends (``SET`` of whole attributes from placeholders, ``REMOVE``
    of whole attributes, on an item of an owned table that exists) without moto's expression
    machinery: moto parses and validates such an expression into a syntax tree and deep-copies the
    item for the stream's old image, which was most of a status change's cost. The condition is
    still moto's, the size limit is moto's (each value set through its ``LimitedSizeDict``), and the
    old image is the item's attributes before the change. Anything else (nested paths, arithmetic,
    key attributes, a new item) takes moto's own path."""
    from moto.dynamodb import models
    from moto.dynamodb.comparisons import create_condition_expression_parser
    from moto.dynamodb.exceptions import ConditionalCheckFailed, ItemSizeTooLarge, ItemSizeToUpdateTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

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
        table = self.get_table(table_name)
        plan = plain_update(table, update_expression, expression_attribute_names, expression_attribute_values)
        item = None
        if plan is not None and not attribute_updates and not expected:
            hash_value, range_value = self.get_keys_value(table, key)
            item = table.get_item(hash_value, range_value)
        if item is None or not _ours(table):
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

    _replace("moto.dynamodb.models:DynamoDBBackend.update_item", update_item)


def _partition_queries() -> None:
    """Hand moto's Query only the items its answer depends on, found by bisection in the sorted
    partition it reads (``PartitionIndex``): moto sorts the whole table and walks the partition from
    its first item past the page's ExclusiveStartKey, so every page of a list cost the whole table.
    Moto still filters, sorts, pages and projects those items itself."""
    from moto.dynamodb.models.table import Table

    original_query = Table.query
    original_all_items = Table.all_items
    query_parameters = inspect.signature(original_query)

    def query(self: Any, *arguments: Any, **options: Any) -> Any:
        index = getattr(self, INDEX_ATTRIBUTE, None)
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

    _replace("moto.dynamodb.models.table:Table.query", query)
    _replace("moto.dynamodb.models.table:Table.all_items", all_items)


def _fast_sort() -> None:
    """Sort a Query's items, and compare them with its ExclusiveStartKey, by plain values instead of
    moto's DynamoType comparisons, each of which converts both values: about 70 ms for a partition
    of 1,000 models, paid again for every page of a list. The order is moto's."""

    def sorted_items(self: Any, hash_key_attrs: list[str], range_key_attrs: list[str | None], items: list[Any]) -> Any:
        attributes = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
        items.sort(key=lambda item: tuple(sort_value(item.attrs[name]) for name in attributes))
        return items

    def comes_before(
        self: Any,
        item: Any,
        start: dict[str, Any],
        hash_key_attrs: list[str],
        range_key_attrs: list[str | None],
        scan_index_forward: bool,
    ) -> bool:
        for name in self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs):
            if name in item.attrs:
                held, given = sort_value(item.attrs[name]), raw_sort_value(start.get(name))
                if held != given:
                    return (held < given) == scan_index_forward
        return True

    _replace("moto.dynamodb.models.table:Table.sorted_items", sorted_items)
    _replace("moto.dynamodb.models.table:Table._item_comes_before_dct", comes_before)


def _string_equality() -> None:
    """Compare two strings held as DynamoType by their values directly; moto's generic comparison
    (which casts both sides) is kept for every other type."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    original_equal, original_unequal = DynamoType.__eq__, DynamoType.__ne__

    def equal(self: Any, other: Any) -> bool:
        if type(other) is DynamoType and self.type == "S" and other.type == "S":
            return self.value == other.value
        return original_equal(self, other)

    def unequal(self: Any, other: Any) -> bool:
        if type(other) is DynamoType and self.type == "S" and other.type == "S":
            return self.value != other.value
        return original_unequal(self, other)

    _replace("moto.dynamodb.models.dynamo_type:DynamoType.__eq__", equal)
    _replace("moto.dynamodb.models.dynamo_type:DynamoType.__ne__", unequal)


def _item_size_on_set() -> None:
    """Measure an item's size limit on the item that results from a SET, as DynamoDB does. Moto also
    counts the value being replaced, so replacing a large attribute fails at half DynamoDB's item
    size limit. This is the one piece that answers differently from moto, on purpose."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import bytesize

    def attribute_size(value: Any) -> int:
        return value.size() if type(value) is DynamoType else bytesize(str(value))

    def set_attribute(self: Any, name: str, value: Any) -> None:
        others = sum(bytesize(key) + attribute_size(held) for key, held in self.items() if key != name)
        if others + bytesize(name) + attribute_size(value) > ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        dict.__setitem__(self, name, value)

    _replace("moto.dynamodb.models.dynamo_type:LimitedSizeDict.__setitem__", set_attribute)


def _item_measured_once() -> None:
    """Measure a new item's size once, when it is whole: moto builds an item attribute by attribute,
    measuring every attribute already set at each one, so a put cost the square of its attributes
    (a model of 50 attributes: 1,275 measures). An item over the limit is refused all the same, with
    moto's error, and the limit is the one ``item_size_on_set`` applies."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    def item_init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        held = LimitedSizeDict.__new__(LimitedSizeDict)
        size = 0
        for name, value in attrs.items():
            attribute = DynamoType(value)
            size += bytesize(name) + attribute.size()
            dict.__setitem__(held, name, attribute)
        if size > ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        self.attrs = held

    _replace("moto.dynamodb.models.dynamo_type:Item.__init__", item_init)


def _conditions_parsed_once() -> None:
    """Parse each condition once: moto parses a transaction's conditions to validate them and again
    to apply them (a create's seven items: fourteen parses, a fifth of its time in moto). The parse
    of one expression with the same names and values is the same tree; it is kept (the last 256),
    with the names and values it found, and a refused expression is parsed, and refused, every
    time."""
    from moto.dynamodb.comparisons import ConditionExpressionParser

    original_parse = ConditionExpressionParser.parse
    parsed: dict[str, tuple[Any, list[str], list[str]]] = {}

    def key_of(value: Any) -> Any:
        if isinstance(value, bytes):
            return {"bytes": value.hex()}
        raise TypeError(f"{type(value).__name__} in a condition")

    def parse(self: Any) -> Any:
        try:
            key = json.dumps(
                [self.condition_expression, self.expression_attribute_names, self.expression_attribute_values],
                sort_keys=True,
                default=key_of,
            )
        except (TypeError, ValueError):
            return original_parse(self)
        if key not in parsed:
            tree = original_parse(self)
            if len(parsed) >= 256:
                parsed.clear()
            parsed[key] = (tree, list(self.expr_attr_names_found), list(self.expr_attr_values_found))
            return tree
        tree, names, values = parsed[key]
        self.expr_attr_names_found.extend(names)
        self.expr_attr_values_found.extend(values)
        return tree

    _replace("moto.dynamodb.comparisons:ConditionExpressionParser.parse", parse)


def _action_names_kept() -> None:
    """Keep each handler class's method names: moto lists them with ``inspect.getmembers`` on every
    request to find the action's method (a walk of some 300 attributes, about a tenth of a create's
    time in moto). A class's methods do not change while the server runs."""
    from moto.core import utils

    original = utils.method_names_from_class
    names: dict[type, list[str]] = {}

    def method_names_from_class(clazz: Any) -> list[str]:
        if clazz not in names:
            names[clazz] = original(clazz)
        return list(names[clazz])

    _replace("moto.core.responses:method_names_from_class", method_names_from_class)


def _string_size() -> None:
    """Measure a string value directly: moto measures every item an answer reads, twice, through its
    generic walk, and most values are strings."""
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import bytesize

    original_size = DynamoType.size

    def size(self: Any) -> int:
        if self.type == "S":
            return bytesize(self.value)
        return original_size(self)

    _replace("moto.dynamodb.models.dynamo_type:DynamoType.size", size)


_READS_ANSWERED_AS_JSON = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})


def _direct_calls() -> None:
    """Answer each DynamoDB call in process (``pie_local.table.direct_calls``): botocore's
    ``before-call`` hands the serialized request to moto's DynamoDB handler, through moto's own
    parser, and parses its answer with botocore's, instead of signing it, wrapping it as HTTP and
    matching it against every moto service's URLs. The transport was about half of what a route
    spent on the embedded table, all of it under the table's lock. Applied whole, as
    ``atomic_requests`` applies a call through the stubber."""
    from botocore.handlers import BUILTIN_HANDLERS

    from pie_local.table.direct_calls import answer_in_process

    BUILTIN_HANDLERS.append((DIRECT_CALLS_EVENT, answer_in_process))


# DynamoDB's types whose values moto holds as they are on the wire.
_PLAIN_TYPES = frozenset({"S", "N", "BOOL", "NULL"})


def _json_answers() -> None:
    """Send a read's answer as the JSON it already is: moto walks the service model to serialize
    every answer, about 8 ms per item read. The JSON is built without ``dynamo_to_dict``'s generic
    walk for the values most items hold; anything else, and every write, is serialized by moto."""
    from moto.core.responses import ActionResult
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import dynamo_to_dict
    from moto.dynamodb.responses import DynamoResult

    def as_json(value: Any) -> Any:
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
        if context.operation_model.name not in _READS_ANSWERED_AS_JSON:
            return original_execute_result(self, context)
        try:
            body = json.dumps(self.result)
        except TypeError:
            return original_execute_result(self, context)
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

    _replace("moto.dynamodb.responses:DynamoResult.__init__", dynamo_result)
    _replace("moto.dynamodb.responses:DynamoResult.execute_result", execute_result)


PATCHES = (
    Patch("atomic_requests", ("moto.core.botocore_stubber:BotocoreStubber.__call__",), _atomic_requests),
    Patch("change_capture", ("moto.dynamodb.models.table:StreamShard.add",), _change_capture),
    Patch("no_table_backup", ("moto.dynamodb.models:copy",), _no_table_backup),
    Patch("no_answer_copy", ("moto.dynamodb.models.table:copy",), _no_answer_copy),
    Patch("plain_updates", ("moto.dynamodb.models:DynamoDBBackend.update_item",), _plain_updates),
    Patch(
        "partition_queries",
        ("moto.dynamodb.models.table:Table.query", "moto.dynamodb.models.table:Table.all_items"),
        _partition_queries,
    ),
    Patch(
        "fast_sort",
        ("moto.dynamodb.models.table:Table.sorted_items", "moto.dynamodb.models.table:Table._item_comes_before_dct"),
        _fast_sort,
    ),
    Patch(
        "string_equality",
        ("moto.dynamodb.models.dynamo_type:DynamoType.__eq__", "moto.dynamodb.models.dynamo_type:DynamoType.__ne__"),
        _string_equality,
    ),
    Patch("item_size_on_set", ("moto.dynamodb.models.dynamo_type:LimitedSizeDict.__setitem__",), _item_size_on_set),
    Patch("string_size", ("moto.dynamodb.models.dynamo_type:DynamoType.size",), _string_size),
    Patch("action_names_kept", ("moto.core.responses:method_names_from_class",), _action_names_kept),
    Patch("item_measured_once", ("moto.dynamodb.models.dynamo_type:Item.__init__",), _item_measured_once),
    Patch(
        "conditions_parsed_once",
        ("moto.dynamodb.comparisons:ConditionExpressionParser.parse",),
        _conditions_parsed_once,
    ),
    Patch(
        "json_answers",
        ("moto.dynamodb.responses:DynamoResult.__init__", "moto.dynamodb.responses:DynamoResult.execute_result"),
        _json_answers,
    ),
    Patch("direct_calls", (), _direct_calls, handles=(DIRECT_CALLS_EVENT,)),
)

# What each replaced internal was before the patches, by its ``replaces`` entry (for the tests).
PRISTINE: dict[str, Any] = {}


def apply_patches() -> None:
    """Check the moto version, then apply every patch, once per process."""
    if PRISTINE:
        return
    check_moto_version()
    originals = {target: resolve(target) for patch in PATCHES for target in patch.replaces}
    for patch in PATCHES:
        patch.apply()
    PRISTINE.update(originals)

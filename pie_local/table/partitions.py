"""The embedded table's partitions, kept sorted the way moto sorts them, so a Query reads its page.

``PartitionIndex`` is set on the moto table the local stack owns (``INDEX_ATTRIBUTE``); the
``partition_queries`` and ``fast_sort`` patches (``pie_local.table.moto_patches``) read it.
"""

from __future__ import annotations

import bisect
from typing import Any


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


class PartitionIndex:
    """The items of every partition of the table and of its indexes, in the order a Query reads them.

    Moto answers a Query by sorting the whole table, keeping the partition asked for, and walking it
    from its first item past the page's ExclusiveStartKey: every page of a list costs the whole
    table. DynamoDB reads one partition, from the start key on. With each partition kept sorted the
    way moto sorts it, a Query hands moto only the items its answer depends on, found by bisection:
    from the start key and the key condition's first match to one item past Limit. It reflects
    committed items: ``Request.commit`` (``pie_local.table.request_scope``) moves an item between partitions, ``_load`` adds them.
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
        if rest and sum(item.size() for item in page) + ITEM_SIZE_LIMIT > RESULT_SIZE_LIMIT:
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
ITEM_SIZE_LIMIT = 405_000
RESULT_SIZE_LIMIT = 1_000_000


def sort_value(value: Any) -> Any:
    """What a key attribute sorts by: strings as they are, numbers and binaries as moto casts them."""
    if value is None:
        return ""
    return value.value if value.type == "S" else value.cast_value


def raw_sort_value(value: dict[str, Any] | None) -> Any:
    """``sort_value`` of a key attribute as the wire holds it (``{"S": "..."}``)."""
    if value is not None and "S" in value:
        return value["S"]
    from moto.dynamodb.models.dynamo_type import DynamoType

    return sort_value(DynamoType(value)) if value is not None else ""

"""Search: one page of a filtered list, read from the index the plan's driver names.

Every candidate comes from a Query (never a Scan): the model list (GSI1), models of a status (GSI2),
models with a tag value (GSI1, tag index items), models by name (GSI3), a model's versions (LSI1),
a model's versions with a tag value (tag index items in its partition), or one version (GetItem).
The whole filter is then evaluated on each candidate, so an index only has to find a superset.

A page in the index's own order (``plan.native``) streams: it examines at most
``CANDIDATES_PER_PAGE`` candidates and, when they run out before the page is full, ends early with
a token (a page may be short, even empty, and still have a next one, as DynamoDB's own filtered
queries do). Any other order reads the driver's candidates whole, at most ``SORT_CANDIDATES`` of
them (else ``SearchTooBroadError``, a 400), and sorts them. Read costs: docs/decisions.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from shared.data import keys
from shared.data.entities import MODELS, VERSIONS, VersionRecord
from shared.data.items import BATCH_GET_LIMIT, until_processed
from shared.data.items import key as _key
from shared.data.items import s as _s
from shared.data.page_tokens import PageTokenCodec, is_table_key, workspaces_scope
from shared.data.queries import query_from_token
from shared.data.table import GSI1, GSI2, GSI3, LSI1, IndexDefinition
from shared.domain.entities import Model, Version
from shared.domain.errors import PageTokenInvalidError, SearchTooBroadError
from shared.domain.records import Page
from shared.domain.search import Comparison, SearchPlan

# A streamed page examines at most this many candidates (a page holds at most 100).
CANDIDATES_PER_PAGE = 200
# A sorted search reads at most this many candidates.
SORT_CANDIDATES = 500
_MAX_QUERY_LIMIT = 100
_MIN_QUERY_LIMIT = 25
_SOURCE = "source"
_SORT_VALUE, _SORT_TIE = "o", "k"

Item = dict[str, Any]
E = TypeVar("E")
Loader = Callable[[list[Item]], list[Any]]


@dataclass(frozen=True)
class _Source:
    """One Query that yields candidates, in order; ``load`` turns its items into entities (None
    for an item whose entity is gone)."""

    query: dict[str, Any]
    key_attributes: tuple[str, ...]
    load: Loader


def model_fields(model: Model) -> dict[str, str]:
    return {"name": model.name, "status": model.status, "workspace": model.workspace}


def version_fields(version: Version) -> dict[str, str]:
    return {"version": version.version, "status": version.status}


def _index_keys(index: IndexDefinition) -> tuple[str, ...]:
    """What a position in the index is: the table's key and the index's (an LSI shares ``PK``)."""
    return tuple(dict.fromkeys(("PK", "SK", index.partition_key, index.sort_key)))


class SearchStore:
    def __init__(self, client: Any, table_name: str, page_tokens: Callable[[], PageTokenCodec]) -> None:
        self._client = client
        self._table = table_name
        self._page_tokens = page_tokens

    # Models -------------------------------------------------------------------------------------

    def models(
        self, plan: SearchPlan, limit: int, page_token: str | None, workspaces: tuple[str, ...] | None
    ) -> Page[Model]:
        """``workspaces``: the ones to read (None: every one), already narrowed to the filter's
        ``workspace`` term (``shared.domain.search.searched_workspaces``), so a workspace driver is
        the model list's range of that workspace."""

        def keep(model: Model) -> bool:
            visible = workspaces is None or model.workspace in workspaces
            return visible and plan.filter.matches(model_fields(model), model.tags)

        sources = self._model_sources(plan.driver, workspaces, plan.order.descending)
        scope = _scope("models", plan, workspaces)
        if plan.native:
            return self._streamed(sources, limit, page_token, scope, keep)
        field = plan.order.field

        def sort_key(model: Model) -> tuple[str, str]:
            value = model.name if field == "name" else keys.alias_instant(getattr(model, field))
            return value, keys.model_in_workspace(model.workspace, model.id)

        return self._sorted(sources, limit, page_token, scope, keep, sort_key, plan)

    def _model_sources(
        self, driver: Comparison | None, workspaces: tuple[str, ...] | None, descending: bool
    ) -> list[_Source]:
        if driver is not None and driver.field == "name":
            prefix = (
                keys.exact_name_prefix(driver.value) if driver.operator == "=" else keys.name_key_prefix(driver.value)
            )
            query: dict[str, Any] = {
                "IndexName": GSI3.name,
                "KeyConditionExpression": "#pk = :pk",
                "ExpressionAttributeNames": {"#pk": GSI3.partition_key},
                "ExpressionAttributeValues": {":pk": _s(keys.models_by_name_partition())},
                "ScanIndexForward": not descending,
            }
            if prefix:  # a key value is never empty: the empty prefix is the whole partition
                query["KeyConditionExpression"] += " AND begins_with(#sk, :sk)"
                query["ExpressionAttributeNames"]["#sk"] = GSI3.sort_key
                query["ExpressionAttributeValues"][":sk"] = _s(prefix)
            return [_Source(query, _index_keys(GSI3), self._models_of_items)]
        index, partition, load = GSI1, keys.all_models_partition(), self._models_of_items
        if driver is not None and driver.field == "status":
            index, partition = GSI2, keys.models_by_status_partition(driver.value)
        elif driver is not None and driver.field == "tag":
            assert driver.key is not None
            partition, load = keys.models_tagged_partition(driver.key, driver.value), self._models_of_tags
        return [
            _Source(query, _index_keys(index), load)
            for query in _workspace_queries(index, partition, workspaces, descending)
        ]

    def _models_of_items(self, items: list[Item]) -> list[Model]:
        return [MODELS.decode(item).model for item in items]

    def _models_of_tags(self, items: list[Item]) -> list[Model | None]:
        wanted = [item["model_id"]["S"] for item in items]
        found = {
            record.model.id: record.model
            for record in map(MODELS.decode, self._batch_get([keys.model_key(i) for i in dict.fromkeys(wanted)]))
        }
        return [found.get(model_id) for model_id in wanted]

    # Versions -----------------------------------------------------------------------------------

    def versions(self, model_id: str, plan: SearchPlan, limit: int, page_token: str | None) -> Page[Version]:
        def keep(record: VersionRecord) -> bool:
            return plan.filter.matches(version_fields(record.version), record.version.tags)

        driver = plan.driver
        if driver is not None and driver.field == "version":
            item = self._client.get_item(
                TableName=self._table, Key=_key(keys.version_key(model_id, driver.value)), ConsistentRead=True
            ).get("Item")
            if page_token is not None:
                raise PageTokenInvalidError()
            record = VERSIONS.decode(item) if item is not None else None
            return Page([record.version] if record is not None and keep(record) else [], None)
        descending = plan.order.descending
        partition = _s(keys.model_partition(model_id))
        if driver is not None and driver.field == "tag":
            assert driver.key is not None
            query = {
                "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
                "ExpressionAttributeValues": {
                    ":pk": partition,
                    ":prefix": _s(keys.version_tag_prefix(driver.key, driver.value)),
                },
                "ScanIndexForward": not descending,
            }
            source = _Source(query, ("PK", "SK"), self._versions_of_tags)
        else:
            query = {
                "IndexName": LSI1.name,
                "KeyConditionExpression": "PK = :pk AND begins_with(LSI1SK, :prefix)",
                "ExpressionAttributeValues": {":pk": partition, ":prefix": _s(keys.version_order_prefix())},
                "ScanIndexForward": not descending,
            }
            source = _Source(query, _index_keys(LSI1), lambda items: [VERSIONS.decode(item) for item in items])
        scope = _scope(f"versions:{model_id}", plan, None)
        if plan.native:
            page = self._streamed([source], limit, page_token, scope, keep)
        else:
            field = plan.order.field

            def sort_key(record: VersionRecord) -> tuple[str, str]:
                return keys.alias_instant(getattr(record.version, field)), f"{record.sequence:012d}"

            page = self._sorted([source], limit, page_token, scope, keep, sort_key, plan)
        return Page([record.version for record in page.items], page.next_token)

    def _versions_of_tags(self, items: list[Item]) -> list[VersionRecord | None]:
        wanted = [(item["model_id"]["S"], item["version"]["S"]) for item in items]
        found = {
            (record.version.model_id, record.version.version): record
            for record in map(VERSIONS.decode, self._batch_get([keys.version_key(*w) for w in dict.fromkeys(wanted)]))
        }
        return [found.get(pair) for pair in wanted]

    # Paging -------------------------------------------------------------------------------------

    def _streamed(
        self, sources: list[_Source], limit: int, page_token: str | None, scope: str, keep: Callable[[E], bool]
    ) -> Page[E]:
        """A page in the sources' own order, examining at most ``CANDIDATES_PER_PAGE`` candidates."""
        first, start_key = self._stream_start(sources, page_token, scope)
        found: list[tuple[E, Item]] = []
        examined = 0
        for index in range(first, len(sources)):
            source = sources[index]
            query: dict[str, Any] = {"TableName": self._table, **source.query}
            from_token = start_key is not None and index == first
            if from_token:
                query["ExclusiveStartKey"] = start_key
            while True:
                want = max(limit + 1 - len(found), _MIN_QUERY_LIMIT)
                response = query_from_token(
                    self._client,
                    from_token,
                    Limit=min(_MAX_QUERY_LIMIT, CANDIDATES_PER_PAGE - examined, want),
                    **query,
                )
                from_token = False
                items = response["Items"]
                examined += len(items)
                for item, entity in zip(items, source.load(items), strict=True):
                    if entity is not None and keep(entity):
                        found.append((entity, _position(item, source, index)))
                if len(found) > limit:
                    return Page([e for e, _ in found[:limit]], self._seal(scope, found[limit - 1][1]))
                last = response.get("LastEvaluatedKey")
                if examined >= CANDIDATES_PER_PAGE and (last is not None or index + 1 < len(sources)):
                    return Page([e for e, _ in found], self._seal(scope, _position(items[-1], source, index)))
                if last is None:
                    break
                query["ExclusiveStartKey"] = last
        return Page([e for e, _ in found], None)

    def _stream_start(self, sources: list[_Source], page_token: str | None, scope: str) -> tuple[int, Item | None]:
        if page_token is None:
            return 0, None
        position = self._page_tokens().decode(page_token, scope)
        source = position.pop(_SOURCE, {}).get("S", "")
        if not source.isdigit() or int(source) >= len(sources):
            raise PageTokenInvalidError()
        if not is_table_key(position, sources[int(source)].key_attributes):
            raise PageTokenInvalidError()
        return int(source), position

    def _sorted(
        self,
        sources: list[_Source],
        limit: int,
        page_token: str | None,
        scope: str,
        keep: Callable[[E], bool],
        sort_key: Callable[[E], tuple[str, str]],
        plan: SearchPlan,
    ) -> Page[E]:
        """Every candidate of the sources (at most ``SORT_CANDIDATES``), filtered and sorted."""
        descending = plan.order.descending
        candidates: list[E] = []
        examined = 0
        for source in sources:
            query: dict[str, Any] = {"TableName": self._table, **source.query}
            while True:
                response = self._client.query(Limit=min(_MAX_QUERY_LIMIT, SORT_CANDIDATES + 1 - examined), **query)
                examined += len(response["Items"])
                if examined > SORT_CANDIDATES:
                    raise SearchTooBroadError(plan.order.field, SORT_CANDIDATES)
                candidates += [e for e in source.load(response["Items"]) if e is not None and keep(e)]
                if "LastEvaluatedKey" not in response:
                    break
                query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        ordered = sorted(candidates, key=sort_key, reverse=descending)
        if page_token is not None:
            position = self._page_tokens().decode(page_token, scope)
            if not is_table_key(position, (_SORT_VALUE, _SORT_TIE)):
                raise PageTokenInvalidError()
            after = (position[_SORT_VALUE]["S"], position[_SORT_TIE]["S"])
            ordered = [e for e in ordered if (sort_key(e) < after if descending else sort_key(e) > after)]
        if len(ordered) <= limit:
            return Page(ordered, None)
        value, tie = sort_key(ordered[limit - 1])
        return Page(ordered[:limit], self._seal(scope, {_SORT_VALUE: _s(value), _SORT_TIE: _s(tie)}))

    def _seal(self, scope: str, position: Item) -> str:
        return self._page_tokens().encode(scope, position)

    def _batch_get(self, table_keys: list[dict[str, str]]) -> list[Item]:
        found: list[Item] = []
        for start in range(0, len(table_keys), BATCH_GET_LIMIT):
            chunk = [_key(k) for k in table_keys[start : start + BATCH_GET_LIMIT]]
            request = {self._table: {"Keys": chunk, "ConsistentRead": True}}
            for response in until_processed(self._client.batch_get_item, request, "UnprocessedKeys"):
                found += response["Responses"].get(self._table, [])
        return found


def _position(item: Item, source: _Source, index: int) -> Item:
    return {**{name: item[name] for name in source.key_attributes}, _SOURCE: _s(str(index))}


def _scope(what: str, plan: SearchPlan, workspaces: tuple[str, ...] | None) -> str:
    """A token is good only for the same search by a caller who lists the same workspaces."""
    digest = hashlib.sha256(f"{plan!r}|{workspaces_scope(workspaces)}".encode()).hexdigest()[:32]
    return f"search:{what}:{digest}"


def _workspace_queries(
    index: IndexDefinition, partition: str, workspaces: tuple[str, ...] | None, descending: bool
) -> list[dict[str, Any]]:
    """The queries of one partition of an index sorted by ``keys.model_in_workspace``: the whole
    partition, or one key range per workspace, in index order (reversed when descending)."""
    base = {
        "IndexName": index.name,
        "ExpressionAttributeNames": {"#pk": index.partition_key},
        "ScanIndexForward": not descending,
    }
    if workspaces is None:
        return [{**base, "KeyConditionExpression": "#pk = :pk", "ExpressionAttributeValues": {":pk": _s(partition)}}]
    queries = []
    for workspace in sorted(set(workspaces), key=keys.workspace_order, reverse=descending):
        operator, operand = keys.workspace_range(workspace)
        condition = "begins_with(#sk, :sk)" if operator == "begins_with" else f"#sk {operator} :sk"
        queries.append(
            {
                **base,
                "KeyConditionExpression": f"#pk = :pk AND {condition}",
                "ExpressionAttributeNames": {"#pk": index.partition_key, "#sk": index.sort_key},
                "ExpressionAttributeValues": {":pk": _s(partition), ":sk": _s(operand)},
            }
        )
    return queries

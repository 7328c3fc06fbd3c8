"""The registry's data access: models and versions in the single table.

Every write is conditional (``attribute_not_exists`` for creation, ``entity_version`` for updates), so
concurrent requests can never overwrite each other. A failed condition is reported as a fact
(``StaleEntityError``, ``ItemExistsError``); the services decide what it means.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.data import keys
from shared.data.entities import (
    FIRING_INDEXES,
    MODEL_TAGS,
    MODELS,
    VERSION_TAGS,
    VERSIONS,
    VersionRecord,
    firing_indexes,
    model_document,
    model_tags,
    version_tags,
)
from shared.data.errors import StaleEntityError
from shared.data.items import BATCH_GET_LIMIT, until_processed
from shared.data.items import key as _key
from shared.data.items import s as _s
from shared.data.page_tokens import PageTokenCodec, is_table_key, workspaces_scope
from shared.data.queries import purge_partition, query_from_token, query_page
from shared.data.save import create, delete, overwrite, replace, save, save_together
from shared.data.table import GSI1, GSI2, LSI1
from shared.domain import events
from shared.domain.entities import Model, Version
from shared.domain.errors import ModelNotFoundError, PageTokenInvalidError, VersionNotFoundError
from shared.domain.events import Event
from shared.domain.records import Document, ModelRecord, Page


def _in_range(sort_key: str, workspace: str) -> bool:
    operator, operand = keys.workspace_range(workspace)
    return sort_key.startswith(operand) if operator == "begins_with" else sort_key >= operand


class RegistryStore:
    """Models and versions. Lists cost one page of reads; nothing here scans."""

    def __init__(self, client: Any, table_name: str, page_tokens: Callable[[], PageTokenCodec]) -> None:
        """``page_tokens`` is called only by lists, so other routes never fetch the signing key."""
        self._client = client
        self._table = table_name
        self._page_tokens = page_tokens

    # Reads --------------------------------------------------------------------------------------

    def get_model(self, model_id: str) -> ModelRecord:
        return MODELS.decode(self._model_item(model_id))

    def get_model_document(self, model_id: str) -> Document:
        """The model's document as a read answers it (``model_document``), with the same read."""
        return model_document(self._model_item(model_id))

    def _model_item(self, model_id: str) -> dict[str, Any]:
        item = self._client.get_item(
            TableName=self._table, Key=_key(keys.model_key(model_id)), ConsistentRead=True
        ).get("Item")
        if item is None:
            raise ModelNotFoundError(model_id)
        return item

    def get_version(self, model_id: str, version: str) -> Version:
        item = self._client.get_item(
            TableName=self._table, Key=_key(keys.version_key(model_id, version)), ConsistentRead=True
        ).get("Item")
        if item is None:
            raise VersionNotFoundError(model_id, version)
        return VERSIONS.decode(item).version

    def get_model_and_version(self, model_id: str, version: str) -> tuple[ModelRecord, Version]:
        """Both items in one round trip (they share a partition but are not adjacent)."""
        wanted = [_key(keys.model_key(model_id)), _key(keys.version_key(model_id, version))]
        found = self._batch_get(wanted)
        model_item = next((item for item in found if MODELS.holds(item)), None)
        version_item = next((item for item in found if VERSIONS.holds(item)), None)
        if model_item is None:
            raise ModelNotFoundError(model_id)
        if version_item is None:
            raise VersionNotFoundError(model_id, version)
        return MODELS.decode(model_item), VERSIONS.decode(version_item).version

    def get_models(self, model_ids: set[str]) -> dict[str, Model]:
        """The named models that exist, in one round trip per hundred."""
        return {model_id: record.model for model_id, record in self.get_model_records(model_ids).items()}

    def get_model_records(self, model_ids: set[str]) -> dict[str, ModelRecord]:
        """The named models that exist, with their counters, in one round trip per hundred."""
        wanted = sorted(model_ids)
        found: dict[str, ModelRecord] = {}
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            for item in self._batch_get([_key(keys.model_key(i)) for i in wanted[start : start + BATCH_GET_LIMIT]]):
                record = MODELS.decode(item)
                found[record.model.id] = record
        return found

    def get_versions(self, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], Version]:
        """The named versions that exist, in one round trip per hundred."""
        ordered = sorted(wanted)
        found: dict[tuple[str, str], Version] = {}
        for start in range(0, len(ordered), BATCH_GET_LIMIT):
            chunk = ordered[start : start + BATCH_GET_LIMIT]
            for item in self._batch_get([_key(keys.version_key(m, v)) for m, v in chunk]):
                version = VERSIONS.decode(item).version
                found[(version.model_id, version.version)] = version
        return found

    def _batch_get(self, item_keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        request = {self._table: {"Keys": item_keys, "ConsistentRead": True}}
        responses = until_processed(self._client.batch_get_item, request, "UnprocessedKeys")
        return [item for response in responses for item in response["Responses"].get(self._table, [])]

    def list_models(
        self, limit: int, page_token: str | None, status: str | None, workspaces: tuple[str, ...] | None = None
    ) -> Page[Document]:
        """One page of models' documents (``model_document``), of ``status`` when given, of
        ``workspaces`` when given (None: all).

        Each workspace is one key range of the index, so a page reads its ranges in index order,
        at most one query each (``limit + 1`` items in all), and the page token's key says which
        range to resume in: each model is listed exactly once, and nothing is read to be dropped.
        """
        if status is None:
            index, partition_attribute, partition = GSI1, "GSI1PK", keys.all_models_partition()
        else:
            index, partition_attribute, partition = GSI2, "GSI2PK", keys.models_by_status_partition(status)
        if workspaces is None:
            items, next_token = self._query_page(
                list_scope=f"models:{status or '*'}",
                limit=limit,
                page_token=page_token,
                IndexName=index.name,
                KeyConditionExpression="#pk = :pk",
                ExpressionAttributeNames={"#pk": partition_attribute},
                ExpressionAttributeValues={":pk": _s(partition)},
            )
            return Page([model_document(item) for item in items], next_token)
        ordered = sorted(set(workspaces), key=keys.workspace_order)
        list_scope = f"models:{status or '*'}:{workspaces_scope(ordered)}"
        key_attributes = ("PK", "SK", index.partition_key, index.sort_key)
        start = self._page_tokens().decode(page_token, list_scope) if page_token is not None else None
        if start is not None:
            if not is_table_key(start, key_attributes):
                raise PageTokenInvalidError()
            resume_at = start[index.sort_key]["S"]
            ordered = ordered[next((i for i, w in enumerate(ordered) if _in_range(resume_at, w)), len(ordered)) :]
        found: list[dict[str, Any]] = []
        for workspace in ordered:
            operator, operand = keys.workspace_range(workspace)
            condition = "begins_with(#sk, :sk)" if operator == "begins_with" else f"#sk {operator} :sk"
            query: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": index.name,
                "KeyConditionExpression": f"#pk = :pk AND {condition}",
                "ExpressionAttributeNames": {"#pk": partition_attribute, "#sk": index.sort_key},
                "ExpressionAttributeValues": {":pk": _s(partition), ":sk": _s(operand)},
            }
            from_token = start is not None and _in_range(start[index.sort_key]["S"], workspace)
            if from_token:
                query["ExclusiveStartKey"] = start
            while len(found) <= limit:
                response = query_from_token(self._client, from_token, Limit=limit + 1 - len(found), **query)
                from_token = False
                found.extend(response["Items"])
                if "LastEvaluatedKey" not in response:
                    break
                query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            if len(found) > limit:
                break
        next_token = None
        if len(found) > limit:
            last = found[limit - 1]
            next_token = self._page_tokens().encode(list_scope, {name: last[name] for name in key_attributes})
        return Page([model_document(item) for item in found[:limit]], next_token)

    def list_versions(self, model_id: str, limit: int, page_token: str | None) -> Page[Version]:
        """Newest first, by creation order."""
        items, next_token = self._query_page(
            list_scope=f"versions:{model_id}",
            limit=limit,
            page_token=page_token,
            IndexName=LSI1.name,
            KeyConditionExpression="PK = :pk AND begins_with(LSI1SK, :prefix)",
            ExpressionAttributeValues={
                ":pk": _s(keys.model_partition(model_id)),
                ":prefix": _s(keys.version_order_prefix()),
            },
            ScanIndexForward=False,
        )
        return Page([VERSIONS.decode(item).version for item in items], next_token)

    def _query_page(
        self, list_scope: str, limit: int, page_token: str | None, **query: Any
    ) -> tuple[list[dict[str, Any]], str | None]:
        index = next(i for i in (LSI1, GSI1, GSI2) if i.name == query["IndexName"])
        return query_page(
            self._client,
            self._page_tokens,
            list_scope=list_scope,
            limit=limit,
            page_token=page_token,
            key_attributes={"PK", "SK", index.partition_key, index.sort_key},
            TableName=self._table,
            **query,
        )

    # Writes -------------------------------------------------------------------------------------

    def create_model(self, record: ModelRecord, first_version: Version) -> None:
        """``ItemExistsError`` ("model") when a model with its id exists. Reports ``model.created``
        and ``version.created``."""
        save_together(
            self._client,
            [
                create(self._table, MODELS, record).reporting(
                    events.model_created(record.model), events.version_created(first_version)
                ),
                # Guarded by the model's create; they replace what an interrupted delete left.
                overwrite(self._table, VERSIONS, VersionRecord(first_version, 1)),
                *(overwrite(self._table, MODEL_TAGS, tag) for tag in model_tags(record.model)),
                *(overwrite(self._table, VERSION_TAGS, tag) for tag in version_tags(VersionRecord(first_version, 1))),
                *(overwrite(self._table, FIRING_INDEXES, marker) for marker in firing_indexes(record.model.id)),
            ],
        )

    def save_model(
        self,
        record: ModelRecord,
        expected_entity_version: int,
        new_version: Version | None = None,
        reported: tuple[Event, ...] = (),
    ) -> None:
        """Replace the model item if it is still at ``expected_entity_version``; with
        ``new_version``, create that version in the same transaction (``ItemExistsError``
        ("version") when the model has a version of that name), reporting ``version.created``.
        ``reported``: the events the change reports beside it."""
        model_write = replace(self._table, MODELS, record, expected_entity_version).reporting(*reported)
        if new_version is None:
            save(self._client, model_write)
            return
        new_record = VersionRecord(new_version, record.version_sequence)
        version_write = create(self._table, VERSIONS, new_record).reporting(events.version_created(new_version))
        # Guarded by the version's create, which fails first if the version exists.
        tag_writes = [overwrite(self._table, VERSION_TAGS, tag) for tag in version_tags(new_record)]
        save_together(self._client, [model_write, version_write, *tag_writes])

    def delete_model(
        self, model_id: str, expected_entity_version: int | None = None, reported: tuple[Event, ...] = ()
    ) -> None:
        """Delete the model's whole partition (versions, its subscriptions, its jobs) and the model
        item itself, so that an interrupted delete can be finished by repeating it.

        Unconditionally, the partition goes first and the model item last. With
        ``expected_entity_version`` the model item goes first, under that condition, so a model
        that moved on loses nothing (``StaleEntityError``; its ``current`` is None when the model
        is gone, after any orphans of an interrupted delete were purged)."""
        partition = keys.model_partition(model_id)
        if expected_entity_version is not None:
            self._delete_model_item_at(model_id, partition, expected_entity_version, reported)
            self._purge_partition(partition, keep=None)
            return
        self._purge_partition(partition, keep=keys.model_key(model_id))
        try:
            save(self._client, delete(self._table, MODELS, keys.model_key(model_id)).reporting(*reported))
        except StaleEntityError:
            raise ModelNotFoundError(model_id) from None
        # A version created while the partition was being purged would otherwise be orphaned.
        self._purge_partition(partition, keep=None)

    def _delete_model_item_at(
        self, model_id: str, partition: str, expected_entity_version: int, reported: tuple[Event, ...]
    ) -> None:
        model_delete = delete(self._table, MODELS, keys.model_key(model_id), expected_entity_version)
        try:
            save(self._client, model_delete.reporting(*reported))
        except StaleEntityError as stale:
            if stale.current is None:
                self._purge_partition(partition, keep=None)
            raise

    def _purge_partition(self, partition: str, keep: dict[str, str] | None) -> None:
        purge_partition(self._client, self._table, partition, keep)

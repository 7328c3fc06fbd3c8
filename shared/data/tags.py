"""Tag changes: a model's or a version's item and its tag index items in one transaction.

The resource's document holds its tags (that is what the API returns and what a search compares);
each tag also has an index item (``shared.data.entities.ModelTag``/``VersionTag``) that makes an
equality search a Query. Both change together or not at all, conditional on the resource's
``entity_version`` (``StaleEntityError`` otherwise; the services decide what it means).
"""

from __future__ import annotations

from typing import Any

from shared.data import keys
from shared.data.entities import (
    MODEL_TAGS,
    MODELS,
    VERSION_TAGS,
    VERSIONS,
    VersionRecord,
    model_tags,
    version_tags,
)
from shared.data.items import BATCH_GET_LIMIT, until_processed
from shared.data.items import key as _key
from shared.data.save import Write, erase, overwrite, replace, save_together
from shared.domain.entities import Model
from shared.domain.errors import ModelNotFoundError, VersionNotFoundError
from shared.domain.events import Event
from shared.domain.records import ModelRecord


class TagStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get_model_and_version(self, model_id: str, version: str) -> tuple[ModelRecord, VersionRecord]:
        """Both items in one round trip, the version with its place in the model's order."""
        wanted = [_key(keys.model_key(model_id)), _key(keys.version_key(model_id, version))]
        request = {self._table: {"Keys": wanted[:BATCH_GET_LIMIT], "ConsistentRead": True}}
        responses = until_processed(self._client.batch_get_item, request, "UnprocessedKeys")
        found = [item for response in responses for item in response["Responses"].get(self._table, [])]
        model_item = next((item for item in found if MODELS.holds(item)), None)
        version_item = next((item for item in found if VERSIONS.holds(item)), None)
        if model_item is None:
            raise ModelNotFoundError(model_id)
        if version_item is None:
            raise VersionNotFoundError(model_id, version)
        return MODELS.decode(model_item), VERSIONS.decode(version_item)

    def save_model_tags(self, before: Model, after: ModelRecord, reported: tuple[Event, ...] = ()) -> None:
        """Replace the model (still at ``before.entity_version``) and its changed tag items;
        ``reported``: the events the change reports beside it."""
        old = {tag.key: tag for tag in model_tags(before)}
        new = {tag.key: tag for tag in model_tags(after.model)}
        writes = [replace(self._table, MODELS, after, before.entity_version).reporting(*reported)]
        writes += [erase(self._table, MODEL_TAGS, MODEL_TAGS.key(tag)) for name, tag in old.items() if name not in new]
        writes += [overwrite(self._table, MODEL_TAGS, tag) for name, tag in new.items() if old.get(name) != tag]
        save_together(self._client, writes)

    def save_version_tags(self, before: VersionRecord, after: VersionRecord) -> None:
        """Replace the version (still at its ``entity_version`` as read) and its changed tag items."""
        old = set(version_tags(before))
        new = set(version_tags(after))
        writes: list[Write] = [replace(self._table, VERSIONS, after, before.version.entity_version)]
        writes += [erase(self._table, VERSION_TAGS, VERSION_TAGS.key(tag)) for tag in old - new]
        writes += [overwrite(self._table, VERSION_TAGS, tag) for tag in new - old]
        save_together(self._client, writes)

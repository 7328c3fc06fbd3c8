"""Aliases and their history in the single table, in their model's partition.

A move writes the alias (created, or replaced at the ``entity_version`` read) and one history entry
in one transaction, beside a check that the version it points at is still active as read. The
history is keyed by instant, so the alias as it stood at any instant is one Query.

Every move and delete also counts itself on the model's alias guard item. A withdrawal of a version
reads the count, then the aliases, and commits only while the count is as read: so a move to the
version that committed after the withdrawal read the aliases makes the withdrawal decide again, and
the move's own check on the version makes a move lose to a withdrawal that committed first. One of
the two always loses; an alias never points at a withdrawn version.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from shared.data import keys
from shared.data.entities import ALIAS_CHANGES, ALIASES, MODELS, VERSION_ATTRIBUTE, VERSIONS
from shared.data.items import key, n, s, until_processed
from shared.data.page_tokens import PageTokenCodec
from shared.data.queries import query_page
from shared.data.save import Write, create, delete, replace, save_together
from shared.domain import events
from shared.domain.entities import Alias, Version
from shared.domain.errors import AliasNotFoundError, ModelNotFoundError
from shared.domain.records import AliasChangeRecord, ModelRecord, Page

# What the errors about the version a move checks call it.
ALIAS_TARGET = "version the alias points at"
# What the errors about the guard a withdrawal checks call it.
ALIAS_GUARD = "aliases of the model"
_MOVES = "moves"


class AliasStore:
    def __init__(self, client: Any, table_name: str, page_tokens: Callable[[], PageTokenCodec] | None = None) -> None:
        self._client = client
        self._table = table_name
        self._page_tokens = page_tokens

    # Reads --------------------------------------------------------------------------------------

    def get(self, model_id: str, name: str) -> Alias:
        found = self.find(model_id, name)
        if found is None:
            raise AliasNotFoundError(model_id, name)
        return found

    def find(self, model_id: str, name: str) -> Alias | None:
        item = self._client.get_item(
            TableName=self._table, Key=key(keys.alias_key(model_id, name)), ConsistentRead=True
        ).get("Item")
        return ALIASES.decode(item) if item is not None else None

    def with_model(
        self, model_id: str, name: str, version: str | None = None
    ) -> tuple[ModelRecord, Alias | None, Version | None]:
        """The model, the alias (None if there is none) and, when named, a version of the model
        (None if there is none), in one round trip: they share a partition but are not adjacent.
        A missing model is a 404 whatever else is missing."""
        wanted = [key(keys.model_key(model_id)), key(keys.alias_key(model_id, name))]
        if version is not None:
            wanted.append(key(keys.version_key(model_id, version)))
        request = {self._table: {"Keys": wanted, "ConsistentRead": True}}
        found = [
            item
            for response in until_processed(self._client.batch_get_item, request, "UnprocessedKeys")
            for item in response["Responses"].get(self._table, [])
        ]
        model_item = next((item for item in found if MODELS.holds(item)), None)
        if model_item is None:
            raise ModelNotFoundError(model_id)
        alias_item = next((item for item in found if ALIASES.holds(item)), None)
        version_item = next((item for item in found if VERSIONS.holds(item)), None)
        return (
            MODELS.decode(model_item),
            ALIASES.decode(alias_item) if alias_item is not None else None,
            VERSIONS.decode(version_item).version if version_item is not None else None,
        )

    def list_of_model(self, model_id: str) -> list[Alias]:
        """Every alias of a model (a model has a handful: one Query, paged through)."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": s(keys.model_partition(model_id)),
                ":prefix": s(keys.alias_prefix()),
            },
            "ConsistentRead": True,
        }
        found: list[Alias] = []
        while True:
            response = self._client.query(**query)
            found.extend(ALIASES.decode(item) for item in response["Items"])
            if "LastEvaluatedKey" not in response:
                return found
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def last_change(self, model_id: str, name: str, at_or_before: datetime | None = None) -> AliasChangeRecord | None:
        """The newest history entry of the alias (made at or before ``at_or_before``)."""
        prefix = keys.alias_history_prefix(name)
        condition = "PK = :pk AND begins_with(SK, :prefix)"
        values = {":pk": s(keys.model_partition(model_id)), ":prefix": s(prefix)}
        if at_or_before is not None:
            condition = "PK = :pk AND SK BETWEEN :prefix AND :until"
            values[":until"] = s(keys.alias_history_until(name, at_or_before))
        items = self._client.query(
            TableName=self._table,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )["Items"]
        return ALIAS_CHANGES.decode(items[0]) if items else None

    def history_page(self, model_id: str, name: str, limit: int, page_token: str | None) -> Page[AliasChangeRecord]:
        assert self._page_tokens is not None, "listing needs the page token codec"
        items, next_token = query_page(
            self._client,
            self._page_tokens,
            list_scope=f"alias-history:{model_id}:{name}",
            limit=limit,
            page_token=page_token,
            key_attributes=("PK", "SK"),
            TableName=self._table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={
                ":pk": s(keys.model_partition(model_id)),
                ":prefix": s(keys.alias_history_prefix(name)),
            },
            ScanIndexForward=False,
        )
        return Page([ALIAS_CHANGES.decode(item) for item in items], next_token)

    def moves_counted(self, model_id: str) -> int:
        """How many moves and deletes of the model's aliases the guard has counted (read before
        the aliases a withdrawal decides on)."""
        item = self._client.get_item(
            TableName=self._table, Key=key(keys.alias_guard_key(model_id)), ConsistentRead=True
        ).get("Item")
        return int(item[_MOVES]["N"]) if item and _MOVES in item else 0

    # Writes -------------------------------------------------------------------------------------

    def move_writes(
        self, alias: Alias, expected_entity_version: int | None, change: AliasChangeRecord, workspace: str
    ) -> list[Write]:
        """The alias's write (a create when ``expected_entity_version`` is None, reporting
        ``alias.set``), its history entry and the guard's count: the writes a move is made of, on
        their own or inside a larger change."""
        alias_write = (
            create(self._table, ALIASES, alias)
            if expected_entity_version is None
            else replace(self._table, ALIASES, alias, expected_entity_version)
        )
        alias_write = alias_write.reporting(events.alias_set(alias, workspace, change.change.previous_version))
        return [alias_write, create(self._table, ALIAS_CHANGES, change), self._counted(alias.model_id)]

    def unmoved_since(self, model_id: str, moves: int) -> Write:
        """No alias of the model moved (or was deleted) since the guard counted ``moves``."""
        check = {
            "TableName": self._table,
            "Key": key(keys.alias_guard_key(model_id)),
            "ConditionExpression": f"attribute_not_exists({_MOVES}) OR {_MOVES} = :moves"
            if moves == 0
            else f"{_MOVES} = :moves",
            "ExpressionAttributeValues": {":moves": n(moves)},
        }
        return Write({"ConditionCheck": check}, ALIAS_GUARD)

    def _counted(self, model_id: str) -> Write:
        operation = {
            "TableName": self._table,
            "Key": key(keys.alias_guard_key(model_id)),
            "UpdateExpression": f"SET entity_type = :type ADD {_MOVES} :one",
            "ExpressionAttributeValues": {":type": s(keys.ALIAS_GUARD_ENTITY), ":one": n(1)},
        }
        return Write({"Update": operation}, ALIAS_GUARD)

    def target_check(self, version: Version, entity_version: int) -> Write:
        """The version is still active at ``entity_version``: a move never lands on a version
        withdrawn meanwhile."""
        check = {
            "TableName": self._table,
            "Key": key(keys.version_key(version.model_id, version.version)),
            "ConditionExpression": f"{VERSION_ATTRIBUTE} = :expected AND #status = :active",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":expected": n(entity_version), ":active": s("active")},
        }
        return Write({"ConditionCheck": check}, ALIAS_TARGET)

    def delete(self, alias: Alias, change: AliasChangeRecord, workspace: str) -> None:
        """Delete the alias if it is still as read, and record the delete in its history (reporting
        ``alias.deleted``)."""
        table_key = keys.alias_key(alias.model_id, alias.name)
        save_together(
            self._client,
            [
                delete(self._table, ALIASES, table_key, alias.entity_version).reporting(
                    events.alias_deleted(alias, workspace, change.change.by, change.change.at)
                ),
                create(self._table, ALIAS_CHANGES, change),
                self._counted(alias.model_id),
            ],
        )

"""Migrations of the single table: each brings items written before a change to what the change
writes, beside live traffic, idempotently, and records that it finished (``keys.migration_key``).

Until a migration has run, the code that needs it reads the old way (each says how), so nothing is
lost in between; the migration only makes the new way available to old items.
"""

from __future__ import annotations

from typing import Any

from shared.data import keys
from shared.data.entities import ACTIVE_SUBSCRIPTIONS, FIRING_INDEXES, SUBSCRIPTIONS, VERSION_ATTRIBUTE, FiringIndex
from shared.data.errors import StaleEntityError
from shared.data.items import key, n, s
from shared.data.save import Write, erase, overwrite, save_together
from shared.domain import job_events
from shared.domain.entities import Subscription

FIRING_INDEX = "firing-index"


def finished(client: Any, table: str, name: str) -> bool:
    found = client.get_item(TableName=table, Key=key(keys.migration_key(name)), ConsistentRead=True)
    return "Item" in found


def index_active_subscriptions(client: Any, table: str) -> int:
    """Give every model its firing index (``shared.data.subscriptions``): an entry for each active
    subscription, then the markers that say the index is complete. Models created since the index
    exists have it already and are indexed again harmlessly. Returns how many models it indexed."""
    scan: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "entity_type = :model",
        "ExpressionAttributeValues": {":model": s(keys.MODEL_ENTITY)},
        "ProjectionExpression": "PK",
        "ConsistentRead": True,
    }
    indexed = 0
    while True:
        page = client.scan(**scan)
        for item in page["Items"]:
            _index_model(client, table, item["PK"]["S"].removeprefix(keys.model_partition("")))
            indexed += 1
        if "LastEvaluatedKey" not in page:
            break
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    client.put_item(TableName=table, Item=key(keys.migration_key(FIRING_INDEX)))
    return indexed


def _index_model(client: Any, table: str, model_id: str) -> None:
    query: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
        "ExpressionAttributeValues": {
            ":pk": s(keys.model_partition(model_id)),
            ":prefix": s(keys.subscription_prefix()),
        },
        "ConsistentRead": True,
    }
    while True:
        page = client.query(**query)
        for item in page["Items"]:
            _index_subscription(client, table, SUBSCRIPTIONS.decode(item))
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    # The markers last, and only while the model exists (a model deleted meanwhile keeps nothing).
    model_exists = _still(table, keys.model_key(model_id), "attribute_exists(PK)", {}, "model")
    markers = [overwrite(table, FIRING_INDEXES, FiringIndex(model_id, event)) for event in job_events.EVENT_NAMES]
    try:
        save_together(client, [model_exists, *markers])
    except StaleEntityError:
        pass


def _index_subscription(client: Any, table: str, subscription: Subscription | None) -> None:
    """Write the subscription's entry as it is, under the condition that it still is: a change
    meanwhile wrote its own entry, and the migration reads it again."""
    while subscription is not None:
        unchanged = _still(
            table,
            SUBSCRIPTIONS.key(subscription),
            f"{VERSION_ATTRIBUTE} = :expected",
            {":expected": n(subscription.entity_version)},
            "subscription",
        )
        if subscription.status == "active":
            entry = overwrite(table, ACTIVE_SUBSCRIPTIONS, subscription)
        else:
            entry = erase(table, ACTIVE_SUBSCRIPTIONS, ACTIVE_SUBSCRIPTIONS.key(subscription))
        try:
            save_together(client, [unchanged, entry])
            return
        except StaleEntityError:
            item = client.get_item(TableName=table, Key=key(SUBSCRIPTIONS.key(subscription)), ConsistentRead=True).get(
                "Item"
            )
            subscription = None if item is None else SUBSCRIPTIONS.decode(item)


def _still(table: str, table_key: dict[str, str], condition: str, values: dict[str, Any], entity: str) -> Write:
    check: dict[str, Any] = {"TableName": table, "Key": key(table_key), "ConditionExpression": condition}
    if values:
        check["ExpressionAttributeValues"] = values
    return Write({"ConditionCheck": check}, entity)


# Every migration, in the order they run: (name, what it does to the table, returning how many
# items it brought up to date).
MIGRATIONS: tuple[tuple[str, Any], ...] = ((FIRING_INDEX, index_active_subscriptions),)


def run_pending(client: Any, table: str) -> dict[str, int]:
    """Run the migrations the table has not finished, in order: for each one run, how many items it
    brought up to date (models, for ``firing-index``). One GetItem per migration when there is
    nothing to do."""
    ran = {}
    for name, migrate in MIGRATIONS:
        if not finished(client, table, name):
            ran[name] = migrate(client, table)
    return ran

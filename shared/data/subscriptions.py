"""Event subscriptions in the single table: in the source model's partition, indexed by target,
and each active one also in its model's firing index (``shared.data.keys``), so that a firing reads
the active subscriptions of its event, not every subscription the model has. Every write of a
subscription writes its index entry in the same transaction: present while the subscription is
active, with the same document; absent otherwise."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from shared.data import keys
from shared.data.entities import ACTIVE_SUBSCRIPTIONS, FIRING_INDEXES, SUBSCRIPTIONS
from shared.data.errors import StaleEntityError
from shared.data.items import key, s
from shared.data.page_tokens import PageTokenCodec
from shared.data.queries import query_page
from shared.data.save import Write, create, delete, erase, overwrite, replace, save_together
from shared.data.table import GSI1
from shared.domain import events, job_events
from shared.domain.entities import Subscription
from shared.domain.errors import SubscriptionNotFoundError
from shared.domain.records import Page


class SubscriptionStore:
    def __init__(self, client: Any, table_name: str, page_tokens: Callable[[], PageTokenCodec] | None = None) -> None:
        self._client = client
        self._table = table_name
        self._page_tokens = page_tokens

    def put_new(self, subscription: Subscription) -> None:
        save_together(self._client, [create(self._table, SUBSCRIPTIONS, subscription), self._index(subscription)])

    def get(self, source_model_id: str, subscription_id: str) -> Subscription:
        item = self._client.get_item(
            TableName=self._table,
            Key=key(keys.subscription_key(source_model_id, subscription_id)),
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            raise SubscriptionNotFoundError(source_model_id, subscription_id)
        return SUBSCRIPTIONS.decode(item)

    def save(self, subscription: Subscription, expected_entity_version: int) -> None:
        """Replace the subscription if it is still at ``expected_entity_version``."""
        write = replace(self._table, SUBSCRIPTIONS, subscription, expected_entity_version)
        save_together(self._client, [write, self._index(subscription)])

    def delete(self, source_model_id: str, subscription_id: str, expected_entity_version: int | None = None) -> None:
        """Delete the subscription; with ``expected_entity_version``, only while it is at that
        version (``StaleEntityError`` otherwise)."""
        table_key = keys.subscription_key(source_model_id, subscription_id)
        write = delete(self._table, SUBSCRIPTIONS, table_key, expected_entity_version)
        # Its index entry, under whichever event it fires on (a subscription's event never changes).
        unindexed = [
            erase(
                self._table, ACTIVE_SUBSCRIPTIONS, keys.active_subscription_key(source_model_id, event, subscription_id)
            )
            for event in job_events.EVENT_NAMES
        ]
        try:
            save_together(self._client, [write, *unindexed])
        except StaleEntityError as stale:
            if stale.current is None:
                raise SubscriptionNotFoundError(source_model_id, subscription_id) from None
            raise

    def list_page(self, source_model_id: str, limit: int, page_token: str | None) -> Page[Subscription]:
        assert self._page_tokens is not None, "listing needs the page token codec"
        items, next_token = query_page(
            self._client,
            self._page_tokens,
            list_scope=f"subscriptions:{source_model_id}",
            limit=limit,
            page_token=page_token,
            key_attributes=("PK", "SK"),
            TableName=self._table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={
                ":pk": s(keys.model_partition(source_model_id)),
                ":prefix": s(keys.subscription_prefix()),
            },
        )
        return Page([SUBSCRIPTIONS.decode(item) for item in items], next_token)

    def list_by_target(self, target_model_id: str) -> list[Subscription]:
        """Every subscription that targets a model, through GSI1 (never a scan)."""
        return self._query_all(
            IndexName=GSI1.name,
            KeyConditionExpression="GSI1PK = :target",
            ExpressionAttributeValues={":target": s(keys.subscriptions_by_target_partition(target_model_id))},
        )

    def mark_stale(self, subscription: Subscription, now: datetime) -> None:
        """Mark the subscription stale if it is still as read; ``StaleEntityError`` otherwise."""
        stale = subscription.model_copy(
            update={"status": "stale", "entity_version": subscription.entity_version + 1, "updated_at": now}
        )
        write = replace(self._table, SUBSCRIPTIONS, stale, subscription.entity_version)
        save_together(self._client, [write.reporting(events.subscription_stale(stale)), self._index(stale)])

    def active_of_source(self, source_model_id: str, event: str) -> list[Subscription]:
        """The active subscriptions of one event of a source model, in id order: what a firing
        considers. One strongly consistent Query of the firing index (its marker and entries); a
        model whose index of the event is not complete (one written before the index existed and
        not migrated, ``shared.data.migrations``) is read whole, as before."""
        items = self._query_items(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={
                ":pk": s(keys.model_partition(source_model_id)),
                ":prefix": s(keys.active_subscriptions_prefix(event)),
            },
            ConsistentRead=True,
        )
        if not any(FIRING_INDEXES.holds(item) for item in items):
            return [
                x for x in self.list_of_source(source_model_id) if x.status == "active" and x.trigger_event == event
            ]
        return [ACTIVE_SUBSCRIPTIONS.decode(item) for item in items if ACTIVE_SUBSCRIPTIONS.holds(item)]

    def _index(self, subscription: Subscription) -> Write:
        """The subscription's index entry as it now is: its copy while active, gone otherwise
        (beside the write of the subscription, which guards the change)."""
        if subscription.status == "active":
            return overwrite(self._table, ACTIVE_SUBSCRIPTIONS, subscription)
        return erase(self._table, ACTIVE_SUBSCRIPTIONS, ACTIVE_SUBSCRIPTIONS.key(subscription))

    def list_of_source(self, source_model_id: str) -> list[Subscription]:
        """Every subscription of a source model: the set a firing must consider whole."""
        return self._query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={
                ":pk": s(keys.model_partition(source_model_id)),
                ":prefix": s(keys.subscription_prefix()),
            },
            ConsistentRead=True,
        )

    def _query_all(self, **query: Any) -> list[Subscription]:
        return [SUBSCRIPTIONS.decode(item) for item in self._query_items(**query)]

    def _query_items(self, **query: Any) -> list[dict[str, Any]]:
        query["TableName"] = self._table
        found: list[dict[str, Any]] = []
        while True:
            response = self._client.query(**query)
            found.extend(response["Items"])
            if "LastEvaluatedKey" not in response:
                return found
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

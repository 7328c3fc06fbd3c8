"""Webhooks and their deliveries in the single table.

A webhook is one item in its own partition, with its deliveries beside it (sorted by their event's
time); GSI1 lists webhooks by workspace (``WEBHOOKS``, ``<workspace>#<id>``), so the fan-out of an
event reads its workspace's range and the ``*`` range: two queries, never a scan. A pending
delivery is also on GSI3 under ``HOOKDUE#<shard>``, ordered by when its next attempt is due, which
is what makes retries survive a restart (as the job sweeper's due index does for jobs).
Every write is conditional: a delivery is created once (``attribute_not_exists``), then replaced
on its ``entity_version``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.data import keys
from shared.data.entities import EVENTS
from shared.data.errors import ItemExistsError
from shared.data.items import key, s
from shared.data.page_tokens import PageTokenCodec, is_table_key
from shared.data.queries import purge_partition, query_from_token
from shared.data.save import create, replace, save
from shared.data.table import GSI1, GSI3
from shared.data.webhook_entities import DELIVERIES, WEBHOOKS, WebhookRecord
from shared.domain.errors import DeliveryNotFoundError, PageTokenInvalidError, WebhookNotFoundError
from shared.domain.events import ALL_EVENTS, Event
from shared.domain.records import Page
from shared.domain.webhooks import Delivery

# A filtered page of the delivery log reads at most this many times.
FILTERED_READS = 5


class WebhookStore:
    def __init__(self, client: Any, table_name: str, page_tokens: Callable[[], PageTokenCodec] | None = None) -> None:
        self._client = client
        self._table = table_name
        self._page_tokens = page_tokens

    # Webhooks -----------------------------------------------------------------------------------

    def get(self, webhook_id: str) -> WebhookRecord:
        item = self._client.get_item(
            TableName=self._table, Key=key(keys.webhook_key(webhook_id)), ConsistentRead=True
        ).get("Item")
        if item is None:
            raise WebhookNotFoundError(webhook_id)
        return WEBHOOKS.decode(item)

    def of_workspace(self, workspace: str | None) -> list[WebhookRecord]:
        """Every webhook registered for ``workspace`` (``*``: for every workspace; None: all)."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": GSI1.name,
            "KeyConditionExpression": "GSI1PK = :pk",
            "ExpressionAttributeValues": {":pk": s(keys.all_webhooks_partition())},
        }
        if workspace is not None:
            query["KeyConditionExpression"] += " AND begins_with(GSI1SK, :prefix)"
            query["ExpressionAttributeValues"][":prefix"] = s(f"{workspace}#")
        found: list[WebhookRecord] = []
        while True:
            response = self._client.query(**query)
            found += [WEBHOOKS.decode(item) for item in response["Items"]]
            if "LastEvaluatedKey" not in response:
                return found
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def receiving(self, event: Event) -> list[WebhookRecord]:
        """The webhooks that may want ``event``: its workspace's and those of every workspace."""
        return self.of_workspace(event.workspace) + self.of_workspace(ALL_EVENTS)

    def put_event(self, event: Event) -> None:
        """An event that is its own change (a ping)."""
        save(self._client, create(self._table, EVENTS, event))

    def put_new(self, record: WebhookRecord) -> None:
        save(self._client, create(self._table, WEBHOOKS, record))

    def save(self, record: WebhookRecord, expected_entity_version: int) -> None:
        """Replace the webhook if it is still at ``expected_entity_version`` (``StaleEntityError``)."""
        save(self._client, replace(self._table, WEBHOOKS, record, expected_entity_version))

    def delete(self, webhook_id: str) -> None:
        """The webhook and its whole delivery log."""
        purge_partition(self._client, self._table, keys.webhook_partition(webhook_id))

    # Deliveries ---------------------------------------------------------------------------------

    def get_delivery(self, webhook_id: str, delivery_id: str) -> Delivery:
        item = self._client.get_item(
            TableName=self._table, Key=key(keys.delivery_key(webhook_id, delivery_id)), ConsistentRead=True
        ).get("Item")
        if item is None:
            raise DeliveryNotFoundError(webhook_id, delivery_id)
        return DELIVERIES.decode(item)

    def create_delivery(self, delivery: Delivery) -> bool:
        """Create the delivery unless it exists (its id is its event's and endpoint's): False then."""
        try:
            save(self._client, create(self._table, DELIVERIES, delivery))
        except ItemExistsError:
            return False
        return True

    def delete_delivery(self, delivery: Delivery) -> None:
        self._client.delete_item(TableName=self._table, Key=key(keys.delivery_key(delivery.webhook_id, delivery.id)))

    def save_delivery(self, delivery: Delivery, expected_entity_version: int) -> None:
        save(self._client, replace(self._table, DELIVERIES, delivery, expected_entity_version))

    def delivery_page_start(self, webhook_id: str, status: str | None, page_token: str | None) -> dict[str, Any] | None:
        """Where a page of the delivery log starts (None: the newest); a token this list did not
        issue is a ``PageTokenInvalidError``."""
        if page_token is None:
            return None
        assert self._page_tokens is not None, "lists need page tokens"
        start = self._page_tokens().decode(page_token, _delivery_scope(webhook_id, status))
        if not is_table_key(start, {"PK", "SK"}) or start["PK"] != s(keys.webhook_partition(webhook_id)):
            raise PageTokenInvalidError()
        return start

    def deliveries(
        self, webhook_id: str, status: str | None, limit: int, start: dict[str, Any] | None
    ) -> Page[Delivery]:
        """Newest first, from ``start`` (``delivery_page_start``). ``status`` filters what a page
        reads: a page reads at most ``FILTERED_READS`` times and may then end short of ``limit``,
        with a token to go on."""
        assert self._page_tokens is not None, "lists need page tokens"
        list_scope = _delivery_scope(webhook_id, status)
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": s(keys.webhook_partition(webhook_id)),
                ":prefix": s(keys.delivery_prefix()),
            },
            "ScanIndexForward": False,
            "ConsistentRead": True,
        }
        if status is not None:
            query["FilterExpression"] = "#status = :status"
            query["ExpressionAttributeNames"] = {"#status": "status"}
            query["ExpressionAttributeValues"][":status"] = s(status)
        if start is not None:
            query["ExclusiveStartKey"] = start
        items: list[dict[str, Any]] = []
        resume: dict[str, Any] | None = None
        for read in range(FILTERED_READS):
            response = query_from_token(self._client, read == 0 and start is not None, Limit=limit + 1, **query)
            items += response["Items"]
            if len(items) > limit:
                items = items[:limit]
                resume = {"PK": items[-1]["PK"], "SK": items[-1]["SK"]}
                break
            resume = response.get("LastEvaluatedKey")
            if resume is None:
                break
            query["ExclusiveStartKey"] = resume
        next_token = self._page_tokens().encode(list_scope, resume) if resume is not None else None
        return Page([DELIVERIES.decode(item) for item in items], next_token)

    def due(self, shard: int, now: str, limit: int, start: dict[str, Any] | None) -> tuple[list[Delivery], Any]:
        """Pending deliveries of one shard whose next attempt is due at ``now`` or before."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": GSI3.name,
            "KeyConditionExpression": "GSI3PK = :pk AND GSI3SK <= :now",
            "ExpressionAttributeValues": {":pk": s(keys.deliveries_due_partition(shard)), ":now": s(f"{now}#~")},
            "Limit": limit,
        }
        if start is not None:
            query["ExclusiveStartKey"] = start
        response = self._client.query(**query)
        return [DELIVERIES.decode(item) for item in response["Items"]], response.get("LastEvaluatedKey")


def _delivery_scope(webhook_id: str, status: str | None) -> str:
    return f"deliveries:{webhook_id}:{status or '*'}"

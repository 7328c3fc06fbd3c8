"""Event subscriptions in the single table: in the source model's partition, indexed by target."""

from __future__ import annotations

from typing import Any

from shared.data import keys
from shared.data.items import doc_text, document, key, n, s
from shared.domain.resources import Subscription


def subscription_item(subscription: Subscription) -> dict[str, Any]:
    return {
        **key(keys.subscription_key(subscription.source_model_id, subscription.id)),
        **key(keys.subscription_target_keys(subscription.target_model_id, subscription.id)),
        "entity_type": s(keys.SUBSCRIPTION_ENTITY),
        "entity_version": n(subscription.entity_version),
        "status": s(subscription.status),
        "trigger_event": s(subscription.trigger_event),
        "created_at": s(subscription.created_at.isoformat()),
        "updated_at": s(subscription.updated_at.isoformat()),
        "doc": document(subscription),
    }


class SubscriptionStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def put_new(self, subscription: Subscription) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=subscription_item(subscription),
            ConditionExpression="attribute_not_exists(PK)",
        )

    def list_of_source(self, source_model_id: str) -> list[Subscription]:
        """Every subscription of a source model: the set a firing must consider whole."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": s(keys.model_partition(source_model_id)),
                ":prefix": s(keys.subscription_prefix()),
            },
            "ConsistentRead": True,
        }
        found: list[Subscription] = []
        while True:
            response = self._client.query(**query)
            found.extend(Subscription.model_validate_json(doc_text(item)) for item in response["Items"])
            if "LastEvaluatedKey" not in response:
                return found
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

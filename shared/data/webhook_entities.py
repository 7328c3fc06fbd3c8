"""The webhook and delivery item types (``shared.data.entities`` holds the others).

Apart so that a function that never reads or writes webhooks (most routes) does not import and
build their models at its cold start: the webhook store, the webhook routes' service and the
delivery consumer import this module.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.data import keys
from shared.data.entities import EntityDescriptor, Item, entity_attributes
from shared.data.items import decoded, key, s
from shared.domain.webhooks import Delivery, Webhook


@dataclass(frozen=True)
class WebhookRecord:
    """A webhook with its signing secrets, which live beside its document, never in it (the API
    returns the document). ``previous_secret`` is still signed with until ``previous_until``."""

    webhook: Webhook
    secret: str
    previous_secret: str | None = None
    previous_until: str | None = None


def _webhook_key(record: WebhookRecord) -> dict[str, str]:
    return keys.webhook_key(record.webhook.id)


def _encode_webhook(record: WebhookRecord) -> Item:
    webhook = record.webhook
    item = {
        **key(_webhook_key(record)),
        **key(keys.webhook_index_keys(webhook.workspace, webhook.id)),
        **entity_attributes(keys.WEBHOOK_ENTITY, webhook),
        "secret": s(record.secret),
    }
    if record.previous_secret is not None and record.previous_until is not None:
        item["previous_secret"] = s(record.previous_secret)
        item["previous_until"] = s(record.previous_until)
    return item


def _decode_webhook(item: Item) -> WebhookRecord:
    return WebhookRecord(
        webhook=decoded(Webhook, item),
        secret=item["secret"]["S"],
        previous_secret=item.get("previous_secret", {}).get("S"),
        previous_until=item.get("previous_until", {}).get("S"),
    )


WEBHOOKS: EntityDescriptor[WebhookRecord] = EntityDescriptor(
    "webhook", keys.WEBHOOK_ENTITY, _webhook_key, _encode_webhook, _decode_webhook
)


def _delivery_key(delivery: Delivery) -> dict[str, str]:
    return keys.delivery_key(delivery.webhook_id, delivery.id)


def _encode_delivery(delivery: Delivery) -> Item:
    due = delivery.next_attempt_at if delivery.status == "pending" else None
    return {
        **key(_delivery_key(delivery)),
        **(key(keys.delivery_due_keys(delivery.webhook_id, delivery.id, due.isoformat())) if due is not None else {}),
        **entity_attributes(keys.DELIVERY_ENTITY, delivery),
    }


def _decode_delivery(item: Item) -> Delivery:
    return decoded(Delivery, item)


DELIVERIES: EntityDescriptor[Delivery] = EntityDescriptor(
    "delivery", keys.DELIVERY_ENTITY, _delivery_key, _encode_delivery, _decode_delivery
)

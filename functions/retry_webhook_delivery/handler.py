"""POST /v2/webhooks/{webhook_id}/deliveries/{delivery_id}/retry — re-send a failed delivery now,
under the same webhook-id."""

from shared.domain.webhooks import DeliveryResponse
from shared.http.api import route_api
from shared.http.params import DeliveryIdPath, WebhookIdPath
from shared.runtime import webhook_service

api = route_api(__name__)


@api.handler
def retry_webhook_delivery(webhook_id: WebhookIdPath, delivery_id: DeliveryIdPath) -> DeliveryResponse:
    return webhook_service().retry_delivery(webhook_id, delivery_id, api.access)


lambda_handler = api.lambda_handler

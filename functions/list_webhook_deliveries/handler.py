"""GET /v2/webhooks/{webhook_id}/deliveries — the delivery log, newest first, with every attempt."""

from shared.domain.webhooks import DeliveryList
from shared.http.api import route_api
from shared.http.params import DeliveryStatusQuery, LimitQuery, PageTokenQuery, WebhookIdPath
from shared.runtime import webhook_service

api = route_api(__name__)


@api.handler
def list_webhook_deliveries(
    webhook_id: WebhookIdPath,
    status: DeliveryStatusQuery = None,
    limit: LimitQuery = 50,
    next_token: PageTokenQuery = None,
) -> DeliveryList:
    return webhook_service().deliveries(webhook_id, status, limit, next_token, api.access)


lambda_handler = api.lambda_handler

"""GET /v2/webhooks/{webhook_id} — one webhook (never its secret)."""

from shared.domain.webhooks import WebhookResponse
from shared.http.api import route_api
from shared.http.params import WebhookIdPath
from shared.runtime import webhook_service

api = route_api(__name__)


@api.handler
def get_webhook(webhook_id: WebhookIdPath) -> WebhookResponse:
    return webhook_service().get(webhook_id, api.access)


lambda_handler = api.lambda_handler

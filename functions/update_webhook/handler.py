"""PUT /v2/webhooks/{webhook_id} — change a webhook's url, events, model_ids, description or status."""

from shared.domain.webhooks import UpdateWebhookRequest, WebhookResponse
from shared.http.api import route_api
from shared.http.params import WebhookIdPath
from shared.runtime import webhook_service

api = route_api(__name__)


@api.handler
def update_webhook(webhook_id: WebhookIdPath, body: UpdateWebhookRequest) -> WebhookResponse:
    return webhook_service().update(webhook_id, body, api.access)


lambda_handler = api.lambda_handler

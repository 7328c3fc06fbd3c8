"""POST /v2/webhooks — register an endpoint for PIE's events; its secret is in this answer only."""

from shared.domain.webhooks import CreateWebhookRequest, WebhookSecretResponse
from shared.http.api import route_api
from shared.runtime import webhook_service

api = route_api(__name__)


@api.handler
def create_webhook(body: CreateWebhookRequest) -> WebhookSecretResponse:
    return webhook_service().create(body, api.principal.subject, api.access)


lambda_handler = api.lambda_handler

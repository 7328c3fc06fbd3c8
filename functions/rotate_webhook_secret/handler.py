"""POST /v2/webhooks/{webhook_id}/rotate-secret — a new secret, in this answer only; the old one is
still signed with for a day."""

from shared.domain.webhooks import WebhookSecretResponse
from shared.http.api import route_api
from shared.http.params import WebhookIdPath
from shared.runtime import webhook_service

api = route_api(__name__)


@api.handler
def rotate_webhook_secret(webhook_id: WebhookIdPath) -> WebhookSecretResponse:
    return webhook_service().rotate_secret(webhook_id, api.access)


lambda_handler = api.lambda_handler

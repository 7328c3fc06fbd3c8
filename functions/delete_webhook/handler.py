"""DELETE /v2/webhooks/{webhook_id} — delete a webhook and its delivery log."""

from shared.http.api import route_api
from shared.http.params import WebhookIdPath
from shared.runtime import webhook_service

api = route_api(__name__)


@api.handler
def delete_webhook(webhook_id: WebhookIdPath) -> None:
    webhook_service().delete(webhook_id, api.access)


lambda_handler = api.lambda_handler

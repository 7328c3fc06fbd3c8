"""GET /v2/webhooks — the webhooks of the caller's workspaces (every one for an admin), by id."""

from shared.domain.webhooks import WebhookList
from shared.http.api import route_api
from shared.http.params import LimitQuery, PageTokenQuery
from shared.runtime import webhook_service

api = route_api(__name__)


@api.handler
def list_webhooks(limit: LimitQuery = 50, next_token: PageTokenQuery = None) -> WebhookList:
    return webhook_service().list(limit, next_token, api.access)


lambda_handler = api.lambda_handler

"""GET /v2/models/{model_id}/event-subscriptions — one page of a model's subscriptions."""

from shared.domain.responses import SubscriptionList
from shared.http.api import LimitQuery, ModelIdPath, PageTokenQuery, RouteApi, json_response
from shared.runtime import subscription_service

api = RouteApi("list_subscriptions")


@api.handler(SubscriptionList)
def list_subscriptions(model_id: ModelIdPath, limit: LimitQuery = 50, next_token: PageTokenQuery = None):
    return json_response(subscription_service().list(model_id, limit, next_token, api.access))


lambda_handler = api.lambda_handler

"""GET /v2/models/{model_id}/event-subscriptions — one page of a model's subscriptions."""

from shared.domain.responses.chains import SubscriptionList
from shared.http.api import route_api
from shared.http.params import LimitQuery, ModelIdPath, PageTokenQuery
from shared.runtime import subscription_service

api = route_api(__name__)


@api.handler
def list_subscriptions(
    model_id: ModelIdPath, limit: LimitQuery = 50, next_token: PageTokenQuery = None
) -> SubscriptionList:
    return subscription_service().list(model_id, limit, next_token, api.access)


lambda_handler = api.lambda_handler

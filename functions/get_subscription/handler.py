"""GET /v2/models/{model_id}/event-subscriptions/{subscription_id} — one subscription."""

from shared.domain.entities import Subscription
from shared.http.api import route_api
from shared.http.params import ModelIdPath, SubscriptionIdPath
from shared.runtime import subscription_service

api = route_api(__name__)


@api.handler
def get_subscription(model_id: ModelIdPath, subscription_id: SubscriptionIdPath) -> Subscription:
    return subscription_service().get(model_id, subscription_id, api.access)


lambda_handler = api.lambda_handler

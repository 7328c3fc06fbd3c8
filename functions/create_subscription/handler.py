"""POST /v2/models/{model_id}/event-subscriptions — chain another model to this one's events."""

from shared.domain.entities import Subscription
from shared.domain.requests import CreateSubscriptionRequest
from shared.http.api import route_api
from shared.http.params import ModelIdPath
from shared.runtime import subscription_service

api = route_api(__name__)


@api.handler
def create_subscription(model_id: ModelIdPath, body: CreateSubscriptionRequest) -> Subscription:
    return subscription_service().create(model_id, body, api.access)


lambda_handler = api.lambda_handler

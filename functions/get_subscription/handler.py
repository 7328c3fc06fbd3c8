"""GET /v2/models/{model_id}/event-subscriptions/{subscription_id} — one subscription."""

from shared.domain.entities import Subscription
from shared.http.api import ModelIdPath, RouteApi, SubscriptionIdPath, json_response
from shared.runtime import subscription_service

api = RouteApi("get_subscription")


@api.handler(Subscription)
def get_subscription(model_id: ModelIdPath, subscription_id: SubscriptionIdPath):
    subscription = subscription_service().get(model_id, subscription_id, api.access)
    return json_response(subscription, etag=subscription.entity_version)


lambda_handler = api.lambda_handler

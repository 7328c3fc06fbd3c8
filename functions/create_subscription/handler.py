"""POST /v2/models/{model_id}/event-subscriptions — chain another model to this one's events."""

from shared.domain.entities import Subscription
from shared.domain.requests import CreateSubscriptionRequest
from shared.http.api import ModelIdPath, RouteApi, json_response
from shared.runtime import subscription_service

api = RouteApi("create_subscription")


@api.handler(Subscription, status=201, errors=(422,))
def create_subscription(model_id: ModelIdPath, body: CreateSubscriptionRequest):
    subscription = subscription_service().create(model_id, body, api.access)
    return json_response(subscription, status=201, etag=subscription.entity_version)


lambda_handler = api.lambda_handler

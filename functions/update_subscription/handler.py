"""PUT /v2/models/{model_id}/event-subscriptions/{subscription_id} — seed 003."""

from shared.domain.resources import UpdateSubscriptionRequest
from shared.http.api import ModelIdPath, RouteApi, SubscriptionIdPath, json_response
from shared.runtime import subscription_service

api = RouteApi("update_subscription")


@api.handler
def update_subscription(
    model_id: ModelIdPath, subscription_id: SubscriptionIdPath, body: UpdateSubscriptionRequest
):
    subscription = subscription_service().update(model_id, subscription_id, body)
    return json_response(subscription, etag=subscription.entity_version)


lambda_handler = api.lambda_handler

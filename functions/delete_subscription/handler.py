"""DELETE /v2/models/{model_id}/event-subscriptions/{subscription_id} — delete a subscription."""

from shared.http.api import ModelIdPath, RouteApi, SubscriptionIdPath, no_content
from shared.runtime import subscription_service

api = RouteApi("delete_subscription")


@api.handler(None, status=204)
def delete_subscription(model_id: ModelIdPath, subscription_id: SubscriptionIdPath):
    subscription_service().delete(model_id, subscription_id, api.access)
    return no_content()


lambda_handler = api.lambda_handler

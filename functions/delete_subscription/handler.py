"""DELETE /v2/models/{model_id}/event-subscriptions/{subscription_id} — delete a subscription."""

from shared.http.api import IfMatchHeader, ModelIdPath, RouteApi, SubscriptionIdPath, no_content, parse_if_match
from shared.runtime import subscription_service

api = RouteApi("delete_subscription")


@api.handler(None, status=204, errors=(409,))
def delete_subscription(model_id: ModelIdPath, subscription_id: SubscriptionIdPath, if_match: IfMatchHeader = None):
    subscription_service().delete(model_id, subscription_id, api.access, if_match=parse_if_match(if_match))
    return no_content()


lambda_handler = api.lambda_handler

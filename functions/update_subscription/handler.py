"""PUT /v2/models/{model_id}/event-subscriptions/{subscription_id} — update input, label or status (seed 003)."""

from shared.domain.entities import Subscription
from shared.domain.requests import UpdateSubscriptionRequest
from shared.http.api import IfMatchHeader, ModelIdPath, RouteApi, SubscriptionIdPath, json_response, parse_if_match
from shared.runtime import subscription_service

api = RouteApi("update_subscription")


@api.handler(Subscription, errors=(409, 422))
def update_subscription(
    model_id: ModelIdPath,
    subscription_id: SubscriptionIdPath,
    body: UpdateSubscriptionRequest,
    if_match: IfMatchHeader = None,
):
    subscription = subscription_service().update(
        model_id, subscription_id, body, api.access, if_match=parse_if_match(if_match)
    )
    return json_response(subscription, etag=subscription.entity_version)


lambda_handler = api.lambda_handler

"""PUT /v2/models/{model_id}/event-subscriptions/{subscription_id} — update input, label or status (seed 003)."""

from shared.domain.entities import Subscription
from shared.domain.requests import UpdateSubscriptionRequest
from shared.http.api import route_api
from shared.http.params import ModelIdPath, SubscriptionIdPath
from shared.runtime import subscription_service

api = route_api(__name__)


@api.handler
def update_subscription(
    model_id: ModelIdPath,
    subscription_id: SubscriptionIdPath,
    body: UpdateSubscriptionRequest,
    if_match: int | None = None,
) -> Subscription:
    return subscription_service().update(model_id, subscription_id, body, api.access, if_match=if_match)


lambda_handler = api.lambda_handler

"""DELETE /v2/models/{model_id}/event-subscriptions/{subscription_id} — delete a subscription."""

from shared.http.api import route_api
from shared.http.params import ModelIdPath, SubscriptionIdPath
from shared.runtime import subscription_service

api = route_api(__name__)


@api.handler
def delete_subscription(
    model_id: ModelIdPath, subscription_id: SubscriptionIdPath, if_match: int | None = None
) -> None:
    subscription_service().delete(model_id, subscription_id, api.access, if_match=if_match)


lambda_handler = api.lambda_handler

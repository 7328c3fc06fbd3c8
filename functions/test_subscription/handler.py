"""POST /v2/models/{model_id}/event-subscriptions/{subscription_id}/test — a dry run: the job the
subscription would create now, or what would stop it. Writes nothing."""

from shared.domain.requests import DryRunRequest
from shared.domain.responses.chains import DryRunResult
from shared.http.api import route_api
from shared.http.params import ModelIdPath, SubscriptionIdPath
from shared.runtime import subscription_service

api = route_api(__name__)


@api.handler
def test_subscription(
    model_id: ModelIdPath, subscription_id: SubscriptionIdPath, body: DryRunRequest | None = None
) -> DryRunResult:
    trigger_output = body.trigger_output if body else None
    return subscription_service().dry_run(model_id, subscription_id, trigger_output, api.access)


lambda_handler = api.lambda_handler

"""DELETE /v2/models/{model_id} — delete a model with its versions, subscriptions and jobs."""

# Every delete marks the subscriptions that target the model stale: the service is imported at
# init (into the SnapStart snapshot) rather than by the first request of each environment.
import shared.services.subscriptions  # noqa: F401
from shared.http.api import route_api
from shared.http.params import ModelIdPath
from shared.runtime import model_registry

api = route_api(__name__)


@api.handler
def delete_model(model_id: ModelIdPath, if_match: int | None = None) -> None:
    model_registry().delete_model(model_id, api.access, if_match=if_match)


lambda_handler = api.lambda_handler

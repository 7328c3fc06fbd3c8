"""DELETE /v2/models/{model_id} — delete a model with its versions, subscriptions and jobs."""

from shared.http.api import ModelIdPath, RouteApi, no_content
from shared.runtime import model_registry

api = RouteApi("delete_model")


@api.handler(None, status=204)
def delete_model(model_id: ModelIdPath):
    model_registry().delete_model(model_id, api.access)
    return no_content()


lambda_handler = api.lambda_handler

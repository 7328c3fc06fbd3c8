"""GET /v2/models/{model_id} — one model."""

from shared.domain.responses import ModelResponse
from shared.http.api import ModelIdPath, RouteApi, json_response
from shared.runtime import model_registry

api = RouteApi("get_model")


@api.handler(ModelResponse)
def get_model(model_id: ModelIdPath):
    result = model_registry().get_model(model_id, api.access)
    return json_response(result, etag=result.model.entity_version)


lambda_handler = api.lambda_handler

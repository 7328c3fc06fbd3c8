"""POST /v2/models/{model_id}/new_version — cut a new pending version (seed 001)."""

from shared.domain.requests import CreateVersionRequest
from shared.domain.responses import ModelVersionResponse
from shared.http.api import ModelIdPath, RouteApi, json_response
from shared.runtime import model_registry

api = RouteApi("create_version")


@api.handler(ModelVersionResponse, status=201, errors=(409,))
def create_version(model_id: ModelIdPath, body: CreateVersionRequest):
    result = model_registry().create_version(model_id, body, actor=api.principal.subject, access=api.access)
    return json_response(result, status=201, etag=result.version.entity_version)


lambda_handler = api.lambda_handler

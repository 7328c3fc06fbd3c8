"""POST /v2/models — register a model and its first version ("1", pending)."""

from shared.domain.requests import CreateModelRequest
from shared.domain.responses import ModelVersionResponse
from shared.http.api import RouteApi, json_response
from shared.runtime import model_registry

api = RouteApi("create_model")


@api.handler(ModelVersionResponse, status=201, errors=(409, 422))
def create_model(body: CreateModelRequest):
    result = model_registry().create_model(body, actor=api.principal.subject, access=api.access)
    return json_response(result, status=201, etag=result.model.entity_version)


lambda_handler = api.lambda_handler

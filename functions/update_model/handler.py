"""PUT /v2/models/{model_id} — replace a model; an active model also gets a new pending version."""

from shared.domain.requests import UpdateModelRequest
from shared.domain.responses import ModelVersionResponse
from shared.http.api import IfMatchHeader, ModelIdPath, RouteApi, json_response, parse_if_match
from shared.runtime import model_registry

api = RouteApi("update_model")


@api.handler(ModelVersionResponse, errors=(409, 422))
def update_model(model_id: ModelIdPath, body: UpdateModelRequest, if_match: IfMatchHeader = None):
    result = model_registry().update_model(
        model_id, body, actor=api.principal.subject, if_match=parse_if_match(if_match), access=api.access
    )
    return json_response(result, etag=result.model.entity_version)


lambda_handler = api.lambda_handler

"""POST /v2/models/{model_id}/new_version — cut a new pending version (seed 001)."""

from shared.domain.requests import CreateVersionRequest
from shared.domain.responses import ModelVersionResponse
from shared.http.api import route_api
from shared.http.params import ModelIdPath
from shared.runtime import model_registry

api = route_api(__name__)


@api.handler
def create_version(model_id: ModelIdPath, body: CreateVersionRequest) -> ModelVersionResponse:
    return model_registry().create_version(model_id, body, actor=api.principal.subject, access=api.access)


lambda_handler = api.lambda_handler

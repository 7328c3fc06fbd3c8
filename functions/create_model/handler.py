"""POST /v2/models — register a model and its first version ("1", pending)."""

from shared.domain.requests import CreateModelRequest
from shared.domain.responses.models import ModelVersionResponse
from shared.http.api import route_api
from shared.runtime import model_registry

api = route_api(__name__)


@api.handler
def create_model(body: CreateModelRequest) -> ModelVersionResponse:
    return model_registry().create_model(body, actor=api.principal.subject, access=api.access)


lambda_handler = api.lambda_handler

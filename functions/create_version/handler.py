"""POST /v2/models/{model_id}/new_version — cut a new pending version (seed 001); If-Match makes it
conditional on the model's entity_version."""

from shared.domain.requests import CreateVersionRequest
from shared.domain.responses.models import ModelVersionResponse
from shared.http.api import route_api
from shared.http.params import ModelIdPath
from shared.runtime import model_registry

api = route_api(__name__)


@api.handler
def create_version(
    model_id: ModelIdPath, body: CreateVersionRequest, if_match: int | None = None
) -> ModelVersionResponse:
    return model_registry().create_version(
        model_id, body, actor=api.principal.subject, if_match=if_match, access=api.access
    )


lambda_handler = api.lambda_handler

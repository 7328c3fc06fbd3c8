"""PUT /v2/models/{model_id} — replace a model; an active model also gets a new pending version."""

from shared.domain.requests import UpdateModelRequest
from shared.domain.responses.models import ModelVersionResponse
from shared.http.api import route_api
from shared.http.params import ModelIdPath
from shared.runtime import model_registry

api = route_api(__name__)


@api.handler
def update_model(model_id: ModelIdPath, body: UpdateModelRequest, if_match: int | None = None) -> ModelVersionResponse:
    return model_registry().update_model(
        model_id, body, actor=api.principal.subject, if_match=if_match, access=api.access
    )


lambda_handler = api.lambda_handler

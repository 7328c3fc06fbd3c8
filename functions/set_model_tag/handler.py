"""PUT /v2/models/{model_id}/tags/{key} — set one tag of a model.

If-Match makes it conditional on the model's entity_version. It never cuts a version and never marks
a subscription stale."""

from shared.domain.requests import SetTagRequest
from shared.domain.responses.models import ModelResponse
from shared.http.api import route_api
from shared.http.params import ModelIdPath, TagKeyPath
from shared.runtime import tag_service

api = route_api(__name__)


@api.handler
def set_model_tag(
    model_id: ModelIdPath, key: TagKeyPath, body: SetTagRequest, if_match: int | None = None
) -> ModelResponse:
    return tag_service().set_model_tag(model_id, key, body.value, api.access, if_match=if_match)


lambda_handler = api.lambda_handler

"""DELETE /v2/models/{model_id}/tags/{key} — delete one tag of a model.

A key the model does not have is a 404; If-Match makes it conditional on the model's entity_version."""

from shared.http.api import route_api
from shared.http.params import ModelIdPath, TagKeyPath
from shared.runtime import tag_service

api = route_api(__name__)


@api.handler
def delete_model_tag(model_id: ModelIdPath, key: TagKeyPath, if_match: int | None = None) -> None:
    tag_service().delete_model_tag(model_id, key, api.access, if_match=if_match)


lambda_handler = api.lambda_handler

"""PUT /v2/models/{model_id}/versions/{model_version}/tags/{key} — set one tag of a version.

`latest` and `@alias` name the version as elsewhere; If-Match makes it conditional on the version's
entity_version."""

from shared.domain.requests import SetTagRequest
from shared.domain.responses.models import ModelVersionResponse
from shared.http.api import route_api
from shared.http.params import ModelIdPath, TagKeyPath, VersionPath
from shared.runtime import alias_service, tag_service

api = route_api(__name__)


@api.handler
def set_version_tag(
    model_id: ModelIdPath, model_version: VersionPath, key: TagKeyPath, body: SetTagRequest, if_match: int | None = None
) -> ModelVersionResponse:
    version = alias_service().resolve(model_id, model_version)
    return tag_service().set_version_tag(model_id, version, key, body.value, api.access, if_match=if_match)


lambda_handler = api.lambda_handler

"""DELETE /v2/models/{model_id}/versions/{model_version}/tags/{key} — delete one tag of a version.

A key the version does not have is a 404; If-Match makes it conditional on the version's
entity_version."""

from shared.http.api import route_api
from shared.http.params import ModelIdPath, TagKeyPath, VersionPath
from shared.runtime import alias_service, tag_service

api = route_api(__name__)


@api.handler
def delete_version_tag(
    model_id: ModelIdPath, model_version: VersionPath, key: TagKeyPath, if_match: int | None = None
) -> None:
    version = alias_service().resolve(model_id, model_version)
    tag_service().delete_version_tag(model_id, version, key, api.access, if_match=if_match)


lambda_handler = api.lambda_handler

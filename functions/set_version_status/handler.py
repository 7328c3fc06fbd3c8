"""POST /v2/models/{model_id}/versions/{model_version}/new_status — move a version (seed 000)."""

from shared.domain.requests import NewStatusRequest
from shared.domain.responses import StatusChangeResponse
from shared.http.api import IfMatchHeader, ModelIdPath, RouteApi, VersionPath, json_response, parse_if_match
from shared.runtime import version_lifecycle

api = RouteApi("set_version_status")


@api.handler(StatusChangeResponse, errors=(409, 422))
def set_version_status(
    model_id: ModelIdPath, model_version: VersionPath, body: NewStatusRequest, if_match: IfMatchHeader = None
):
    result = version_lifecycle().set_status(
        model_id,
        model_version,
        body.status,
        body.status_message,
        actor=api.principal.subject,
        access=api.access,
        if_match=parse_if_match(if_match),
    )
    return json_response(result, etag=result.version.entity_version)


lambda_handler = api.lambda_handler

"""POST /v2/models/{model_id}/versions/{model_version}/new_status — move a version (seed 000)."""

from shared.domain.requests import NewStatusRequest
from shared.domain.responses.models import StatusChangeResponse
from shared.http.api import route_api
from shared.http.params import ModelIdPath, VersionPath
from shared.runtime import alias_service, version_lifecycle

api = route_api(__name__)


@api.handler
def set_version_status(
    model_id: ModelIdPath, model_version: VersionPath, body: NewStatusRequest, if_match: int | None = None
) -> StatusChangeResponse:
    return version_lifecycle().set_status(
        model_id,
        alias_service().resolve(model_id, model_version),
        body.status,
        body.status_message,
        actor=api.principal.subject,
        access=api.access,
        if_match=if_match,
    )


lambda_handler = api.lambda_handler

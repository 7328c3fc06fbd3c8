"""GET /v2/models/{model_id}/versions/{model_version} — one version (`latest` = the newest)."""

from shared.domain.responses.models import ModelVersionResponse
from shared.http.api import route_api
from shared.http.params import ModelIdPath, VersionPath
from shared.runtime import alias_service, model_registry

api = route_api(__name__)


@api.handler
def get_version(model_id: ModelIdPath, model_version: VersionPath) -> ModelVersionResponse:
    return model_registry().get_version(model_id, alias_service().resolve(model_id, model_version), api.access)


lambda_handler = api.lambda_handler

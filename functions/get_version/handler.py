"""GET /v2/models/{model_id}/versions/{model_version} — one version (`latest` = the newest)."""

from shared.domain.responses import ModelVersionResponse
from shared.http.api import ModelIdPath, RouteApi, VersionPath, json_response
from shared.runtime import model_registry

api = RouteApi("get_version")


@api.handler(ModelVersionResponse)
def get_version(model_id: ModelIdPath, model_version: VersionPath):
    result = model_registry().get_version(model_id, model_version, api.access)
    return json_response(result, etag=result.version.entity_version)


lambda_handler = api.lambda_handler

"""GET /v2/models/{model_id}/versions — one page of a model's versions, newest first."""

from shared.domain.responses import VersionList
from shared.http.api import LimitQuery, ModelIdPath, PageTokenQuery, RouteApi, json_response
from shared.runtime import model_registry

api = RouteApi("list_versions")


@api.handler(VersionList)
def list_versions(model_id: ModelIdPath, limit: LimitQuery = 50, next_token: PageTokenQuery = None):
    return json_response(model_registry().list_versions(model_id, limit, next_token, api.access))


lambda_handler = api.lambda_handler

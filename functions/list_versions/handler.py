"""GET /v2/models/{model_id}/versions — one page of a model's versions, newest first."""

from shared.domain.responses import VersionList
from shared.http.api import route_api
from shared.http.params import LimitQuery, ModelIdPath, PageTokenQuery
from shared.runtime import model_registry

api = route_api(__name__)


@api.handler
def list_versions(model_id: ModelIdPath, limit: LimitQuery = 50, next_token: PageTokenQuery = None) -> VersionList:
    return model_registry().list_versions(model_id, limit, next_token, api.access)


lambda_handler = api.lambda_handler

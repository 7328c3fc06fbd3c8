"""GET /v2/models/{model_id}/versions — one page of a model's versions, newest first, or of a search.

`filter` (MLflow's syntax, a subset) and `order_by` search them: docs/search.md."""

from shared.domain.responses.models import VersionList
from shared.http.api import route_api
from shared.http.params import FilterQuery, LimitQuery, ModelIdPath, PageTokenQuery, VersionOrderByQuery
from shared.runtime import search_service

api = route_api(__name__)


@api.handler
def list_versions(
    model_id: ModelIdPath,
    limit: LimitQuery = 50,
    next_token: PageTokenQuery = None,
    filter: FilterQuery = None,
    order_by: VersionOrderByQuery = None,
) -> VersionList:
    return search_service().list_versions(model_id, limit, next_token, api.access, filter, order_by)


lambda_handler = api.lambda_handler

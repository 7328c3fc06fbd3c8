"""GET /v2/models — one page of models, by id, or of a search.

`filter` (MLflow's syntax, a subset) and `order_by` search them: docs/search.md."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from shared.domain.entities import WORKSPACE_PATTERN, ModelStatus
from shared.domain.responses.encoded import Encoded
from shared.domain.responses.models import ModelList
from shared.http.api import route_api
from shared.http.params import FilterQuery, LimitQuery, OrderByQuery, PageTokenQuery
from shared.runtime import search_service

api = route_api(__name__)


@api.handler
def list_models(
    limit: LimitQuery = 50,
    next_token: PageTokenQuery = None,
    status: Annotated[ModelStatus | None, Query(description="Only models in this status")] = None,
    workspace: Annotated[
        str | None, Query(pattern=WORKSPACE_PATTERN, description="Only models of this workspace")
    ] = None,
    filter: FilterQuery = None,
    order_by: OrderByQuery = None,
) -> Encoded[ModelList]:
    return search_service().list_models(limit, next_token, api.access, status, workspace, filter, order_by)


lambda_handler = api.lambda_handler

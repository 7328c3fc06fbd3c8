"""GET /v2/models/{model_id}/aliases/{alias}/history — who moved the alias, when and why, newest first."""

from shared.domain.responses.aliases import AliasHistory
from shared.http.api import route_api
from shared.http.params import AliasPath, LimitQuery, ModelIdPath, PageTokenQuery
from shared.runtime import alias_service

api = route_api(__name__)


@api.handler
def get_alias_history(
    model_id: ModelIdPath, alias: AliasPath, limit: LimitQuery = 50, next_token: PageTokenQuery = None
) -> AliasHistory:
    return alias_service().history(model_id, alias, limit, next_token, api.access)


lambda_handler = api.lambda_handler

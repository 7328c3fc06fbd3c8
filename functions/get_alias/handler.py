"""GET /v2/models/{model_id}/aliases/{alias} — one alias; with `as_of`, the alias as it stood then."""

from shared.domain.responses.aliases import AliasResponse
from shared.http.api import route_api
from shared.http.params import AliasPath, AsOfQuery, ModelIdPath
from shared.runtime import alias_service

api = route_api(__name__)


@api.handler
def get_alias(model_id: ModelIdPath, alias: AliasPath, as_of: AsOfQuery = None) -> AliasResponse:
    return alias_service().get(model_id, alias, api.access, as_of)


lambda_handler = api.lambda_handler

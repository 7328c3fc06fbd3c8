"""PUT /v2/models/{model_id}/aliases/{alias} — point an alias at an active version; If-Match makes
the move conditional on the alias's entity_version. A protected alias also needs the models:promote scope."""

from shared.domain.requests import SetAliasRequest
from shared.domain.responses.aliases import AliasResponse
from shared.http.api import route_api
from shared.http.params import AliasPath, ModelIdPath
from shared.runtime import alias_service

api = route_api(__name__)


@api.handler
def set_alias(
    model_id: ModelIdPath, alias: AliasPath, body: SetAliasRequest, if_match: int | None = None
) -> AliasResponse:
    return alias_service().set(model_id, alias, body, api.principal.subject, api.access, if_match=if_match)


lambda_handler = api.lambda_handler

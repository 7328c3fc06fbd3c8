"""DELETE /v2/models/{model_id}/aliases/{alias} — delete an alias (its history keeps the delete). A
protected alias also needs the models:promote scope."""

from shared.http.api import route_api
from shared.http.params import AliasPath, ModelIdPath
from shared.runtime import alias_service

api = route_api(__name__)


@api.handler
def delete_alias(model_id: ModelIdPath, alias: AliasPath, if_match: int | None = None) -> None:
    alias_service().delete(model_id, alias, api.principal.subject, api.access, if_match=if_match)


lambda_handler = api.lambda_handler

"""GET /v2/models/{model_id}/aliases — every alias of a model."""

from shared.domain.responses.aliases import AliasList
from shared.http.api import route_api
from shared.http.params import ModelIdPath
from shared.runtime import alias_service

api = route_api(__name__)


@api.handler
def list_aliases(model_id: ModelIdPath) -> AliasList:
    return alias_service().list(model_id, api.access)


lambda_handler = api.lambda_handler

"""DELETE /v2/models/{model_id} — delete a model with its versions, subscriptions and jobs."""

from shared.http.api import IfMatchHeader, ModelIdPath, RouteApi, no_content, parse_if_match
from shared.runtime import model_registry

api = RouteApi("delete_model")


@api.handler(None, status=204, errors=(409,))
def delete_model(model_id: ModelIdPath, if_match: IfMatchHeader = None):
    model_registry().delete_model(model_id, api.access, if_match=parse_if_match(if_match))
    return no_content()


lambda_handler = api.lambda_handler

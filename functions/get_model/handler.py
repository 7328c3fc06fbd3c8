"""GET /v2/models/{model_id} — one model."""

from shared.domain.responses.encoded import Encoded
from shared.domain.responses.models import ModelResponse
from shared.http.api import route_api
from shared.http.params import ModelIdPath
from shared.runtime import model_registry

api = route_api(__name__)


@api.handler
def get_model(model_id: ModelIdPath) -> Encoded[ModelResponse]:
    return model_registry().get_model(model_id, api.access)


lambda_handler = api.lambda_handler

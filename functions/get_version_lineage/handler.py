"""GET /v2/models/{model_id}/versions/{model_version}/lineage — how a version came to be trained:
the job that trained it and the chain above it, back to the root, nearest first."""

from shared.domain.responses.chains import LineageResponse
from shared.http.api import route_api
from shared.http.params import ModelIdPath, VersionPath
from shared.runtime import alias_service, chain_queries

api = route_api(__name__)


@api.handler
def get_version_lineage(model_id: ModelIdPath, model_version: VersionPath) -> LineageResponse:
    return chain_queries().lineage(model_id, alias_service().resolve(model_id, model_version), api.access)


lambda_handler = api.lambda_handler

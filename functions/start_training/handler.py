"""POST /v2/models/{model_id}/training — queue a training job; its version goes `training`."""

from shared.domain.requests import StartJobRequest
from shared.domain.responses.jobs import JobResponse
from shared.http.api import route_api
from shared.http.params import ModelIdPath
from shared.runtime import alias_service, job_service

api = route_api(__name__)


@api.handler
def start_training(model_id: ModelIdPath, body: StartJobRequest) -> JobResponse:
    body = alias_service().resolved_request(model_id, body)
    return job_service().start_training(model_id, body, actor=api.principal.subject, access=api.access)


lambda_handler = api.lambda_handler

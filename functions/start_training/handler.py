"""POST /v2/models/{model_id}/training — queue a training job; its version goes `training`."""

from shared.domain.requests import StartJobRequest
from shared.domain.responses import JobResponse
from shared.http.api import ModelIdPath, RouteApi, json_response
from shared.runtime import job_service

api = RouteApi("start_training")


@api.handler(JobResponse, status=202, errors=(409, 422))
def start_training(model_id: ModelIdPath, body: StartJobRequest):
    result = job_service().start_training(model_id, body, actor=api.principal.subject, access=api.access)
    return json_response(result, status=202, etag=result.job.entity_version)


lambda_handler = api.lambda_handler

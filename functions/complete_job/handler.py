"""POST /v2/models/{model_id}/jobs/{job_id}/complete — report a job's result (scope jobs:write)."""

from shared.domain.requests import CompleteJobRequest
from shared.domain.responses.jobs import CompletionResponse
from shared.http.api import route_api
from shared.http.params import JobIdPath, ModelIdPath
from shared.runtime import job_service

api = route_api(__name__)


@api.handler
def complete_job(model_id: ModelIdPath, job_id: JobIdPath, body: CompleteJobRequest) -> CompletionResponse:
    return job_service().complete(model_id, job_id, body, actor=api.principal.subject, access=api.access)


lambda_handler = api.lambda_handler

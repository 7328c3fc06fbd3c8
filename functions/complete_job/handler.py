"""POST /v2/models/{model_id}/jobs/{job_id}/complete — report a job's result (scope jobs:write)."""

from shared.domain.requests import CompleteJobRequest
from shared.domain.responses import CompletionResponse
from shared.http.api import JobIdPath, ModelIdPath, RouteApi, json_response
from shared.runtime import job_service

api = RouteApi("complete_job")


@api.handler(CompletionResponse, errors=(409,))
def complete_job(model_id: ModelIdPath, job_id: JobIdPath, body: CompleteJobRequest):
    result = job_service().complete(model_id, job_id, body, actor=api.principal.subject, access=api.access)
    return json_response(result, etag=result.job.entity_version)


lambda_handler = api.lambda_handler

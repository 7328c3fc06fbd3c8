"""GET /v2/models/{model_id}/jobs/{job_id} — one job."""

from shared.domain.responses import JobResponse
from shared.http.api import JobIdPath, ModelIdPath, RouteApi, json_response
from shared.runtime import job_service

api = RouteApi("get_job")


@api.handler(JobResponse)
def get_job(model_id: ModelIdPath, job_id: JobIdPath):
    result = job_service().get(model_id, job_id, api.access)
    return json_response(result, etag=result.job.entity_version)


lambda_handler = api.lambda_handler

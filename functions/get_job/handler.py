"""GET /v2/models/{model_id}/jobs/{job_id} — one job."""

from shared.domain.responses.jobs import JobResponse
from shared.http.api import route_api
from shared.http.params import JobIdPath, ModelIdPath
from shared.runtime import job_service

api = route_api(__name__)


@api.handler
def get_job(model_id: ModelIdPath, job_id: JobIdPath) -> JobResponse:
    return job_service().get(model_id, job_id, api.access)


lambda_handler = api.lambda_handler

"""POST /v2/models/{model_id}/jobs/{job_id}/retry — put a failed job back in `queued` as its next
attempt (same id); a training job's version goes `training` with it."""

from shared.domain.responses.jobs import JobResponse
from shared.http.api import route_api
from shared.http.params import JobIdPath, ModelIdPath
from shared.runtime import job_service

api = route_api(__name__)


@api.handler
def retry_job(model_id: ModelIdPath, job_id: JobIdPath, if_match: int | None = None) -> JobResponse:
    job = job_service().redrive(model_id, job_id, actor=api.principal.subject, access=api.access, if_match=if_match)
    return JobResponse(job=job)


lambda_handler = api.lambda_handler

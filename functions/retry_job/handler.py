"""POST /v2/models/{model_id}/jobs/{job_id}/retry — put a failed job back in `queued` as its next
attempt (same id); a training job's version goes `training` with it."""

from shared.domain.responses import JobResponse
from shared.http.api import (
    IfMatchHeader,
    JobIdPath,
    ModelIdPath,
    RouteApi,
    json_response,
    parse_if_match,
)
from shared.runtime import job_service

api = RouteApi("retry_job")


@api.handler(JobResponse, status=202, errors=(409, 422))
def retry_job(model_id: ModelIdPath, job_id: JobIdPath, if_match: IfMatchHeader = None):
    job = job_service().redrive(
        model_id, job_id, actor=api.principal.subject, access=api.access, if_match=parse_if_match(if_match)
    )
    return json_response(JobResponse(job=job), status=202, etag=job.entity_version)


lambda_handler = api.lambda_handler

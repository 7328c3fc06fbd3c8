"""POST /v2/models/{model_id}/jobs/{job_id}/cancel — end a queued or dispatched job (outcome
`cancelled`); its ECS task is stopped, and a Lambda's later completion is refused with 409."""

from shared.domain.responses import JobResponse
from shared.http.api import (
    IfMatchHeader,
    JobIdPath,
    ModelIdPath,
    RouteApi,
    json_response,
    parse_if_match,
)
from shared.runtime import job_service, task_stopper

api = RouteApi("cancel_job")


@api.handler(JobResponse, errors=(409,))
def cancel_job(model_id: ModelIdPath, job_id: JobIdPath, if_match: IfMatchHeader = None):
    job = job_service().cancel(
        model_id, job_id, actor=api.principal.subject, access=api.access, if_match=parse_if_match(if_match)
    )
    task_stopper().stop(job)
    return json_response(JobResponse(job=job), etag=job.entity_version)


lambda_handler = api.lambda_handler

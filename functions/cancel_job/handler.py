"""POST /v2/models/{model_id}/jobs/{job_id}/cancel — end a queued or dispatched job (outcome
`cancelled`); its ECS task is stopped, and a Lambda's later completion is refused with 409."""

from shared.domain.responses.jobs import JobResponse
from shared.http.api import route_api
from shared.http.params import JobIdPath, ModelIdPath
from shared.runtime import job_service, task_stopper

api = route_api(__name__)


@api.handler
def cancel_job(model_id: ModelIdPath, job_id: JobIdPath, if_match: int | None = None) -> JobResponse:
    job = job_service().cancel(model_id, job_id, actor=api.principal.subject, access=api.access, if_match=if_match)
    task_stopper().stop(job)
    return JobResponse(job=job)


lambda_handler = api.lambda_handler

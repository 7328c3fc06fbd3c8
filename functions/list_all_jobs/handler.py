"""GET /v2/jobs — the delivery log: one page of jobs across models, newest change first."""

from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from shared.domain.resources import MODEL_ID_PATTERN, JobList, JobStatus
from shared.http.api import LimitQuery, PageTokenQuery, RouteApi, json_response
from shared.runtime import job_service

api = RouteApi("list_all_jobs")


@api.handler(JobList)
def list_all_jobs(
    limit: LimitQuery = 50,
    next_token: PageTokenQuery = None,
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status")] = None,
    model_id: Annotated[str | None, Query(pattern=MODEL_ID_PATTERN, description="Only this model's jobs")] = None,
    since: Annotated[datetime | None, Query(description="Only jobs changed at or after this time (ISO 8601)")] = None,
):
    return json_response(job_service().log(limit, next_token, status, model_id, since))


lambda_handler = api.lambda_handler

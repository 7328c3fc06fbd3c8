"""GET /v2/models/{model_id}/jobs — one page of a model's jobs, newest first."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from shared.domain.entities import JobStatus
from shared.domain.responses.jobs import JobList
from shared.http.api import route_api
from shared.http.params import LimitQuery, ModelIdPath, PageTokenQuery
from shared.runtime import job_service

api = route_api(__name__)


@api.handler
def list_jobs(
    model_id: ModelIdPath,
    limit: LimitQuery = 50,
    next_token: PageTokenQuery = None,
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status")] = None,
) -> JobList:
    return job_service().list(model_id, limit, next_token, status, api.access)


lambda_handler = api.lambda_handler

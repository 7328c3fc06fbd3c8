"""GET /v2/jobs — the delivery log: one page of jobs across models, newest change first."""

import re
from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BeforeValidator

from shared.domain.entities import MODEL_ID_PATTERN, WORKSPACE_PATTERN, JobStatus
from shared.domain.responses.jobs import JobList
from shared.http.api import route_api
from shared.http.params import LimitQuery, PageTokenQuery
from shared.runtime import job_service

api = route_api(__name__)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _iso_8601_only(value: Any) -> Any:
    """pydantic would read "0.5" as a Unix time; the contract says date-time (ISO 8601)."""
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError("since must be an ISO 8601 date-time, e.g. 2026-01-01T00:00:00Z")
    return value


@api.handler
def list_all_jobs(
    limit: LimitQuery = 50,
    next_token: PageTokenQuery = None,
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status")] = None,
    model_id: Annotated[str | None, Query(pattern=MODEL_ID_PATTERN, description="Only this model's jobs")] = None,
    since: Annotated[
        datetime | None,
        BeforeValidator(_iso_8601_only),
        Query(description="Only jobs changed at or after this time (ISO 8601)"),
    ] = None,
    workspace: Annotated[
        str | None, Query(pattern=WORKSPACE_PATTERN, description="Only jobs of this workspace")
    ] = None,
) -> JobList:
    return job_service().log(limit, next_token, status, model_id, since, api.access, workspace)


lambda_handler = api.lambda_handler

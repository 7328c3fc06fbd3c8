"""The job routes' responses."""

from pydantic import Field

from shared.domain.entities import Job, Resource, TriggeredEvent, _absent


class JobResponse(Resource):
    job: Job


class JobList(Resource):
    jobs: list[Job]
    next_token: str | None


class CompletionResponse(Resource):
    job: Job
    warnings: list[str] = Field(default_factory=list, description="Omitted when there are none.", exclude_if=_absent)
    triggered_events: list[TriggeredEvent]

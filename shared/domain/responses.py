"""The API's response envelopes, around the stored entities (``entities.py``)."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    ConfigDict,
    Field,
)

from shared.domain.entities import (
    Action,
    Job,
    Metadata,
    Model,
    ModelId,
    Resource,
    Subscription,
    TriggeredEvent,
    UuidString,
    Version,
    VersionId,
    _absent,
)
from shared.kinds import Handler


class ModelResponse(Resource):
    model: Model


class ModelVersionResponse(Resource):
    version: Version
    model: Model


class ModelList(Resource):
    models: list[Model]
    next_token: str | None


class VersionList(Resource):
    versions: list[Version]
    next_token: str | None


class ErrorResponse(Resource):
    model_config = ConfigDict(json_schema_extra={"required": ["success", "message"]})

    success: Literal[False] = False
    message: str


class InternalErrorResponse(ErrorResponse):
    model_config = ConfigDict(json_schema_extra={"required": ["success", "message", "request_id"]})

    request_id: str


class SubscriptionList(Resource):
    subscriptions: list[Subscription]
    next_token: str | None


class DryRunJob(Resource):
    model_id: ModelId
    version: VersionId
    cuts_version: bool = Field(
        default=False,
        description="True when the firing would cut this version for the training (it does not exist yet).",
    )
    action: Action
    input: Metadata
    handler: Handler


class DryRunResult(Resource):
    """What the subscription would do if its event happened now. Nothing is written."""

    subscription_id: UuidString
    would_fire: bool
    job: DryRunJob | None
    error: str | None
    warnings: list[str]


class StatusChangeResponse(Resource):
    model: Model
    version: Version
    triggered_events: list[TriggeredEvent]


class JobResponse(Resource):
    job: Job


class JobList(Resource):
    jobs: list[Job]
    next_token: str | None


class CompletionResponse(Resource):
    job: Job
    warnings: list[str] = Field(default_factory=list, description="Omitted when there are none.", exclude_if=_absent)
    triggered_events: list[TriggeredEvent]

"""PIE's resources as pydantic v2 models: the API contract and the stored documents.

Request models forbid unknown fields so a typo is a 400, not a silently ignored setting.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from shared.kinds import Handler

MODEL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
WORKSPACE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
# Where models created before workspaces existed belong: stored items without one read as this.
DEFAULT_WORKSPACE = "default"
LATEST = "latest"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

ModelId = Annotated[str, StringConstraints(pattern=MODEL_ID_PATTERN)]
VersionId = Annotated[str, StringConstraints(pattern=VERSION_PATTERN)]
WorkspaceName = Annotated[str, StringConstraints(pattern=WORKSPACE_PATTERN)]
# Subscription and job ids, which PIE generates as UUIDs; published as such so clients may type them.
UuidString = Annotated[str, WithJsonSchema({"type": "string", "format": "uuid"})]


def _finite_json(value: Any) -> Any:
    """JSON has no NaN or Infinity; Python's parser accepts them, so refuse them here.

    The walk is the JSON encoder's, in C: a Python recursion over a megabyte of small values took
    half a second, three times per request. Values the encoder does not know pass, as before.
    """
    try:
        json.dumps(value, allow_nan=False, default=_unknown_as_null)
    except ValueError:
        raise ValueError("NaN and Infinity are not JSON numbers") from None
    return value


def _unknown_as_null(_: Any) -> None:
    return None


Metadata = Annotated[dict[str, Any], AfterValidator(_finite_json)]
VersionStatus = Literal["pending", "training", "active", "failed"]
ModelStatus = Literal["pending", "active"]
StatusMessage = Annotated[str, StringConstraints(max_length=1000)]


def _absent(value: Any) -> bool:
    """Optional response fields that are omitted rather than sent empty."""
    return value is None or value == []


class _Resource(BaseModel):
    # Each function uses a few of these models; building the validators of all of them at import
    # cost every cold start ~25 ms. A model is built the first time it validates or serializes.
    model_config = ConfigDict(defer_build=True)


class _Strict(_Resource):
    model_config = ConfigDict(extra="forbid")


class Handlers(_Strict):
    training: Handler
    inference: Handler


def _check_json_schema(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    if schema is None:
        return None
    # Imported here: only the routes that accept contracts pay for jsonschema and RE2 at cold start.
    from shared.domain.json_schema import check_schema

    check_schema(schema)
    return schema


class HandlerContract(_Strict):
    input_schema: Metadata | None = Field(
        default=None, description="JSON Schema Draft 2020-12 for the payload this handler accepts."
    )
    output_schema: Metadata | None = Field(
        default=None, description="JSON Schema Draft 2020-12 for this handler's successful output."
    )

    _check_schemas = field_validator("input_schema", "output_schema")(_check_json_schema)


class HandlerContracts(_Strict):
    training: HandlerContract | None = None
    inference: HandlerContract | None = None


class Model(_Resource):
    id: ModelId
    workspace: WorkspaceName = Field(
        default=DEFAULT_WORKSPACE, description="The team that owns the model; never changes."
    )
    name: str
    description: str
    handlers: Handlers
    handler_contracts: HandlerContracts | None
    metadata: Metadata
    status: ModelStatus
    latest_version: VersionId | None
    active_version: VersionId | None
    entity_version: int
    created_at: datetime
    updated_at: datetime
    created_by: str


class StatusChange(_Resource):
    status: VersionStatus
    status_message: str | None
    at: datetime
    by: str


class Version(_Resource):
    model_id: ModelId
    workspace: WorkspaceName = Field(default=DEFAULT_WORKSPACE, description="Its model's workspace.")
    version: VersionId
    description: str
    metadata: Metadata
    status: VersionStatus
    status_message: str | None
    status_history: list[StatusChange]
    training_job_id: str | None = Field(
        default=None,
        description="While the version is `training` through a job: that job, the only one whose completion "
        "moves the version. Null in any other status, and for a version set to `training` by hand.",
    )
    handlers: Handlers
    handler_contracts: HandlerContracts | None
    entity_version: int
    created_at: datetime
    updated_at: datetime
    created_by: str


# Requests ---------------------------------------------------------------------------------------

# Request examples, from the seed documents (published in the OpenAPI document).
SEED_HANDLERS = {
        "training": {
            "type": "lambda",
            "arn": "arn:aws:lambda:us-west-2:123456789012:function:train-model",
            "version": "1",
        },
        "inference": {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:infer-model"},
    }
SEED_CONTRACTS = {
    "training": {
        "input_schema": {"type": "object", "properties": {"data_path": {"type": "string"}}},
        "output_schema": {"type": "object", "properties": {"model_path": {"type": "string"}}},
    },
    "inference": {
        "input_schema": {
            "type": "object",
            "properties": {"features": {"type": "array", "items": {"type": "number"}}},
        },
        "output_schema": {
            "type": "object",
            "properties": {"predictions": {"type": "array", "items": {"type": "number"}}},
        },
    },
}


class CreateModelRequest(_Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "model_price_reco_v1",
                    "name": "Price recommendation",
                    "description": "Domain-level price model",
                    "handlers": SEED_HANDLERS,
                    "handler_contracts": SEED_CONTRACTS,
                    "metadata": {"team": "pricing"},
                }
            ]
        }
    )

    id: ModelId = Field(examples=["model_price_reco_v1"])
    workspace: WorkspaceName | None = Field(
        default=None,
        description="The team that will own the model; default: the caller's only workspace.",
        examples=["default"],
    )
    name: Annotated[str, StringConstraints(min_length=1, max_length=256)] = Field(
        examples=["Price recommendation"]
    )
    description: Annotated[str, StringConstraints(max_length=4096)] = ""
    handlers: Handlers
    handler_contracts: HandlerContracts | None = None
    metadata: Metadata = Field(default_factory=dict, examples=[{"team": "pricing"}])


class UpdateModelRequest(_Strict):
    """A full replacement (seed 002): an omitted ``handler_contracts`` clears the contracts."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "example",
                    "description": "example",
                    "handlers": SEED_HANDLERS,
                    "handler_contracts": SEED_CONTRACTS,
                    "metadata": {},
                }
            ]
        }
    )

    workspace: WorkspaceName | None = Field(
        default=None, description="May repeat the model's workspace; a model never changes workspace."
    )
    name: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    description: Annotated[str, StringConstraints(max_length=4096)]
    handlers: Handlers
    handler_contracts: HandlerContracts | None = None
    metadata: Metadata


class CreateVersionRequest(_Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"version": "example", "description": "example", "metadata": {}}]}
    )

    version: VersionId = Field(examples=["2"])
    description: Annotated[str, StringConstraints(max_length=4096)] = ""
    metadata: Metadata = Field(default_factory=dict)

    @field_validator("version")
    @classmethod
    def _not_reserved(cls, version: str) -> str:
        if version == LATEST:
            raise ValueError("'latest' is reserved: it names the newest version")
        return version


# Responses --------------------------------------------------------------------------------------


class ModelResponse(_Resource):
    model: Model


class ModelVersionResponse(_Resource):
    version: Version
    model: Model


class ModelList(_Resource):
    models: list[Model]
    next_token: str | None


class VersionList(_Resource):
    versions: list[Version]
    next_token: str | None


class ErrorResponse(_Resource):
    model_config = ConfigDict(json_schema_extra={"required": ["success", "message"]})

    success: Literal[False] = False
    message: str


class InternalErrorResponse(ErrorResponse):
    model_config = ConfigDict(json_schema_extra={"required": ["success", "message", "request_id"]})

    request_id: str


# Subscriptions and jobs ---------------------------------------------------------------------------

TriggerEvent = Literal["training_complete", "inference_complete"]
Action = Literal["inference", "training"]
InputSource = Literal["stored", "trigger_output"]
SubscriptionStatus = Literal["active", "paused", "stale"]
JobStatus = Literal["queued", "dispatched", "succeeded", "failed"]


SubscriptionLabel = Annotated[str, StringConstraints(max_length=256)]


class RetryPolicy(_Strict):
    """How often a job is tried, and how long it waits between tries (doubling, with jitter, at
    most an hour)."""

    max_attempts: int = Field(ge=1, le=10)
    backoff_seconds: int = Field(default=30, ge=1, le=3600)


class Subscription(_Resource):
    id: UuidString
    workspace: WorkspaceName = Field(default=DEFAULT_WORKSPACE, description="Its source model's workspace.")
    source_model_id: ModelId
    trigger_event: TriggerEvent
    target_model_id: ModelId
    target_action: Action
    input_source: InputSource
    input: Metadata | None = None
    label: str | None = None
    retry: RetryPolicy | None = Field(default=None, description="The jobs it fires; default 3 attempts.", exclude_if=_absent)
    status: SubscriptionStatus
    entity_version: int = 1
    created_at: datetime
    updated_at: datetime
    warnings: list[str] = Field(
        default_factory=list,
        description="Problems that did not block the operation (e.g. the stored input does not "
        "match the target's input_schema). Omitted when there are none.",
        exclude_if=_absent,
    )



class CreateSubscriptionRequest(_Strict):
    model_config = ConfigDict(
        json_schema_extra={
            # The rule _input_matches_its_source enforces, for the published document.
            "if": {"properties": {"input_source": {"const": "stored"}}},
            "then": {"required": ["input"], "properties": {"input": {"type": "object"}}},
            "else": {"properties": {"input": {"type": "null"}}},
            "examples": [
                {
                    "trigger_event": "training_complete",
                    "target_model_id": "model_price_elasticity",
                    "target_action": "inference",
                    "input_source": "stored",
                    "input": {"features": [0.2, 0.4]},
                    "label": "refresh elasticity after price retrain",
                }
            ],
        }
    )

    trigger_event: TriggerEvent
    target_model_id: ModelId
    target_action: Action
    input_source: InputSource
    input: Metadata | None = Field(default=None, description="Required when input_source is stored.")
    label: SubscriptionLabel | None = None
    retry: RetryPolicy | None = Field(default=None, description="For the jobs it fires; default 3 attempts, 30 s backoff.")

    @model_validator(mode="after")
    def _input_matches_its_source(self) -> "CreateSubscriptionRequest":
        if self.input_source == "stored" and self.input is None:
            raise ValueError("input is required when input_source is 'stored'")
        if self.input_source == "trigger_output" and self.input is not None:
            raise ValueError("a trigger_output subscription takes its input from the trigger: omit input")
        return self


class UpdateSubscriptionRequest(_Strict):
    """Seed 003: any of ``input``, ``label`` (null clears it) and ``status``."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"input": {}, "label": "example", "status": "active"}]})

    input: Metadata | None = None
    label: SubscriptionLabel | None = None
    status: SubscriptionStatus | None = None


class SubscriptionList(_Resource):
    subscriptions: list[Subscription]
    next_token: str | None


class DryRunRequest(_Strict):
    trigger_output: Metadata | None = Field(
        default=None, description="The output to pretend the trigger produced (trigger_output subscriptions)."
    )


class DryRunJob(_Resource):
    model_id: ModelId
    version: VersionId
    action: Action
    input: Metadata
    handler: Handler


class DryRunResult(_Resource):
    """What the subscription would do if its event happened now. Nothing is written."""

    subscription_id: UuidString
    would_fire: bool
    job: DryRunJob | None
    error: str | None
    warnings: list[str]


AttemptOutcome = Literal["succeeded", "failed", "timed_out", "not_started", "cancelled"]


class AttemptRecord(_Resource):
    attempt: int = Field(ge=1)
    dispatched_at: datetime | None = None
    ended_at: datetime
    outcome: AttemptOutcome
    error: str | None = None


class JobTrigger(_Resource):
    """Why a job exists: the subscription that fired it and what fired that subscription."""

    subscription_id: UuidString
    source_model_id: ModelId
    source_version: VersionId | None = None
    source_job_id: UuidString | None = None
    depth: int = Field(ge=1)


class Job(_Resource):
    id: UuidString
    model_id: ModelId
    workspace: WorkspaceName = Field(default=DEFAULT_WORKSPACE, description="Its model's workspace.")
    version: VersionId
    action: Action
    status: JobStatus
    input: Metadata
    output: Metadata | None = None
    error: str | None = None
    handler: Handler
    trigger: JobTrigger | None
    attempt: int = Field(default=1, ge=1, description="The attempt in flight, or the next or last one.")
    max_attempts: int = Field(default=1, ge=1)
    backoff_seconds: int = Field(default=30, ge=1)
    deadline_at: datetime | None = Field(
        default=None, description="When the attempt in flight ends as timed_out (or not_started) if not completed."
    )
    not_before: datetime | None = Field(default=None, description="A retry is not dispatched before this.")
    attempt_history: list[AttemptRecord] = Field(default_factory=list)
    started_at: datetime | None = Field(default=None, description="When the handler accepted the attempt in flight.")
    task_arn: str | None = Field(default=None, description="The ECS task running the attempt in flight.", exclude_if=_absent)
    requeues: int = Field(default=0, description="Times the sweeper re-queued it because nothing dispatched it.")
    entity_version: int = 1
    created_at: datetime
    updated_at: datetime
    dispatched_at: datetime | None = None
    completed_at: datetime | None = None


class TriggeredEvent(_Resource):
    """One fired subscription: ``job_id`` when a job was queued, ``error`` when it could not be."""

    subscription_id: UuidString
    job_id: UuidString | None = Field(default=None, description="Present when a job was queued", exclude_if=_absent)
    error: str | None = Field(default=None, description="Present when it could not fire", exclude_if=_absent)



class NewStatusRequest(_Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"status": "pending"}, {"status": "active", "status_message": "AUC 0.91 on holdout"}]
        }
    )

    status: VersionStatus
    status_message: StatusMessage | None = None


class StatusChangeResponse(_Resource):
    model: Model
    version: Version
    triggered_events: list[TriggeredEvent]


class StartJobRequest(_Strict):
    input: Metadata = Field(examples=[{"features": [0.2, 0.4]}])
    version: VersionId | None = Field(
        default=None,
        description="Version to run; inference defaults to the active version, training to the newest.",
    )
    retry: RetryPolicy | None = Field(default=None, description="Default: one attempt.")


class JobResponse(_Resource):
    job: Job


class JobList(_Resource):
    jobs: list[Job]
    next_token: str | None


class CompleteJobRequest(_Strict):
    status: Literal["succeeded", "failed"]
    output: Metadata | None = None
    error: Annotated[str, StringConstraints(max_length=4096)] | None = None
    attempt: int | None = Field(
        default=None, ge=1, description="The attempt this result is for (the envelope's); another than the one in flight is a 409."
    )
    retryable: bool = Field(default=True, description="false: a failure is final, whatever attempts are left.")


class CompletionResponse(_Resource):
    job: Job
    warnings: list[str] = Field(
        default_factory=list, description="Omitted when there are none.", exclude_if=_absent
    )
    triggered_events: list[TriggeredEvent]


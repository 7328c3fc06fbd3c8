"""PIE's resources as pydantic v2 models: the API contract and the stored documents.

Request models forbid unknown fields so a typo is a 400, not a silently ignored setting.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal, Union

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

MODEL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
LATEST = "latest"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

# Plain (ECMA-compatible) patterns: they are published in the OpenAPI document.
LAMBDA_ARN_PATTERN = (
    r"^arn:aws[a-z-]*:lambda:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}$"
)
LAMBDA_QUALIFIER_PATTERN = r"^(\$LATEST|[A-Za-z0-9_-]{1,128})$"
ECS_TASK_PATTERN = r"^[A-Za-z0-9_-]{1,255}/[A-Za-z0-9_-]{1,255}(:[1-9][0-9]*)?$"
IMPLEMENTATION_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"

ModelId = Annotated[str, StringConstraints(pattern=MODEL_ID_PATTERN)]
VersionId = Annotated[str, StringConstraints(pattern=VERSION_PATTERN)]
# Subscription and job ids, which PIE generates as UUIDs; published as such so clients may type them.
UuidString = Annotated[str, WithJsonSchema({"type": "string", "format": "uuid"})]


def _finite_json(value: Any) -> Any:
    """JSON has no NaN or Infinity; Python's parser accepts them, so refuse them here."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("NaN and Infinity are not JSON numbers")
    if isinstance(value, dict):
        for item in value.values():
            _finite_json(item)
    elif isinstance(value, list):
        for item in value:
            _finite_json(item)
    return value


Metadata = Annotated[dict[str, Any], AfterValidator(_finite_json)]
VersionStatus = Literal["pending", "training", "active", "failed"]
ModelStatus = Literal["pending", "active"]
StatusMessage = Annotated[str, StringConstraints(max_length=1000)]


def _absent(value: Any) -> bool:
    """Optional response fields that are omitted rather than sent empty."""
    return value is None or value == []


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Deadline(_Strict):
    """What every handler kind shares: how long one attempt may run (defaults per kind in
    ``shared.domain.supervision.default_timeout_seconds``)."""

    timeout_seconds: int | None = Field(
        default=None,
        ge=1,
        le=86400,
        description="Seconds one attempt may run before it ends as timed_out; the kind's default when absent.",
        exclude_if=_absent,
    )


class LambdaHandler(_Deadline):
    type: Literal["lambda"]
    arn: Annotated[str, StringConstraints(pattern=LAMBDA_ARN_PATTERN)] = Field(
        examples=["arn:aws:lambda:us-west-2:123456789012:function:train"]
    )
    version: Annotated[str, StringConstraints(pattern=LAMBDA_QUALIFIER_PATTERN)] | None = Field(
        default=None,
        description="Qualifier (version or alias) to invoke; unqualified when absent.",
        exclude_if=_absent,
    )

    @property
    def region(self) -> str:
        return self.arn.split(":")[3]

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]

    @property
    def function_name(self) -> str:
        return self.arn.split(":")[6]



class EcsHandler(_Deadline):
    type: Literal["ecs"]
    task: Annotated[str, StringConstraints(pattern=ECS_TASK_PATTERN)] = Field(
        description="<cluster>/<task_definition>: cluster short name, task family[:revision].",
        examples=["ml-cluster/train-price-model:3"],
    )

    @property
    def cluster(self) -> str:
        return self.task.split("/", 1)[0]

    @property
    def task_definition(self) -> str:
        """The family, with its revision when one is given."""
        return self.task.split("/", 1)[1]

    @property
    def family(self) -> str:
        return self.task_definition.split(":", 1)[0]


class InProcessHandler(_Deadline):
    type: Literal["in_process"]
    implementation: Annotated[str, StringConstraints(pattern=IMPLEMENTATION_PATTERN)] = Field(
        description="Name of an implementation registered in PIE's code base.", examples=["echo"]
    )


Handler = Annotated[Union[LambdaHandler, EcsHandler, InProcessHandler], Field(discriminator="type")]


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


class Model(BaseModel):
    id: ModelId
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


class StatusChange(BaseModel):
    status: VersionStatus
    status_message: str | None
    at: datetime
    by: str


class Version(BaseModel):
    model_id: ModelId
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


class ModelResponse(BaseModel):
    model: Model


class ModelVersionResponse(BaseModel):
    version: Version
    model: Model


class ModelList(BaseModel):
    models: list[Model]
    next_token: str | None


class VersionList(BaseModel):
    versions: list[Version]
    next_token: str | None


class ErrorResponse(BaseModel):
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



class Subscription(BaseModel):
    id: UuidString
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


class SubscriptionList(BaseModel):
    subscriptions: list[Subscription]
    next_token: str | None


class DryRunRequest(_Strict):
    trigger_output: Metadata | None = Field(
        default=None, description="The output to pretend the trigger produced (trigger_output subscriptions)."
    )


class DryRunJob(BaseModel):
    model_id: ModelId
    version: VersionId
    action: Action
    input: Metadata
    handler: Handler


class DryRunResult(BaseModel):
    """What the subscription would do if its event happened now. Nothing is written."""

    subscription_id: UuidString
    would_fire: bool
    job: DryRunJob | None
    error: str | None
    warnings: list[str]


AttemptOutcome = Literal["succeeded", "failed", "timed_out", "not_started", "cancelled"]


class AttemptRecord(BaseModel):
    attempt: int = Field(ge=1)
    dispatched_at: datetime | None = None
    ended_at: datetime
    outcome: AttemptOutcome
    error: str | None = None


class JobTrigger(BaseModel):
    """Why a job exists: the subscription that fired it and what fired that subscription."""

    subscription_id: UuidString
    source_model_id: ModelId
    source_version: VersionId | None = None
    source_job_id: UuidString | None = None
    depth: int = Field(ge=1)


class Job(BaseModel):
    id: UuidString
    model_id: ModelId
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


class TriggeredEvent(BaseModel):
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


class StatusChangeResponse(BaseModel):
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


class JobResponse(BaseModel):
    job: Job


class JobList(BaseModel):
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


class CompletionResponse(BaseModel):
    job: Job
    warnings: list[str] = Field(
        default_factory=list, description="Omitted when there are none.", exclude_if=_absent
    )
    triggered_events: list[TriggeredEvent]


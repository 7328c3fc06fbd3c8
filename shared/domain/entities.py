"""PIE's stored entities and the field types they share: pydantic v2 models, no I/O.

The API returns these documents as they are stored; requests (``requests.py``) and response
envelopes (``responses.py``) are built from them.
"""

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from shared.domain import job_events
from shared.domain.lifecycle import STATUS_HISTORY_LIMIT
from shared.domain.stored import from_storage
from shared.domain.tags import Tags
from shared.kinds import Handler
from shared.kinds.base import ClosedModel

MODEL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
WORKSPACE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
# Where models created before workspaces existed belong: stored items without one read as this.
DEFAULT_WORKSPACE = "default"
LATEST = "latest"
# An alias names a version (``@champion``); ``latest`` is the newest version, never an alias.
ALIAS_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
# Where a version is named: a version id, or ``@<alias>`` for the version the alias points at.
VERSION_REFERENCE_PATTERN = r"^(@[a-z][a-z0-9_-]{0,63}|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$"
# In a path, where a client may have percent-encoded the ``@`` (``%40champion``).
VERSION_PATH_PATTERN = r"^((@|%40)[a-z][a-z0-9_-]{0,63}|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# Webhook and delivery ids (``shared.domain.webhooks``); here with the other ids the paths declare,
# so a route that never touches webhooks does not import their models.
WEBHOOK_ID_PATTERN = r"^wh_[0-9a-f]{24}$"
DELIVERY_ID_PATTERN = r"^msg_[0-9a-f]{36}$"
# The longest search filter (``shared.domain.search``); here, with the other limits the HTTP
# parameters declare, so a route that does not search does not import the filter parser.
MAX_FILTER_LENGTH = 1000

ModelId = Annotated[str, StringConstraints(pattern=MODEL_ID_PATTERN)]
VersionId = Annotated[str, StringConstraints(pattern=VERSION_PATTERN)]
WorkspaceName = Annotated[str, StringConstraints(pattern=WORKSPACE_PATTERN)]
AliasName = Annotated[str, StringConstraints(pattern=ALIAS_PATTERN)]
VersionReference = Annotated[str, StringConstraints(pattern=VERSION_REFERENCE_PATTERN)]
# Subscription and job ids, which PIE generates as UUIDs; published as such so clients may type them.
UuidString = Annotated[str, WithJsonSchema({"type": "string", "format": "uuid"})]


def _finite_json(value: Any, info: ValidationInfo) -> Any:
    """JSON has no NaN or Infinity; Python's parser accepts them, so refuse them here.

    The walk is the JSON encoder's, in C: a Python recursion over a megabyte of small values took
    half a second, three times per request. Values the encoder does not know pass, as before. A
    stored document passed it when it was written (``shared.domain.stored``).
    """
    if from_storage(info):
        return value
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


class Resource(BaseModel):
    # Each function uses a few of these models; building the validators of all of them at import
    # cost every cold start ~25 ms. A model is built the first time it validates or serializes.
    model_config = ConfigDict(defer_build=True)


class Strict(Resource, ClosedModel):
    """Unknown fields are refused (``ClosedModel``)."""


class Handlers(Strict):
    training: Handler
    inference: Handler


def _check_json_schema(schema: dict[str, Any] | None, info: ValidationInfo) -> dict[str, Any] | None:
    if schema is None or from_storage(info):
        return schema
    # Imported here: only the routes that accept contracts pay for jsonschema and RE2 at cold start.
    from shared.domain.json_schema import check_schema

    check_schema(schema)
    return schema


class HandlerContract(Strict):
    input_schema: Metadata | None = Field(
        default=None, description="JSON Schema Draft 2020-12 for the payload this handler accepts."
    )
    output_schema: Metadata | None = Field(
        default=None, description="JSON Schema Draft 2020-12 for this handler's successful output."
    )

    _check_schemas = field_validator("input_schema", "output_schema")(_check_json_schema)


class HandlerContracts(Strict):
    training: HandlerContract | None = None
    inference: HandlerContract | None = None


class Promotion(Strict):
    """Move ``alias`` to each version of the model that becomes active, in the same transaction."""

    alias: AliasName


class Model(Resource):
    id: ModelId
    workspace: WorkspaceName = Field(
        default=DEFAULT_WORKSPACE, description="The team that owns the model; never changes."
    )
    name: str
    description: str
    handlers: Handlers
    handler_contracts: HandlerContracts | None
    metadata: Metadata
    tags: Tags = Field(default_factory=dict)
    protected_aliases: list[AliasName] = Field(
        default_factory=list,
        description="Aliases that only a caller with the models:promote scope may move or delete. Omitted when none.",
        exclude_if=_absent,
    )
    promotion: Promotion | None = Field(
        default=None,
        description="The alias that moves to each version as it becomes active. Omitted when none.",
        exclude_if=_absent,
    )
    status: ModelStatus
    latest_version: VersionId | None
    active_version: VersionId | None
    entity_version: int
    created_at: datetime
    updated_at: datetime
    created_by: str


class StatusChange(Resource):
    status: VersionStatus
    status_message: str | None
    at: datetime
    by: str


class Version(Resource):
    model_id: ModelId
    workspace: WorkspaceName = Field(default=DEFAULT_WORKSPACE, description="Its model's workspace.")
    version: VersionId
    description: str
    metadata: Metadata
    tags: Tags = Field(default_factory=dict)
    status: VersionStatus
    status_message: str | None
    status_history: list[StatusChange] = Field(
        description=f"Its status changes, oldest first: the newest {STATUS_HISTORY_LIMIT} at most, fewer when its "
        "metadata leaves no room for them (the newest is always there)."
    )
    status_history_dropped: int = Field(
        default=0,
        ge=0,
        description="How many older status changes `status_history` no longer holds. Omitted when none.",
        exclude_if=lambda value: value == 0,
    )
    training_job_id: str | None = Field(
        default=None,
        description="While the version is `training` through a job: that job, the only one whose completion "
        "moves the version. Null in any other status, and for a version set to `training` by hand.",
    )
    handlers: Handlers
    handler_contracts: HandlerContracts | None
    lineage: "Lineage | None" = Field(
        default=None,
        description="The job that trained this version (or cut it to train it) and what fired that job; "
        "null for a version no job has trained.",
    )
    entity_version: int
    created_at: datetime
    updated_at: datetime
    created_by: str


# The events a subscription can fire on, as the job-event table lists them.
TriggerEvent = Literal[job_events.EVENT_NAMES]
Action = Literal["inference", "training"]
InputSource = Literal["stored", "trigger_output"]
SubscriptionStatus = Literal["active", "paused", "stale"]
JobStatus = Literal["queued", "dispatched", "succeeded", "failed"]


SubscriptionLabel = Annotated[str, StringConstraints(max_length=256)]


class RetryPolicy(Strict):
    """How often a job is tried, and how long it waits between tries (doubling, with jitter, at
    most an hour). Both are integers: 3, not 3.0 or "3"."""

    # Strict: "3", true and 3.0 are refused, not read as 3, 1 and 3 (PIE stores integers as such,
    # so stored documents read the same).
    max_attempts: int = Field(strict=True, ge=1, le=10)
    backoff_seconds: int = Field(default=30, strict=True, ge=1, le=3600)


class Subscription(Resource):
    id: UuidString
    workspace: WorkspaceName = Field(default=DEFAULT_WORKSPACE, description="Its source model's workspace.")
    source_model_id: ModelId
    trigger_event: TriggerEvent
    alias: AliasName | None = Field(
        default=None,
        description="For alias_set: the alias of the source model whose moves fire it. Omitted otherwise.",
        exclude_if=_absent,
    )
    target_model_id: ModelId
    target_action: Action
    input_source: InputSource
    input: Metadata | None = None
    label: str | None = None
    retry: RetryPolicy | None = Field(
        default=None, description="The jobs it fires; default 3 attempts.", exclude_if=_absent
    )
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


AliasReason = Annotated[str, StringConstraints(max_length=1000)]


class Alias(Resource):
    """A named pointer to one active version of a model (``@champion``)."""

    name: AliasName
    model_id: ModelId
    version: VersionId
    reason: str | None = None
    updated_at: datetime
    updated_by: str
    entity_version: int = 1


class AliasChange(Resource):
    """One move of an alias, as its history records it: ``version`` null is a delete."""

    version: VersionId | None = Field(description="Where the alias went; null when it was deleted.")
    previous_version: VersionId | None = Field(description="Where it pointed before; null when it was created.")
    reason: str | None = None
    at: datetime
    by: str


AttemptOutcome = Literal["succeeded", "failed", "timed_out", "not_started", "cancelled"]


class AttemptRecord(Resource):
    attempt: int = Field(ge=1)
    dispatched_at: datetime | None = None
    ended_at: datetime
    outcome: AttemptOutcome
    error: str | None = None


class JobTrigger(Resource):
    """Why a job exists: the subscription that fired it and what fired that subscription."""

    subscription_id: UuidString
    source_model_id: ModelId
    source_version: VersionId | None = None
    source_job_id: UuidString | None = None
    depth: int = Field(ge=1)
    root_job_id: UuidString | None = Field(
        default=None,
        description="The job (or, for a status set by hand, the transition) at the root of the chain; "
        "its whole tree counts against one job budget.",
    )


class Lineage(Resource):
    """How a version came to be trained: the job that trained it (or cut it to train it) and what
    fired that job (null for a direct request)."""

    job_id: UuidString
    trigger: JobTrigger | None = None


class Job(Resource):
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
    task_arn: str | None = Field(
        default=None, description="The ECS task running the attempt in flight.", exclude_if=_absent
    )
    requeues: int = Field(default=0, description="Times the sweeper re-queued it because nothing dispatched it.")
    entity_version: int = 1
    created_at: datetime
    updated_at: datetime
    dispatched_at: datetime | None = None
    completed_at: datetime | None = None
    # The attempt's completion token (``shared.domain.completion_tokens``): private, so that no
    # document PIE answers with or stores as ``doc`` carries it; the job's item keeps it beside.
    _completion_token: str | None = PrivateAttr(default=None)

    @property
    def completion_token(self) -> str | None:
        return self._completion_token

    def with_completion_token(self, token: str | None) -> "Job":
        job = self.model_copy()
        job._completion_token = token
        return job


class TriggeredEvent(Resource):
    """One fired subscription: ``job_id`` when a job was queued, ``error`` when it could not be."""

    subscription_id: UuidString
    job_id: UuidString | None = Field(default=None, description="Present when a job was queued", exclude_if=_absent)
    error: str | None = Field(default=None, description="Present when it could not fire", exclude_if=_absent)

"""PIE's wire types, written against ``docs/openapi.json`` (its component schemas, by name).

A test compares every class here that is named like a component schema with that schema (fields,
required fields, enum values), so the SDK and the published contract cannot drift apart silently.

Resources the server returns accept fields this SDK does not know yet (``extra="allow"``), and a
handler of a kind it does not know parses as ``UnknownHandler``: a newer server does not break an
older client. Request bodies are strict, so a typo fails here rather than as a 400; handlers and
contracts, which travel both ways, pass unknown fields through (a newer server's settings).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

JsonObject = dict[str, Any]

ModelStatus = Literal["pending", "active"]
VersionStatus = Literal["pending", "training", "active", "failed"]
JobAction = Literal["inference", "training"]
JobStatus = Literal["queued", "dispatched", "succeeded", "failed"]
TriggerEvent = Literal["training_complete", "inference_complete", "alias_set"]
InputSource = Literal["stored", "trigger_output"]
SubscriptionStatus = Literal["active", "paused", "stale"]
CompletionStatus = Literal["succeeded", "failed"]

FINAL_JOB_STATUSES: frozenset[str] = frozenset({"succeeded", "failed"})


class Resource(BaseModel):
    """Something the server returned."""

    model_config = ConfigDict(extra="allow")


class Request(BaseModel):
    """Something the client sends."""

    model_config = ConfigDict(extra="forbid")


# Handlers --------------------------------------------------------------------------------------


class LambdaHandler(Resource):
    type: Literal["lambda"] = "lambda"
    arn: str
    version: str | None = None
    timeout_seconds: int | None = None


class EcsHandler(Resource):
    type: Literal["ecs"] = "ecs"
    task: str
    timeout_seconds: int | None = None


class InProcessHandler(Resource):
    type: Literal["in_process"] = "in_process"
    implementation: str
    timeout_seconds: int | None = None


class StepFunctionsHandler(Resource):
    type: Literal["step_functions"] = "step_functions"
    state_machine_arn: str
    timeout_seconds: int | None = None


class UnknownHandler(BaseModel):
    """A handler kind this SDK predates: kept as it came, so it round-trips unchanged."""

    model_config = ConfigDict(extra="allow")
    type: str


# The handler kinds this SDK models; any other kind parses as ``UnknownHandler``.
HANDLER_MODELS = (LambdaHandler, EcsHandler, InProcessHandler, StepFunctionsHandler)
_KNOWN_HANDLER_KINDS = {model.model_fields["type"].default for model in HANDLER_MODELS}


def _handler_kind(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in _KNOWN_HANDLER_KINDS else "unknown"


# Union[...] of a computed tuple: the X | Y spelling has no form for a sequence of types.
Handler = Annotated[
    Union[  # noqa: UP007
        tuple(Annotated[model, Tag(model.model_fields["type"].default)] for model in HANDLER_MODELS)
        + (Annotated[UnknownHandler, Tag("unknown")],)
    ],
    Discriminator(_handler_kind),
]


class Handlers(Resource):
    training: Handler
    inference: Handler


class HandlerContract(Resource):
    input_schema: JsonObject | None = None
    output_schema: JsonObject | None = None


class HandlerContracts(Resource):
    training: HandlerContract | None = None
    inference: HandlerContract | None = None


# Resources -------------------------------------------------------------------------------------


class Promotion(Resource):
    alias: str


class Model(Resource):
    id: str
    workspace: str = "default"
    name: str
    description: str
    handlers: Handlers
    handler_contracts: HandlerContracts | None
    metadata: JsonObject
    protected_aliases: list[str] = Field(default_factory=list)
    promotion: Promotion | None = None
    status: ModelStatus
    latest_version: str | None
    active_version: str | None
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
    model_id: str
    workspace: str = "default"
    version: str
    description: str
    metadata: JsonObject
    status: VersionStatus
    status_message: str | None
    status_history: list[StatusChange]
    status_history_dropped: int = 0
    handlers: Handlers
    handler_contracts: HandlerContracts | None
    training_job_id: str | None = None
    lineage: Lineage | None = None
    entity_version: int
    created_at: datetime
    updated_at: datetime
    created_by: str


class Lineage(Resource):
    """The job that trained a version (or cut it to train it) and what fired that job."""

    job_id: str
    trigger: JobTrigger | None = None


class LineageStep(Resource):
    """One link of a version's lineage, nearest first: ``subscription_id`` is null at the root."""

    model_id: str
    version: str | None
    job_id: str | None
    subscription_id: str | None


class ImpactNode(Resource):
    """One subscription the event (or the job its parent node queues) would fire now."""

    subscription_id: str
    target_model_id: str
    action: JobAction
    version: str | None
    cuts_version: bool
    would_fire: bool
    error: str | None
    cycle: bool = False
    children: list[ImpactNode] = Field(default_factory=list)


class Impact(Resource):
    """What an event on a model would fire now, as a tree; ``total_jobs`` within ``job_budget``."""

    model_id: str
    event: TriggerEvent
    alias: str | None = None  # alias_set: the alias whose move it shows
    max_depth: int
    job_budget: int
    total_jobs: int
    children: list[ImpactNode]


class Subscription(Resource):
    id: str
    workspace: str = "default"
    source_model_id: str
    trigger_event: TriggerEvent
    alias: str | None = None  # alias_set: the alias whose moves fire it
    target_model_id: str
    target_action: JobAction
    input_source: InputSource
    input: JsonObject | None = None
    label: str | None = None
    retry: RetryPolicy | None = None
    status: SubscriptionStatus
    entity_version: int = 1
    created_at: datetime
    updated_at: datetime
    warnings: list[str] = Field(default_factory=list)


class RetryPolicy(Resource):
    max_attempts: int
    backoff_seconds: int = 30


class AttemptRecord(Resource):
    attempt: int
    dispatched_at: datetime | None = None
    ended_at: datetime
    outcome: Literal["succeeded", "failed", "timed_out", "not_started", "cancelled"]
    error: str | None = None


class JobTrigger(Resource):
    subscription_id: str
    source_model_id: str
    source_version: str | None = None
    source_job_id: str | None = None
    depth: int
    root_job_id: str | None = None


class Job(Resource):
    id: str
    model_id: str
    workspace: str = "default"
    version: str
    action: JobAction
    status: JobStatus
    input: JsonObject
    output: JsonObject | None = None
    error: str | None = None
    handler: Handler
    trigger: JobTrigger | None
    attempt: int = 1
    max_attempts: int = 1
    backoff_seconds: int = 30
    deadline_at: datetime | None = None
    not_before: datetime | None = None
    attempt_history: list[AttemptRecord] = Field(default_factory=list)
    started_at: datetime | None = None
    task_arn: str | None = None
    requeues: int = 0
    entity_version: int = 1
    created_at: datetime
    updated_at: datetime
    dispatched_at: datetime | None = None
    completed_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINAL_JOB_STATUSES


class TriggeredEvent(Resource):
    subscription_id: str
    job_id: str | None = None
    error: str | None = None


class DryRunJob(Resource):
    model_id: str
    version: str
    cuts_version: bool = False
    action: JobAction
    input: JsonObject
    handler: Handler


class DryRunResult(Resource):
    subscription_id: str
    would_fire: bool
    job: DryRunJob | None
    error: str | None
    warnings: list[str]


# Responses -------------------------------------------------------------------------------------


class ModelResponse(Resource):
    model: Model


class ModelVersionResponse(Resource):
    version: Version
    model: Model


class StatusChangeResponse(Resource):
    model: Model
    version: Version
    triggered_events: list[TriggeredEvent]


class LineageResponse(Resource):
    lineage: list[LineageStep]


class ImpactResponse(Resource):
    impact: Impact


class JobResponse(Resource):
    job: Job


class HandlerCheck(Resource):
    problems: list[str]


class CheckHandlersResponse(Resource):
    results: list[HandlerCheck]


class CompletionResponse(Resource):
    job: Job
    warnings: list[str] = Field(default_factory=list)
    triggered_events: list[TriggeredEvent]


class Alias(Resource):
    name: str
    model_id: str
    version: str
    reason: str | None = None
    updated_at: datetime
    updated_by: str
    entity_version: int = 1


class AliasChange(Resource):
    version: str | None
    previous_version: str | None
    reason: str | None = None
    at: datetime
    by: str


class AliasResponse(Resource):
    alias: Alias


class AliasList(Resource):
    aliases: list[Alias]


class AliasHistory(Resource):
    history: list[AliasChange]
    next_token: str | None


class ModelList(Resource):
    models: list[Model]
    next_token: str | None


class VersionList(Resource):
    versions: list[Version]
    next_token: str | None


class SubscriptionList(Resource):
    subscriptions: list[Subscription]
    next_token: str | None


class JobList(Resource):
    jobs: list[Job]
    next_token: str | None


# Requests --------------------------------------------------------------------------------------


class CreateModelRequest(Request):
    id: str
    workspace: str | None = None
    name: str
    description: str = ""
    handlers: Handlers
    handler_contracts: HandlerContracts | None = None
    metadata: JsonObject = Field(default_factory=dict)
    protected_aliases: list[str] = Field(default_factory=list)
    promotion: Promotion | None = None


class UpdateModelRequest(Request):
    """A full replacement: an omitted ``handler_contracts`` clears the contracts."""

    workspace: str | None = None
    name: str
    description: str
    handlers: Handlers
    handler_contracts: HandlerContracts | None = None
    metadata: JsonObject
    protected_aliases: list[str] = Field(default_factory=list)
    promotion: Promotion | None = None


class CreateVersionRequest(Request):
    version: str
    description: str = ""
    metadata: JsonObject = Field(default_factory=dict)


class NewStatusRequest(Request):
    status: VersionStatus
    status_message: str | None = None


class CreateSubscriptionRequest(Request):
    trigger_event: TriggerEvent
    alias: str | None = None  # required for alias_set, refused for other events (the server checks)
    target_model_id: str
    target_action: JobAction
    input_source: InputSource
    input: JsonObject | None = None
    label: str | None = None
    retry: RetryPolicy | None = None


class UpdateSubscriptionRequest(Request):
    input: JsonObject | None = None
    label: str | None = None
    status: SubscriptionStatus | None = None


class DryRunRequest(Request):
    trigger_output: JsonObject | None = None


class CheckHandlersRequest(Request):
    handlers: list[Handlers] = Field(min_length=1, max_length=100)


class StartJobRequest(Request):
    input: JsonObject
    version: str | None = None
    retry: RetryPolicy | None = None


class CompleteJobRequest(Request):
    status: CompletionStatus
    output: JsonObject | None = None
    error: str | None = None
    attempt: int | None = None
    retryable: bool = True
    completion_token: str | None = None


class SetAliasRequest(Request):
    version: str
    reason: str | None = None


# Webhooks --------------------------------------------------------------------------------------

WebhookStatus = Literal["active", "disabled"]
DeliveryStatus = Literal["pending", "delivered", "failed"]


class Webhook(Resource):
    id: str
    workspace: str
    url: str
    events: list[str]
    model_ids: list[str] | None = None
    description: str | None = None
    status: WebhookStatus
    disabled_reason: str | None = None
    failing_since: datetime | None = None
    entity_version: int
    created_at: datetime
    updated_at: datetime
    created_by: str


class WebhookWithSecret(Webhook):
    """A creation's or a rotation's answer: the only answers that hold the secret."""

    secret: str


class WebhookResponse(Resource):
    webhook: Webhook


class WebhookSecretResponse(Resource):
    webhook: WebhookWithSecret


class WebhookList(Resource):
    webhooks: list[Webhook]
    next_token: str | None


class Attempt(Resource):
    at: datetime
    status_code: int | None = None
    duration_ms: int
    error: str | None = None
    response_excerpt: str | None = None


class Delivery(Resource):
    id: str
    webhook_id: str
    event_id: str
    event_type: str
    workspace: str
    payload: JsonObject
    status: DeliveryStatus
    attempts: list[Attempt] = Field(default_factory=list)
    next_attempt_at: datetime | None = None
    entity_version: int
    created_at: datetime
    updated_at: datetime


class DeliveryResponse(Resource):
    delivery: Delivery


class DeliveryList(Resource):
    deliveries: list[Delivery]
    next_token: str | None


class CreateWebhookRequest(Request):
    url: str
    events: list[str]
    workspace: str | Literal["*"] | None = None  # "*": every workspace (admins)
    model_ids: list[str] | None = None
    description: str | None = None


class UpdateWebhookRequest(Request):
    url: str | None = None
    events: list[str] | None = None
    model_ids: list[str] | None = None
    description: str | None = None
    status: WebhookStatus | None = None


class ErrorResponse(Resource):
    success: Literal[False] = False
    message: str


class GatewayErrorResponse(Resource):
    """API Gateway's own refusal (401/403 from the authorizer, 429, 413, 5xx): no ``success``."""

    message: str


class InternalErrorResponse(Resource):
    success: Literal[False] = False
    message: str
    request_id: str

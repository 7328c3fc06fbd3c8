"""The API's request bodies. They forbid unknown fields, so a typo is a 400, not a silently
ignored setting; their examples (from the seed documents) are published in the OpenAPI document.
"""

from typing import Annotated, Literal

from pydantic import (
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from shared.domain import job_events
from shared.domain.completion_tokens import MAX_TOKEN_LENGTH
from shared.domain.entities import (
    LATEST,
    Action,
    AliasName,
    AliasReason,
    HandlerContracts,
    Handlers,
    InputSource,
    Metadata,
    ModelId,
    Promotion,
    RetryPolicy,
    StatusMessage,
    Strict,
    SubscriptionLabel,
    SubscriptionStatus,
    TriggerEvent,
    VersionId,
    VersionReference,
    VersionStatus,
    WorkspaceName,
)
from shared.domain.tags import Tags, TagValue

MAX_PROTECTED_ALIASES = 50

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


class CreateModelRequest(Strict):
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
    name: Annotated[str, StringConstraints(min_length=1, max_length=256)] = Field(examples=["Price recommendation"])
    description: Annotated[str, StringConstraints(max_length=4096)] = ""
    handlers: Handlers
    handler_contracts: HandlerContracts | None = None
    metadata: Metadata = Field(default_factory=dict, examples=[{"team": "pricing"}])
    tags: Tags = Field(default_factory=dict, examples=[{"team": "pricing"}])
    protected_aliases: list[AliasName] = Field(
        default_factory=list,
        max_length=MAX_PROTECTED_ALIASES,
        description="Aliases only a caller with the models:promote scope may move or delete.",
    )
    promotion: Promotion | None = Field(
        default=None, description="The alias to move to each version of the model as it becomes active."
    )


class UpdateModelRequest(Strict):
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
    protected_aliases: list[AliasName] = Field(
        default_factory=list,
        max_length=MAX_PROTECTED_ALIASES,
        description="Aliases only a caller with the models:promote scope may move or delete; an omitted list clears it.",
    )
    promotion: Promotion | None = Field(
        default=None, description="The alias to move to each version of the model as it becomes active."
    )


class CreateVersionRequest(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"version": "example", "description": "example", "metadata": {}}]}
    )

    version: VersionId = Field(examples=["2"])
    description: Annotated[str, StringConstraints(max_length=4096)] = ""
    metadata: Metadata = Field(default_factory=dict)
    tags: Tags = Field(default_factory=dict)

    @field_validator("version")
    @classmethod
    def _not_reserved(cls, version: str) -> str:
        if version == LATEST:
            raise ValueError("'latest' is reserved: it names the newest version")
        return version


class CreateSubscriptionRequest(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            # The rules _input_matches_its_source and _alias_names_an_alias_event enforce, for the
            # published document.
            "allOf": [
                {
                    "if": {"properties": {"input_source": {"const": "stored"}}},
                    "then": {"required": ["input"], "properties": {"input": {"type": "object"}}},
                    "else": {"properties": {"input": {"type": "null"}}},
                },
                {
                    "if": {"properties": {"trigger_event": {"enum": list(job_events.ALIAS_EVENT_NAMES)}}},
                    "then": {
                        "required": ["alias"],
                        "properties": {"alias": {"type": "string", "not": {"const": "latest"}}},
                    },
                    "else": {"properties": {"alias": {"type": "null"}}},
                },
            ],
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
    alias: AliasName | None = Field(
        default=None,
        description="Required for alias_set, refused for other events: the alias of the source model whose moves "
        "(to another version) fire the subscription.",
    )
    target_model_id: ModelId
    target_action: Action
    input_source: InputSource
    input: Metadata | None = Field(default=None, description="Required when input_source is stored.")
    label: SubscriptionLabel | None = None
    retry: RetryPolicy | None = Field(
        default=None, description="For the jobs it fires; default 3 attempts, 30 s backoff."
    )

    @model_validator(mode="after")
    def _input_matches_its_source(self) -> "CreateSubscriptionRequest":
        if self.input_source == "stored" and self.input is None:
            raise ValueError("input is required when input_source is 'stored'")
        if self.input_source == "trigger_output" and self.input is not None:
            raise ValueError("a trigger_output subscription takes its input from the trigger: omit input")
        return self

    @model_validator(mode="after")
    def _alias_names_an_alias_event(self) -> "CreateSubscriptionRequest":
        if job_events.is_alias_event(self.trigger_event):
            if self.alias is None:
                raise ValueError(f"alias is required when trigger_event is '{self.trigger_event}'")
            if self.alias == LATEST:
                raise ValueError("'latest' is not an alias: it names the newest version")
        elif self.alias is not None:
            raise ValueError(f"alias is only for an alias event, not '{self.trigger_event}': omit alias")
        return self


class UpdateSubscriptionRequest(Strict):
    """Seed 003: any of ``input``, ``label`` (null clears it) and ``status``."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"input": {}, "label": "example", "status": "active"}]})

    input: Metadata | None = None
    label: SubscriptionLabel | None = None
    status: SubscriptionStatus | None = None


class DryRunRequest(Strict):
    trigger_output: Metadata | None = Field(
        default=None, description="The output to pretend the trigger produced (trigger_output subscriptions)."
    )


class NewStatusRequest(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"status": "pending"}, {"status": "active", "status_message": "AUC 0.91 on holdout"}]
        }
    )

    status: VersionStatus
    status_message: StatusMessage | None = None


class StartJobRequest(Strict):
    input: Metadata = Field(examples=[{"features": [0.2, 0.4]}])
    version: VersionReference | None = Field(
        default=None,
        description="Version to run (`@<alias>`: the version the alias points at); inference defaults to the "
        "active version, training to the newest.",
    )
    retry: RetryPolicy | None = Field(default=None, description="Default: one attempt.")


class CompleteJobRequest(Strict):
    status: Literal["succeeded", "failed"]
    output: Metadata | None = None
    error: Annotated[str, StringConstraints(max_length=4096)] | None = None
    attempt: int | None = Field(
        default=None,
        strict=True,
        ge=1,
        description="The attempt this result is for (the envelope's), an integer; another than the one in flight "
        "is a 409.",
    )
    retryable: bool = Field(
        default=True, strict=True, description="false: a failure is final, whatever attempts are left."
    )
    completion_token: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TOKEN_LENGTH)] | None = Field(
        default=None,
        description=(
            "The envelope's completion_token: when given, it must be the token of the attempt in flight "
            "(else a 409). Optional here: the caller's JWT and workspace already authorise the completion."
        ),
    )


class SetAliasRequest(Strict):
    """Point an alias at an active version (an ``@alias`` names the version another alias points at)."""

    version: VersionReference
    reason: AliasReason | None = None


class SetTagRequest(Strict):
    """The value of one tag (``PUT .../tags/{key}``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"value": "pricing"}]})

    value: TagValue


MAX_CHECKED_HANDLER_PAIRS = 100


class CheckHandlersRequest(Strict):
    """Handler pairs to check against this deployment's handler policy, as creating or replacing a
    model would; nothing is written (``pie apply --plan`` asks before it writes)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"handlers": [SEED_HANDLERS]}]})

    handlers: list[Handlers] = Field(
        min_length=1,
        max_length=MAX_CHECKED_HANDLER_PAIRS,
        description="A model's training and inference handlers, one entry per model to check.",
    )

"""The subscription and chain routes' responses: lists, dry runs, lineage and the impact tree."""

from pydantic import Field

from shared.domain.entities import (
    Action,
    AliasName,
    Metadata,
    ModelId,
    Resource,
    Subscription,
    TriggerEvent,
    UuidString,
    VersionId,
    _absent,
)
from shared.kinds import Handler


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


class LineageStep(Resource):
    """One link of a version's lineage: a version of a model, the job that trained it (or ran on it)
    and the subscription that fired that job (null for a direct request or a status set by hand)."""

    model_id: ModelId
    version: VersionId | None
    job_id: UuidString | None
    subscription_id: UuidString | None


class LineageResponse(Resource):
    lineage: list[LineageStep] = Field(description="From the version back to its chain's root, nearest first.")


class ImpactNode(Resource):
    """One subscription that the event (or the job a parent node queues) would fire now."""

    subscription_id: UuidString
    target_model_id: ModelId
    action: Action
    version: VersionId | None = Field(description="The version the job would act on (null when it would not fire).")
    cuts_version: bool = Field(description="True when that version would be cut for the training.")
    would_fire: bool
    error: str | None = Field(description="Why it would not fire (the firing's own message).")
    cycle: bool = Field(
        default=False,
        description="True when this subscription is already on the path from the root: the tree is cut here "
        "(the real chain goes on until the depth limit or the budget stops it).",
    )
    children: list["ImpactNode"] = Field(default_factory=list)


class Impact(Resource):
    model_id: ModelId
    event: TriggerEvent
    alias: AliasName | None = Field(
        default=None, description="For alias_set: the alias whose move it shows. Omitted otherwise.", exclude_if=_absent
    )
    max_depth: int
    job_budget: int
    total_jobs: int = Field(description="Jobs the tree would create, within the budget.")
    children: list[ImpactNode]


class ImpactResponse(Resource):
    impact: Impact

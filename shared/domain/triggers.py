"""Firing event subscriptions: which jobs an event on a model creates, and on which versions.

Planning is pure: given the source event, the source model's subscriptions and what is known of
their targets, it returns the jobs to queue and one ``TriggeredEvent`` per active subscription of
that event. Job ids are derived from the transition and the subscription, so however often the
same transition is retried or its stream record redelivered, a subscription can only ever produce
the same job.

``firing_of`` is the one decision of whether and how a subscription fires, and with what message
when it does not: the firing asks it for each subscription of the event, the dry run and the impact
view ask it too, so what they say is what happens (SPEC part three, "Continuous chains").

A chain runs every time: a triggered training acts on the target's newest version when it can be
trained now (``pending`` or ``failed``, so no job is in flight on it) and otherwise cuts the next
version (``training_slot``). Only a missing target, a subscription that is not active, the depth
limit or the root's job budget stop a firing; an inference still needs an active version.

An alias move is an event too (``alias_set``): it fires the subscriptions that follow that alias,
as a root of its own when a caller moved the alias, or as part of the change whose activation the
promotion policy moved it on — in one plan with that change's other firing, under one budget
(``plan_firings``). Its jobs are named by the move (the alias and its new ``entity_version``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.domain import job_events
from shared.domain.entities import Job, JobTrigger, Model, Subscription, TriggeredEvent
from shared.domain.supervision import DEFAULT_BACKOFF_SECONDS, DEFAULT_SUBSCRIPTION_ATTEMPTS

DEFAULT_MAX_CHAIN_DEPTH = 8
DEFAULT_CHAIN_JOB_BUDGET = 64
# Active subscriptions of one (source model, trigger event): creating or re-activating one more is
# refused, and a firing acts on at most this many.
MAX_ACTIVE_SUBSCRIPTIONS_PER_EVENT = 100
MAX_VERSION_LENGTH = 64
# The statuses a version can be trained from with no job in flight on it.
TRAINABLE = ("pending", "failed")
_JOB_ID_NAMESPACE = uuid.UUID("5b0f7f3e-6c1e-4b8e-9a53-2f2b1c7d9e10")


@dataclass(frozen=True)
class ChainLimits:
    """How far one root may reach: ``max_depth`` links, ``job_budget`` jobs in its whole tree."""

    max_depth: int = DEFAULT_MAX_CHAIN_DEPTH
    job_budget: int = DEFAULT_CHAIN_JOB_BUDGET


DEFAULT_LIMITS = ChainLimits()


@dataclass(frozen=True)
class TriggerSource:
    """What happened: ``event`` on ``model_id``, by a version transition or a completed job.

    ``depth`` is the depth of the jobs it fires (1 for a root's own firing); ``root_job_id`` names
    the root whose budget they count against."""

    model_id: str
    event: str
    transition: str
    output: dict[str, Any]
    depth: int = 1
    version: str | None = None
    job_id: str | None = None
    root_job_id: str | None = None
    alias: str | None = None  # the alias that moved, for an alias event


@dataclass(frozen=True)
class TargetState:
    """What a firing knows of a target model: the model, the status of its newest version (and
    whether a job trains it) and the number the next cut version takes."""

    model: Model
    latest_status: str | None = None
    next_number: int = 2

    def after_training(self, slot: TrainingSlot) -> TargetState:
        """The target once a training is queued on ``slot``: that version is newest and busy."""
        return TargetState(
            model=self.model.model_copy(update={"latest_version": slot.version}),
            latest_status="training",
            next_number=self.next_number + 1 if slot.cuts else self.next_number,
        )


@dataclass(frozen=True)
class TrainingSlot:
    """The version a training acts on, and whether it is cut for it."""

    version: str
    cuts: bool


@dataclass(frozen=True)
class Fired:
    """A subscription that fires: its job, and for a training the slot the job trains."""

    job: Job
    slot: TrainingSlot | None = None


@dataclass(frozen=True)
class FiringPlan:
    jobs: list[Job] = field(default_factory=list)
    events: list[TriggeredEvent] = field(default_factory=list)
    # Training jobs' slots, by job id.
    slots: dict[str, TrainingSlot] = field(default_factory=dict)


def job_id_for(transition: str, subscription_id: str) -> str:
    return str(uuid.uuid5(_JOB_ID_NAMESPACE, f"{transition}|{subscription_id}"))


def alias_transition(model_id: str, alias: str, entity_version: int) -> str:
    """What names one move of an alias: the alias and the ``entity_version`` the move gives it
    (a re-created alias goes on numbering, so no two moves share it)."""
    return f"{model_id}/@{alias}@{entity_version}"


def alias_move_source(
    model_id: str,
    alias: str,
    entity_version: int,
    version: str,
    previous_version: str | None,
    within: TriggerSource | None = None,
) -> TriggerSource:
    """The event of an alias moving from ``previous_version`` to ``version``: on its own a root of
    its own (a caller moved it), or ``within`` the change whose activation moved it, at that
    change's depth and under its root."""
    transition = alias_transition(model_id, alias, entity_version)
    return TriggerSource(
        model_id=model_id,
        event=job_events.ALIAS_SET,
        transition=transition,
        output=job_events.alias_output(model_id, alias, version, previous_version),
        depth=within.depth if within is not None else 1,
        version=version,
        job_id=within.job_id if within is not None else None,
        root_job_id=within.root_job_id if within is not None else root_of_transition(transition),
        alias=alias,
    )


def root_of_transition(transition: str) -> str:
    """The root id of a transition made by hand (no job): what its firings' budget is kept under."""
    return str(uuid.uuid5(_JOB_ID_NAMESPACE, f"root|{transition}"))


def training_slot(target: TargetState) -> TrainingSlot | str:
    """The version a training of ``target`` acts on: the newest when it can be trained now, else the
    next numbered version, cut for it; or why no version can be cut."""
    latest = target.model.latest_version
    if latest is not None and target.latest_status in TRAINABLE:
        return TrainingSlot(latest, cuts=False)
    number = str(target.next_number)
    if len(number) > MAX_VERSION_LENGTH:
        return f"model '{target.model.id}' has no version number left to cut"
    return TrainingSlot(number, cuts=True)


def budget_spent(limits: ChainLimits, root_job_id: str | None) -> str:
    return f"the chain's job budget of {limits.job_budget} jobs (root job '{root_job_id}') is spent: not fired"


def plan_firing(
    source: TriggerSource,
    subscriptions: list[Subscription],
    targets: dict[str, TargetState],
    now: datetime,
    limits: ChainLimits = DEFAULT_LIMITS,
    budget_left: int | None = None,
) -> FiringPlan:
    """Every active subscription of ``source.event`` in order; ``budget_left`` is what the root may
    still create (None: the whole budget). Subscriptions past the first
    ``MAX_ACTIVE_SUBSCRIPTIONS_PER_EVENT`` are reported, not fired. Two trainings of one target in
    one plan act on two versions: each sees the target as the one before left it."""
    return plan_firings([(source, subscriptions)], targets, now, limits, budget_left)


def plan_firings(
    firings: list[tuple[TriggerSource, list[Subscription]]],
    targets: dict[str, TargetState],
    now: datetime,
    limits: ChainLimits = DEFAULT_LIMITS,
    budget_left: int | None = None,
) -> FiringPlan:
    """The events of one change (an activation, and the alias move its promotion makes), planned
    in order as one: they share the root's budget, and each sees the targets as the one before
    left them."""
    plan = FiringPlan()
    left = limits.job_budget if budget_left is None else budget_left
    states = dict(targets)
    for source, subscriptions in firings:
        left = _plan_into(plan, source, subscriptions, states, now, limits, left)
    return plan


def _plan_into(
    plan: FiringPlan,
    source: TriggerSource,
    subscriptions: list[Subscription],
    states: dict[str, TargetState],
    now: datetime,
    limits: ChainLimits,
    left: int,
) -> int:
    """Adds what ``source`` fires to ``plan``; returns the budget left."""
    firing = 0
    for subscription in subscriptions:
        if not job_events.fires_on(subscription, source.event, source.alias):
            continue  # a paused or stale subscription, or another event's, is not reported
        firing += 1
        if firing > MAX_ACTIVE_SUBSCRIPTIONS_PER_EVENT:
            outcome: Fired | str = (
                f"only the first {MAX_ACTIVE_SUBSCRIPTIONS_PER_EVENT} active subscriptions of an event fire"
            )
        else:
            outcome = firing_of(source, subscription, states.get(subscription.target_model_id), now, limits, left)
        if isinstance(outcome, str):
            plan.events.append(TriggeredEvent(subscription_id=subscription.id, error=outcome))
            continue
        left -= 1
        plan.jobs.append(outcome.job)
        plan.events.append(TriggeredEvent(subscription_id=subscription.id, job_id=outcome.job.id))
        if outcome.slot is not None:
            plan.slots[outcome.job.id] = outcome.slot
            states[subscription.target_model_id] = states[subscription.target_model_id].after_training(outcome.slot)
    return left


def firing_of(
    source: TriggerSource,
    subscription: Subscription,
    target: TargetState | None,
    now: datetime,
    limits: ChainLimits = DEFAULT_LIMITS,
    budget_left: int | None = None,
) -> Fired | str:
    """The job ``subscription`` creates when ``source`` happens, or why it does not fire.

    A ``trigger_output`` subscription's job takes ``source.output`` as its input."""
    if subscription.status != "active":
        return f"the subscription is {subscription.status}: it does not fire"
    if target is None:
        return f"target model '{subscription.target_model_id}' no longer exists"
    if source.depth > limits.max_depth:
        return f"chain depth {source.depth} exceeds the limit of {limits.max_depth}: not fired"
    if (limits.job_budget if budget_left is None else budget_left) <= 0:
        return budget_spent(limits, source.root_job_id)
    slot: TrainingSlot | None = None
    if subscription.target_action == "inference":
        version = target.model.active_version
        if version is None:
            return f"model '{target.model.id}' has no active version to run inference on"
    else:
        decided = training_slot(target)
        if isinstance(decided, str):
            return decided
        slot, version = decided, decided.version
    job_input = subscription.input if subscription.input_source == "stored" else source.output
    job = Job(
        id=job_id_for(source.transition, subscription.id),
        model_id=target.model.id,
        workspace=target.model.workspace,
        version=version,
        action=subscription.target_action,
        status="queued",
        input=job_input or {},
        handler=getattr(target.model.handlers, subscription.target_action),
        max_attempts=subscription.retry.max_attempts if subscription.retry else DEFAULT_SUBSCRIPTION_ATTEMPTS,
        backoff_seconds=subscription.retry.backoff_seconds if subscription.retry else DEFAULT_BACKOFF_SECONDS,
        trigger=JobTrigger(
            subscription_id=subscription.id,
            source_model_id=source.model_id,
            source_version=source.version,
            source_job_id=source.job_id,
            depth=source.depth,
            root_job_id=source.root_job_id,
        ),
        created_at=now,
        updated_at=now,
    )
    return Fired(job, slot)


def next_source(job: Job, output: dict[str, Any] | None) -> TriggerSource:
    """The event a succeeded ``job`` is the source of: one link deeper, under the same root."""
    root = job.trigger.root_job_id if job.trigger is not None and job.trigger.root_job_id else job.id
    return TriggerSource(
        model_id=job.model_id,
        event=job_events.produced_by(job.action),
        transition=f"job:{job.id}",
        output=output or {},
        depth=(job.trigger.depth if job.trigger else 0) + 1,
        version=job.version,
        job_id=job.id,
        root_job_id=root,
    )

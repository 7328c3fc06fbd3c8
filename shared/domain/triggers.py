"""Firing event subscriptions: which jobs a completed training or inference creates.

Planning is pure: given the source event, the source model's subscriptions and their target models,
it returns the jobs to queue and one ``TriggeredEvent`` per active subscription of that event. Job
ids are derived from the transition and the subscription, so however often the same transition is
retried or its stream record redelivered, a subscription can only ever produce the same job.

``firing_of`` is the one decision of whether and how a subscription fires, and with what message
when it does not: the firing asks it for each subscription of the event, the dry run for one.
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
_JOB_ID_NAMESPACE = uuid.UUID("5b0f7f3e-6c1e-4b8e-9a53-2f2b1c7d9e10")


@dataclass(frozen=True)
class TriggerSource:
    """What happened: ``event`` on ``model_id``, by a version transition or a completed job."""

    model_id: str
    event: str
    transition: str
    output: dict[str, Any]
    depth: int = 1
    version: str | None = None
    job_id: str | None = None


@dataclass(frozen=True)
class FiringPlan:
    jobs: list[Job] = field(default_factory=list)
    events: list[TriggeredEvent] = field(default_factory=list)


def job_id_for(transition: str, subscription_id: str) -> str:
    return str(uuid.uuid5(_JOB_ID_NAMESPACE, f"{transition}|{subscription_id}"))


def plan_firing(
    source: TriggerSource,
    subscriptions: list[Subscription],
    targets: dict[str, Model],
    now: datetime,
    max_depth: int = DEFAULT_MAX_CHAIN_DEPTH,
) -> FiringPlan:
    plan = FiringPlan()
    for subscription in subscriptions:
        if not job_events.fires_on(subscription, source.event):
            continue  # a paused or stale subscription, or another event's, is not reported
        outcome = firing_of(source, subscription, targets.get(subscription.target_model_id), now, max_depth)
        if isinstance(outcome, Job):
            plan.jobs.append(outcome)
            plan.events.append(TriggeredEvent(subscription_id=subscription.id, job_id=outcome.id))
        else:
            plan.events.append(TriggeredEvent(subscription_id=subscription.id, error=outcome))
    return plan


def firing_of(
    source: TriggerSource, subscription: Subscription, target: Model | None, now: datetime, max_depth: int
) -> Job | str:
    """The job ``subscription`` creates when ``source`` happens, or why it does not fire.

    A ``trigger_output`` subscription's job takes ``source.output`` as its input."""
    if subscription.status != "active":
        return f"the subscription is {subscription.status}: it does not fire"
    if target is None:
        return f"target model '{subscription.target_model_id}' no longer exists"
    if source.depth > max_depth:
        return f"chain depth {source.depth} exceeds the limit of {max_depth}: not fired"
    version = _version_to_act_on(target, subscription.target_action)
    if version is None:
        return f"model '{target.id}' has no active version to run inference on"
    job_input = subscription.input if subscription.input_source == "stored" else source.output
    return Job(
        id=job_id_for(source.transition, subscription.id),
        model_id=target.id,
        workspace=target.workspace,
        version=version,
        action=subscription.target_action,
        status="queued",
        input=job_input or {},
        handler=getattr(target.handlers, subscription.target_action),
        max_attempts=subscription.retry.max_attempts if subscription.retry else DEFAULT_SUBSCRIPTION_ATTEMPTS,
        backoff_seconds=subscription.retry.backoff_seconds if subscription.retry else DEFAULT_BACKOFF_SECONDS,
        trigger=JobTrigger(
            subscription_id=subscription.id,
            source_model_id=source.model_id,
            source_version=source.version,
            source_job_id=source.job_id,
            depth=source.depth,
        ),
        created_at=now,
        updated_at=now,
    )


def _version_to_act_on(target: Model, action: str) -> str | None:
    """Inference runs the active version; training trains the newest version."""
    if action == "inference":
        return target.active_version
    return target.latest_version

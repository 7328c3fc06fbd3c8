"""Moving a version through its lifecycle (seed 000), and firing what a transition triggers.

A transition that fires an event (training→active fires ``training_complete``, as the job-event
table says) fires the source model's active subscriptions of that event: the version's update, the
model's and one job per fired subscription commit in one transaction (the outbox), conditional on
the version's status and ``entity_version`` as read. Of concurrent identical transitions exactly one
commits; the others re-read, find the status already set and answer the no-op.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from shared.data.entities import ModelRecord
from shared.data.errors import StaleEntityError
from shared.data.items import MAX_DOCUMENT_BYTES
from shared.data.save import RETRY, Retry, retry_on_stale
from shared.domain import job_events
from shared.domain.access import Access
from shared.domain.entities import LATEST, Model, StatusChange, Version
from shared.domain.errors import ConcurrentUpdateError, EntityVersionMismatchError, VersionNotFoundError
from shared.domain.lifecycle import bounded_history, check_transition
from shared.domain.responses import StatusChangeResponse
from shared.domain.triggers import DEFAULT_MAX_CHAIN_DEPTH, FiringPlan, TriggerSource, plan_firing
from shared.services.ports import Clock, ModelReader, Outbox, SubscriptionsOfSource


def moved_version(
    version: Version,
    status: str,
    message: str | None,
    actor: str,
    now: datetime,
    training_job_id: str | None = None,
) -> Version:
    """The version after a move; ``training_job_id`` binds a version going ``training`` to the job
    training it, and every other move (by a job's completion or by hand) unbinds it. Its status
    history keeps what fits (``bounded_history``), so a version can always move."""
    change = StatusChange(status=status, status_message=message, at=now, by=actor)
    moved = version.model_copy(
        update={
            "status": status,
            "status_message": message,
            "status_history": [*version.status_history, change],
            "training_job_id": training_job_id,
            "entity_version": version.entity_version + 1,
            "updated_at": now,
        }
    )
    return bounded_history(moved, MAX_DOCUMENT_BYTES)


def model_after(record: ModelRecord, before: Version, after: Version, now: datetime) -> ModelRecord | None:
    """The model as a version's transition leaves it, or None when it does not change.

    Activating a version makes it the model's active version. Withdrawing one (active → failed)
    falls back to the most recently activated version that is still active; with none left, the
    model has no active version and returns to ``pending``.
    """
    order = [v for v in record.activation_order if v != after.version]
    if after.status == "active":
        order.append(after.version)
    elif before.status != "active":
        return None
    active = order[-1] if order else None
    model: Model = record.model.model_copy(
        update={
            "status": "active" if active else "pending",
            "active_version": active,
            "entity_version": record.model.entity_version + 1,
            "updated_at": now,
        }
    )
    return replace(record, model=model, activation_order=tuple(order))


class Firing:
    """Plans the jobs an event on a model fires, from its subscriptions and their targets."""

    def __init__(
        self, registry: ModelReader, subscriptions: SubscriptionsOfSource, max_depth: int = DEFAULT_MAX_CHAIN_DEPTH
    ) -> None:
        self._registry = registry
        self._subscriptions = subscriptions
        self._max_depth = max_depth

    def plan(self, source_model: Model, trigger: TriggerSource, now: datetime) -> FiringPlan:
        subscriptions = [
            s for s in self._subscriptions.list_of_source(source_model.id) if job_events.fires_on(s, trigger.event)
        ]
        if not subscriptions:
            return FiringPlan()
        targets = self._registry.get_models({s.target_model_id for s in subscriptions} - {source_model.id})
        targets[source_model.id] = source_model  # a model subscribed to itself sees its new state
        return plan_firing(trigger, subscriptions, targets, now, self._max_depth)


class VersionLifecycle:
    def __init__(
        self,
        registry: ModelReader,
        firing: Firing,
        outbox: Outbox,
        clock: Clock,
    ) -> None:
        self._registry = registry
        self._firing = firing
        self._outbox = outbox
        self._clock = clock

    def set_status(
        self,
        model_id: str,
        version_ref: str,
        status: str,
        status_message: str | None,
        actor: str,
        access: Access,
        if_match: int | None = None,
    ) -> StatusChangeResponse:
        read_version = version_ref  # as the last attempt resolved it ("latest" names a version)

        def attempt() -> StatusChangeResponse:
            nonlocal read_version
            record, version = self.read(model_id, version_ref)
            read_version = version.version
            access.require_write(record.model.workspace, model_id)
            if if_match is not None and if_match != version.entity_version:
                raise EntityVersionMismatchError("version", if_match, version.entity_version)
            if not check_transition(version.status, status):
                return StatusChangeResponse(model=record.model, version=version, triggered_events=[])
            now = self._clock()
            moved = moved_version(version, status, status_message, actor, now)
            new_record = model_after(record, version, moved, now)
            change = f"{model_id}/{version.version}@{moved.entity_version}"
            plan = FiringPlan()
            event = job_events.fired_by_transition(version.status, status)
            if event is not None:
                assert new_record is not None  # activation always changes the model
                trigger = TriggerSource(
                    model_id=model_id,
                    event=event,
                    transition=change,
                    output=job_events.transition_output(model_id, version.version, version.metadata),
                    depth=1,
                    version=version.version,
                )
                plan = self._firing.plan(new_record.model, trigger, now)
            guarded = [self._outbox.version_update(moved, version)]
            if new_record is not None:
                guarded.append(self._outbox.model_put(new_record, record.model.entity_version))
            self._outbox.commit(guarded, plan.jobs, model_id, change)
            model = new_record.model if new_record else record.model
            return StatusChangeResponse(model=model, version=moved, triggered_events=plan.events)

        def on_stale(stale: StaleEntityError) -> Retry:
            if stale.entity == "version" and stale.current is None:
                raise VersionNotFoundError(model_id, read_version)
            if if_match is not None and stale.entity == "version":
                raise EntityVersionMismatchError("version", if_match, stale.current or 0)
            return RETRY

        return retry_on_stale(
            attempt, ConcurrentUpdateError(f"version '{version_ref}' of model '{model_id}'"), on_stale
        )

    def read(self, model_id: str, version_ref: str) -> tuple[ModelRecord, Version]:
        if version_ref == LATEST:
            record = self._registry.get_model(model_id)
            assert record.model.latest_version is not None  # every model is created with "1"
            return record, self._registry.get_version(model_id, record.model.latest_version)
        return self._registry.get_model_and_version(model_id, version_ref)

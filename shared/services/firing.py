"""Firing: the jobs an event on a model fires, and the versions their trainings act on.

The decision is the domain's (``shared.domain.triggers``); this reads what it needs — the source's
active subscriptions of the event, their targets with their newest versions, what the root's tree
has spent of its job budget — and turns the plan into guarded writes for the change's transaction
(the outbox): each triggered training binds the target's newest version or cuts the next one, in the
same transaction as its job, and the budget is spent there too.

A change whose writes would not fit one transaction keeps its jobs whole (the outbox carries the
overflow in fan-out items) and leaves each training's version to its claim: the dispatcher binds or
cuts it then, in the job's own transaction, with the same rule (``JobService.claim``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from dataclasses import replace as evolved
from datetime import datetime

from shared.data.items import TRANSACTION_ITEM_LIMIT
from shared.domain import job_events
from shared.domain.entities import Job, Lineage, Subscription, Version
from shared.domain.records import ModelRecord
from shared.domain.triggers import (
    DEFAULT_LIMITS,
    ChainLimits,
    FiringPlan,
    TargetState,
    TrainingSlot,
    TriggerSource,
    plan_firings,
)
from shared.domain.versions import CHAIN_ACTOR, cut_version, moved_version
from shared.services.ports import ChainBudgetBook, ModelReader, Outbox, SubscriptionsOfSource

Guarded = object  # what the outbox's write builders return; opaque here


@dataclass
class ChainChange:
    """What a firing adds to the change that fires it: the plan, the writes that bind or cut its
    trainings' versions and spend the budget, and the source model's record when versions were
    cut on it (the change writes that one record instead of its own)."""

    plan: FiringPlan = field(default_factory=FiringPlan)
    writes: list = field(default_factory=list)
    source_record: ModelRecord | None = None


def target_state(record: ModelRecord, latest: Version | None) -> TargetState:
    return TargetState(
        model=record.model,
        latest_status=latest.status if latest is not None else None,
        next_number=record.highest_numeric_version + 1,
    )


def lineage_of(job: Job) -> Lineage:
    return Lineage(job_id=job.id, trigger=job.trigger)


class VersionSlots:
    """Builds the writes that give trainings their versions, over a set of model records it keeps
    current, so several cuts on one model make one model write."""

    def __init__(self, outbox: Outbox, now: datetime) -> None:
        self._outbox = outbox
        self._now = now
        self.records: dict[str, tuple[ModelRecord, int]] = {}  # model id → (record now, entity_version read)
        self.cut: set[str] = set()  # models with versions cut
        self.writes: list = []

    def know(self, record: ModelRecord, read_entity_version: int) -> None:
        self.records.setdefault(record.model.id, (record, read_entity_version))

    def give(self, job: Job, slot: TrainingSlot, latest: Version | None) -> Version:
        """The writes for ``job`` to train ``slot``: bind ``latest`` (its target's newest version)
        or cut the next version; returns the version as it will be stored."""
        lineage = lineage_of(job)
        message = f"training job {job.id}"
        if not slot.cuts:
            assert latest is not None and latest.version == slot.version
            bound = moved_version(latest, "training", message, CHAIN_ACTOR, self._now, job.id, lineage)
            self.writes.append(self._outbox.version_update(bound, latest))
            return bound
        record, read = self.records[job.model_id]
        number = int(slot.version)
        model = record.model.model_copy(
            update={"latest_version": slot.version, "entity_version": read + 1, "updated_at": self._now}
        )
        record = evolved(
            record,
            model=model,
            version_sequence=record.version_sequence + 1,
            highest_numeric_version=max(record.highest_numeric_version, number),
        )
        self.records[job.model_id] = (record, read)
        self.cut.add(job.model_id)
        pending = cut_version(model, slot.version, "", {}, CHAIN_ACTOR, self._now)
        cut = moved_version(pending, "training", message, CHAIN_ACTOR, self._now, job.id, lineage)
        cut = cut.model_copy(update={"entity_version": 1})
        self.writes.append(self._outbox.version_create(cut, record.version_sequence))
        return cut

    def changed_records(self) -> dict[str, tuple[ModelRecord, int]]:
        """The records of the models that had versions cut, with their entity_versions as read."""
        return {model_id: self.records[model_id] for model_id in self.cut}


class ChainView:
    """Reads what a firing decides on: subscriptions, targets with their newest versions, budgets."""

    def __init__(
        self,
        registry: ModelReader,
        subscriptions: SubscriptionsOfSource,
        budgets: ChainBudgetBook,
        limits: ChainLimits = DEFAULT_LIMITS,
    ) -> None:
        self.registry = registry
        self.subscriptions = subscriptions
        self.budgets = budgets
        self.limits = limits

    def firing_subscriptions(self, model_id: str, event: str, alias: str | None = None) -> list[Subscription]:
        return [s for s in self.subscriptions.active_of_source(model_id, event) if job_events.fires_on(s, event, alias)]

    def targets(
        self,
        subscriptions: list[Subscription],
        known: dict[str, ModelRecord],
        source_version: Version | None = None,
    ) -> tuple[dict[str, ModelRecord], dict[str, Version], dict[str, TargetState]]:
        """The subscriptions' target models (``known`` ones as given), the newest versions of those
        they train, and what the firing decision knows of each."""
        records = self.registry.get_model_records({s.target_model_id for s in subscriptions} - set(known))
        records.update({i: r for i, r in known.items() if i in {s.target_model_id for s in subscriptions}})
        trained = {s.target_model_id for s in subscriptions if s.target_action == "training"} & set(records)
        latest = self._latest_versions([records[i] for i in trained], source_version)
        states = {i: target_state(r, latest.get(i)) for i, r in records.items()}
        return records, latest, states

    def budget_left(self, root_job_id: str | None, depth: int = 2) -> int:
        """What the root may still cause. A root's own firing (depth 1) is its first, so its count is
        not read: the spend's condition still holds the budget if that were ever not so."""
        used = self.budgets.used(root_job_id) if root_job_id and depth > 1 else 0
        return self.limits.job_budget - used

    def _latest_versions(self, records: list[ModelRecord], source_version: Version | None) -> dict[str, Version]:
        """The newest version of each model, as read now (the source's as the change leaves it)."""
        wanted = set()
        found: dict[str, Version] = {}
        for record in records:
            latest = record.model.latest_version
            if latest is None:
                continue
            if source_version is not None and (source_version.model_id, source_version.version) == (
                record.model.id,
                latest,
            ):
                found[record.model.id] = source_version
            else:
                wanted.add((record.model.id, latest))
        for (model_id, _), version in self.registry.get_versions(wanted).items():
            found[model_id] = version
        return found


class Firing:
    """Plans what an event on a model fires, and the writes that go with it."""

    def __init__(self, view: ChainView, outbox: Outbox) -> None:
        self.view = view
        self._outbox = outbox

    def plan(
        self,
        source: ModelRecord,
        source_read_version: int,
        triggers: TriggerSource | list[TriggerSource],
        now: datetime,
        source_version: Version | None = None,
        room: int = TRANSACTION_ITEM_LIMIT - 2,
    ) -> ChainChange:
        """``source`` is the source model's record as the change leaves it (``source_read_version``
        its entity_version as read), ``source_version`` the source version as the change leaves it;
        ``room`` is what the change leaves of one transaction. Several ``triggers`` are the events
        of one change on the source (an activation and the alias move its promotion makes): one
        root, planned in order as one."""
        view = self.view
        triggers = [triggers] if isinstance(triggers, TriggerSource) else triggers
        trigger = triggers[0]
        assert all(t.root_job_id == trigger.root_job_id and t.depth == trigger.depth for t in triggers)
        firings = [(t, view.firing_subscriptions(source.model.id, t.event, t.alias)) for t in triggers]
        subscriptions = [subscription for _, firing in firings for subscription in firing]
        if not subscriptions:
            return ChainChange()
        records, latest, states = view.targets(subscriptions, {source.model.id: source}, source_version)
        budget_left = view.budget_left(trigger.root_job_id, trigger.depth)
        plan = plan_firings(firings, states, now, view.limits, budget_left)
        change = ChainChange(plan=plan)
        if not plan.jobs:
            return change
        if trigger.root_job_id:
            change.writes.append(view.budgets.spend(trigger.root_job_id, len(plan.jobs), view.limits.job_budget, now))
        slots = VersionSlots(self._outbox, now)
        for model_id, record in records.items():
            slots.know(record, source_read_version if model_id == source.model.id else record.model.entity_version)
        jobs = {job.id: job for job in plan.jobs}
        for job_id, slot in plan.slots.items():
            slots.give(jobs[job_id], slot, latest.get(jobs[job_id].model_id))
        changed = slots.changed_records()
        model_writes = [
            self._outbox.model_put(record, read)
            for model_id, (record, read) in changed.items()
            if model_id != source.model.id
        ]
        if len(change.writes) + len(slots.writes) + len(model_writes) + len(plan.jobs) > room:
            return change  # too many for one transaction: each training's claim gives it its version
        change.writes += slots.writes + model_writes
        if source.model.id in changed:
            change.source_record = changed[source.model.id][0]
        return change

"""Reading chains: a version's lineage, and the impact of an event before it happens.

Both only read. The impact tree asks the firing's own decision (``plan_firing``) at every level,
so what it says would fire is what the firing does on the state read now; between levels it
assumes each queued job succeeds (a training activates the version it trains), which is when the
next level fires. Each level reads the subscriptions of the models it reaches and their targets;
the tree is bounded by the job budget (nothing past it expands) and the depth limit, and a
subscription already on the path from the root is marked as a cycle and not expanded.
"""

from __future__ import annotations

from datetime import datetime

from shared.domain import aliases, job_events, job_rules
from shared.domain.access import Access
from shared.domain.entities import LATEST, JobTrigger, Subscription
from shared.domain.errors import EventAliasError, JobNotFoundError
from shared.domain.records import ModelRecord
from shared.domain.responses.chains import Impact, ImpactNode, ImpactResponse, LineageResponse, LineageStep
from shared.domain.triggers import TargetState, TriggerSource, firing_of, plan_firing
from shared.services.firing import ChainView
from shared.services.ports import Clock, JobReader

IMPACT_TRANSITION = "impact"
_Expansion = tuple[str, str, str | None, int, frozenset[str], list[ImpactNode]]


class ChainQueries:
    def __init__(self, view: ChainView, jobs: JobReader, clock: Clock) -> None:
        self._view = view
        self._registry = view.registry
        self._jobs = jobs
        self._clock = clock

    # Lineage ------------------------------------------------------------------------------------

    def lineage(self, model_id: str, version_ref: str, access: Access) -> LineageResponse:
        """The version, the job that trained it, and each upstream job back to the chain's root;
        at most the depth limit of links, and none in a workspace the caller may not read."""
        if version_ref == LATEST:
            record = self._registry.get_model(model_id)
            access.require_read(record.model.workspace, model_id)
            version = self._registry.get_version(model_id, record.model.latest_version or version_ref)
        else:
            record, version = self._registry.get_model_and_version(model_id, version_ref)
            access.require_read(record.model.workspace, model_id)
        if version.lineage is None:
            return LineageResponse(lineage=[])
        trigger = version.lineage.trigger
        steps = [
            LineageStep(model_id=model_id, version=version.version, job_id=version.lineage.job_id, **_fired_by(trigger))
        ]
        for _ in range(self._view.limits.max_depth):
            if trigger is None:
                break
            if trigger.source_job_id is None:  # a status set by hand: the root is that version
                steps.append(_step(trigger.source_model_id, trigger.source_version, None, None))
                break
            try:
                job = self._jobs.get(trigger.source_model_id, trigger.source_job_id)
            except JobNotFoundError:  # its model was deleted since: the link is all that is known
                steps.append(_step(trigger.source_model_id, trigger.source_version, trigger.source_job_id, None))
                break
            if not access.can_read(job.workspace):
                break
            steps.append(
                LineageStep(model_id=job.model_id, version=job.version, job_id=job.id, **_fired_by(job.trigger))
            )
            trigger = job.trigger
        return LineageResponse(lineage=steps)

    # Impact -------------------------------------------------------------------------------------

    def impact(self, model_id: str, event: str, access: Access, alias: str | None = None) -> ImpactResponse:
        """``alias``: for an alias event, the alias that moves (to another version: a move on
        which its subscriptions fire). A training the tree queues on a model with a promotion
        policy moves that alias when it succeeds: the alias's subscriptions fire then too."""
        if job_events.is_alias_event(event) != (alias is not None):
            raise EventAliasError(event, alias)
        view, now = self._view, self._clock()
        source = self._registry.get_model(model_id)
        access.require_read(source.model.workspace, model_id)
        records: dict[str, ModelRecord] = {model_id: source}
        states: dict[str, TargetState] = {}
        budget_left = view.limits.job_budget
        roots: list[ImpactNode] = []
        # Each pending expansion: (model, event, alias, depth, subscriptions on the path, where its nodes go).
        level: list[_Expansion] = [(model_id, event, alias, 1, frozenset(), roots)]
        total = 0
        while level:
            following: list[_Expansion] = []
            for source_id, source_event, moved_alias, depth, path, out in level:
                subscriptions = [
                    s
                    for s in view.subscriptions.list_of_source(source_id)
                    if s.trigger_event == source_event and s.alias == moved_alias
                ]
                if not subscriptions:
                    continue
                self._read_targets(subscriptions, records, states, access)
                trigger = TriggerSource(source_id, source_event, IMPACT_TRANSITION, {}, depth=depth, alias=moved_alias)
                firing = [s for s in subscriptions if job_events.fires_on(s, source_event, moved_alias)]
                plan = plan_firing(trigger, firing, states, now, view.limits, budget_left)
                budget_left -= len(plan.jobs)
                total += len(plan.jobs)
                jobs = {job.id: job for job in plan.jobs}
                outcomes = {event.subscription_id: event for event in plan.events}
                for subscription in subscriptions:
                    node = self._node(subscription, outcomes.get(subscription.id), jobs, plan.slots, trigger, states)
                    out.append(node)
                    if not node.would_fire:
                        continue
                    if subscription.id in path:
                        node.cycle = True
                        continue
                    job = jobs[outcomes[subscription.id].job_id]
                    if job_rules.moves_a_version(job):
                        states[job.model_id] = _trained(states[job.model_id], job.version, plan.slots[job.id].cuts)
                    produced = job_events.produced_by(job.action)
                    on_path = path | {subscription.id}
                    following.append((job.model_id, produced, None, depth + 1, on_path, node.children))
                    promoted = aliases.promoted_alias(states[job.model_id].model)
                    if job_rules.moves_a_version(job) and promoted is not None:
                        # Its activation moves the promoted alias to the version it trains (no alias
                        # points at a version being trained): the alias's subscriptions fire too.
                        following.append(
                            (job.model_id, job_events.ALIAS_SET, promoted, depth + 1, on_path, node.children)
                        )
            level = following
        impact = Impact(
            model_id=model_id,
            event=event,
            alias=alias,
            max_depth=view.limits.max_depth,
            job_budget=view.limits.job_budget,
            total_jobs=total,
            children=roots,
        )
        return ImpactResponse(impact=impact)

    def _read_targets(
        self,
        subscriptions: list[Subscription],
        records: dict[str, ModelRecord],
        states: dict[str, TargetState],
        access: Access,
    ) -> None:
        """Reads the targets not read yet; one hidden from the caller is left out (it is gone for them)."""
        unread = [s for s in subscriptions if s.target_model_id not in states]
        if not unread:
            return
        read, _, found = self._view.targets(unread, records)
        for target_id, record in read.items():
            records.setdefault(target_id, record)
            if target_id not in states and access.can_read(record.model.workspace):
                states[target_id] = found[target_id]

    @staticmethod
    def _node(subscription, outcome, jobs, slots, trigger, states) -> ImpactNode:
        if outcome is None:  # not active: the firing passes over it; say why as the dry run does
            reason = firing_of(trigger, subscription, states.get(subscription.target_model_id), datetime.min)
            error = reason if isinstance(reason, str) else None
            return _node(subscription, None, False, error)
        if outcome.error is not None:
            return _node(subscription, None, False, outcome.error)
        job = jobs[outcome.job_id]
        slot = slots.get(job.id)
        return _node(subscription, job.version, slot is not None and slot.cuts, None, would_fire=True)


def _node(
    subscription: Subscription, version: str | None, cuts: bool, error: str | None, would_fire: bool = False
) -> ImpactNode:
    return ImpactNode(
        subscription_id=subscription.id,
        target_model_id=subscription.target_model_id,
        action=subscription.target_action,
        version=version,
        cuts_version=cuts,
        would_fire=would_fire,
        error=error,
    )


def _trained(state: TargetState, version: str, cut: bool) -> TargetState:
    """The target once the training queued on ``version`` succeeded: that version newest and active."""
    model = state.model.model_copy(update={"latest_version": version, "active_version": version, "status": "active"})
    return TargetState(model, latest_status="active", next_number=state.next_number + 1 if cut else state.next_number)


def _fired_by(trigger: JobTrigger | None) -> dict[str, str | None]:
    return {"subscription_id": trigger.subscription_id if trigger is not None else None}


def _step(model_id: str, version: str | None, job_id: str | None, subscription_id: str | None) -> LineageStep:
    return LineageStep(model_id=model_id, version=version, job_id=job_id, subscription_id=subscription_id)

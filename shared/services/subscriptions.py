"""Event subscriptions (seed 003): chaining models, and keeping chains honest when models change.

Problems a caller may want to know about but that must not block them — a stored input that does
not match the target's contract, a trigger output that visibly cannot satisfy it, a cycle in the
trigger graph — are returned as ``warnings``, never as failures.
"""

from __future__ import annotations

from shared.data.errors import StaleEntityError
from shared.data.save import RETRY, Retry, retry_on_stale
from shared.domain import contracts, job_events
from shared.domain.access import Access
from shared.domain.entities import Model, Subscription
from shared.domain.errors import (
    ConcurrentUpdateError,
    EntityVersionMismatchError,
    ModelNotFoundError,
    SubscriptionInputError,
    SubscriptionNotFoundError,
    TargetModelUnknownError,
    TooManySubscriptionsError,
)
from shared.domain.requests import CreateSubscriptionRequest, UpdateSubscriptionRequest
from shared.domain.responses.chains import DryRunJob, DryRunResult, SubscriptionList
from shared.domain.triggers import (
    DEFAULT_LIMITS,
    MAX_ACTIVE_SUBSCRIPTIONS_PER_EVENT,
    ChainLimits,
    TriggerSource,
    firing_of,
    plan_firing,
)
from shared.services.firing import ChainView
from shared.services.ports import (
    AliasBook,
    ChainBudgetBook,
    Clock,
    IdGenerator,
    ModelReader,
    Subscriptions,
    random_id,
)

_CYCLE_SEARCH_LIMIT = 200


class SubscriptionService:
    def __init__(
        self,
        models: ModelReader,
        subscriptions: Subscriptions,
        clock: Clock,
        budgets: ChainBudgetBook,
        limits: ChainLimits = DEFAULT_LIMITS,
        new_id: IdGenerator = random_id,
        aliases: AliasBook | None = None,
    ) -> None:
        """``aliases`` tells the dry run of an alias event where the alias points now."""
        self._aliases = aliases
        self._new_id = new_id
        self._models = models
        self._subscriptions = subscriptions
        self._clock = clock
        self._limits = limits
        self._max_depth = limits.max_depth
        self._chain = ChainView(models, subscriptions, budgets, limits)

    def create(self, source_model_id: str, request: CreateSubscriptionRequest, access: Access) -> Subscription:
        """A subscription fires into its target: the caller must be able to write both models."""
        source, target = self._writable_source_and_target(source_model_id, request.target_model_id, access)
        now = self._clock()
        subscription = Subscription(
            id=self._new_id(),
            workspace=source.workspace,
            source_model_id=source.id,
            trigger_event=request.trigger_event,
            alias=request.alias,
            target_model_id=target.id,
            target_action=request.target_action,
            input_source=request.input_source,
            input=request.input if request.input_source == "stored" else None,
            label=request.label,
            retry=request.retry,
            status="active",
            created_at=now,
            updated_at=now,
        )
        warnings = self._contract_warnings(subscription, source, target)
        cycle = self._cycle_closed_by(subscription)
        if cycle:
            warnings.append(
                f"this subscription closes a cycle in the trigger graph: {' -> '.join(cycle)}; "
                f"chains deeper than {self._max_depth} are not fired"
            )
        subscription = subscription.model_copy(update={"warnings": warnings})
        self._check_room(subscription)
        self._subscriptions.put_new(subscription)
        return subscription

    def get(self, source_model_id: str, subscription_id: str, access: Access) -> Subscription:
        subscription = self._subscriptions.get(source_model_id, subscription_id)
        access.require_read(subscription.workspace, source_model_id)
        return subscription

    def list(self, source_model_id: str, limit: int, page_token: str | None, access: Access) -> SubscriptionList:
        if not access.reads_everything:
            source = self._models.get_model(source_model_id).model
            access.require_read(source.workspace, source_model_id)
        page = self._subscriptions.list_page(source_model_id, limit, page_token)
        if not page.items and page_token is None:
            self._models.get_model(source_model_id)  # 404 for a model that does not exist
        return SubscriptionList(subscriptions=page.items, next_token=page.next_token)

    def update(
        self,
        source_model_id: str,
        subscription_id: str,
        request: UpdateSubscriptionRequest,
        access: Access,
        if_match: int | None = None,
    ) -> Subscription:
        """Seed 003. Re-activating (or changing the input of) a subscription re-validates it.

        With ``if_match`` the write is conditional on that ``entity_version`` (a conflict is the
        caller's to see); without it a concurrent write is retried on fresh state."""

        def attempt() -> Subscription:
            current = self._subscriptions.get(source_model_id, subscription_id)
            access.require_write(current.workspace, source_model_id)
            if if_match is not None and if_match != current.entity_version:
                raise EntityVersionMismatchError("event subscription", if_match, current.entity_version)
            changes: dict = {}
            if "input" in request.model_fields_set:
                if current.input_source == "stored" and request.input is None:
                    raise SubscriptionInputError("input is required for a subscription whose input_source is 'stored'")
                if current.input_source == "trigger_output" and request.input is not None:
                    raise SubscriptionInputError("a trigger_output subscription takes its input from the trigger")
                changes["input"] = request.input
            if "label" in request.model_fields_set:
                changes["label"] = request.label
            if request.status is not None:
                changes["status"] = request.status
            updated = current.model_copy(
                update={**changes, "entity_version": current.entity_version + 1, "updated_at": self._clock()}
            )
            if "input" in changes or changes.get("status") == "active":
                updated = self._revalidated(updated, access)
            if current.status != "active" and updated.status == "active":
                self._check_room(updated)
            self._subscriptions.save(updated, current.entity_version)
            return updated

        def on_stale(stale: StaleEntityError) -> Retry:
            if stale.current is None:
                raise SubscriptionNotFoundError(source_model_id, subscription_id)
            if if_match is not None:
                raise EntityVersionMismatchError("event subscription", if_match, stale.current)
            return RETRY

        return retry_on_stale(attempt, ConcurrentUpdateError(f"event subscription '{subscription_id}'"), on_stale)

    def delete(self, source_model_id: str, subscription_id: str, access: Access, if_match: int | None = None) -> None:
        """With ``if_match`` the delete is conditional on that ``entity_version`` (409 otherwise)."""
        subscription = self._subscriptions.get(source_model_id, subscription_id)
        access.require_write(subscription.workspace, source_model_id)
        if if_match is None:
            self._subscriptions.delete(source_model_id, subscription_id)
            return
        try:
            self._subscriptions.delete(source_model_id, subscription_id, if_match)
        except StaleEntityError as stale:
            raise EntityVersionMismatchError("event subscription", if_match, stale.current or 0) from None

    def dry_run(
        self, source_model_id: str, subscription_id: str, trigger_output: dict | None, access: Access
    ) -> DryRunResult:
        """The job the subscription would create if its event happened now; writes nothing.
        Like every route under models:write, it needs write access to the source's workspace.

        The event is imagined as a root's first link (no chain above it, its whole job budget
        left) producing ``trigger_output``, or without one, what a transition of the source's
        newest version by hand would send (for an alias event, what a caller moving the alias to
        the newest version sends: a move by hand is a root of its own too); whether and how the subscription fires — on which
        version, cut or not — is then decided as the firing decides it (``plan_firing``), with
        the event's other active subscriptions beside it."""
        subscription = self._subscriptions.get(source_model_id, subscription_id)
        access.require_write(subscription.workspace, source_model_id)
        # The firing decides for every active subscription of the event at once (they share the
        # budget, and two trainings of one target take two versions): so does the dry run.
        siblings = [subscription]
        if job_events.fires_on(subscription, subscription.trigger_event, subscription.alias):
            siblings = self._chain.firing_subscriptions(source_model_id, subscription.trigger_event, subscription.alias)
            if all(s.id != subscription.id for s in siblings):
                siblings.append(subscription)
        records = self._models.get_model_records({source_model_id} | {s.target_model_id for s in siblings})
        if source_model_id not in records:
            raise ModelNotFoundError(source_model_id)
        source = records[source_model_id].model
        states = self._chain.targets(siblings, records)[2]
        target = states.get(subscription.target_model_id)
        if target is not None and not access.can_read(target.model.workspace):
            states.pop(subscription.target_model_id)  # hidden from the caller: it does not exist for them
        if trigger_output is None:
            trigger_output = self._imagined_output(subscription, source)
        event = TriggerSource(
            model_id=source.id,
            event=subscription.trigger_event,
            transition="dry-run",
            output=trigger_output,
            version=source.latest_version,
            alias=subscription.alias,
        )
        now = self._clock()
        plan = plan_firing(event, siblings, states, now, self._limits)
        decided = next((e for e in plan.events if e.subscription_id == subscription.id), None)
        if decided is None:  # not active: the firing passes over it; say why
            reason = firing_of(event, subscription, states.get(subscription.target_model_id), now, self._limits)
            error = reason if isinstance(reason, str) else None
            return DryRunResult(subscription_id=subscription.id, would_fire=False, job=None, error=error, warnings=[])
        if decided.error is not None:
            return DryRunResult(
                subscription_id=subscription.id, would_fire=False, job=None, error=decided.error, warnings=[]
            )
        fired = next(job for job in plan.jobs if job.id == decided.job_id)
        slot = plan.slots.get(fired.id)
        target_model = states[subscription.target_model_id].model
        warnings = [
            f"input does not match the target's {fired.action} input_schema: {reason}"
            for reason in contracts.schema_violations(fired.input, contracts.input_schema(target_model, fired.action))
        ]
        job = DryRunJob(
            model_id=fired.model_id,
            version=fired.version,
            cuts_version=slot is not None and slot.cuts,
            action=fired.action,
            input=fired.input,
            handler=fired.handler,
        )
        return DryRunResult(subscription_id=subscription.id, would_fire=True, job=job, error=None, warnings=warnings)

    def _imagined_output(self, subscription: Subscription, source: Model) -> dict:
        if subscription.alias is None:
            return job_events.transition_output(source.id, source.latest_version, {})
        current = self._aliases.find(source.id, subscription.alias) if self._aliases is not None else None
        return job_events.alias_output(
            source.id, subscription.alias, source.latest_version or "", current.version if current else None
        )

    # Staleness ----------------------------------------------------------------------------------

    def mark_stale_after_change(self, before: Model, after: Model) -> None:
        """A model's handlers or contracts changed: mark the subscriptions that no longer hold.

        Subscriptions targeting it go stale when its handlers change and it has no contracts; with
        contracts, only when the input schema of the subscribed action changes. Its own
        ``trigger_output`` subscriptions go stale when the output schema they forward changes.
        """
        contract_driven = before.handler_contracts is not None or after.handler_contracts is not None
        for subscription in self._subscriptions.list_by_target(after.id):
            if contract_driven:
                action = subscription.target_action
                changed = contracts.input_schema(before, action) != contracts.input_schema(after, action)
            else:
                changed = before.handlers != after.handlers
            if changed:
                self._mark_stale(subscription)
        for subscription in self._subscriptions.list_of_source(after.id):
            action = job_events.producing_action(subscription.trigger_event)
            if subscription.input_source != "trigger_output" or action is None:
                continue  # an alias move sends the same document whatever the model's contracts
            if contracts.output_schema(before, action) != contracts.output_schema(after, action):
                self._mark_stale(subscription)

    def mark_stale_targeting(self, model_id: str) -> None:
        """The model is gone: subscriptions of other models that target it go stale."""
        for subscription in self._subscriptions.list_by_target(model_id):
            if subscription.source_model_id != model_id:
                self._mark_stale(subscription)

    def _mark_stale(self, subscription: Subscription) -> None:
        known: Subscription | None = subscription  # as the caller read it; re-read after a lost write

        def attempt() -> None:
            nonlocal known
            current = (
                known if known is not None else self._subscriptions.get(subscription.source_model_id, subscription.id)
            )
            known = None
            if current.status != "stale":
                self._subscriptions.mark_stale(current, self._clock())

        def on_stale(stale: StaleEntityError) -> None | Retry:
            return None if stale.current is None else RETRY  # deleted meanwhile: nothing left to mark

        retry_on_stale(attempt, ConcurrentUpdateError(f"event subscription '{subscription.id}'"), on_stale)

    # Helpers ------------------------------------------------------------------------------------

    def _check_room(self, subscription: Subscription) -> None:
        """At most ``MAX_ACTIVE_SUBSCRIPTIONS_PER_EVENT`` active subscriptions of one source event
        (of an alias event, whichever aliases they follow)."""
        others = [
            s
            for s in self._subscriptions.active_of_source(subscription.source_model_id, subscription.trigger_event)
            if s.id != subscription.id
        ]
        if len(others) >= MAX_ACTIVE_SUBSCRIPTIONS_PER_EVENT:
            raise TooManySubscriptionsError(
                subscription.source_model_id, subscription.trigger_event, MAX_ACTIVE_SUBSCRIPTIONS_PER_EVENT
            )

    def _source_and_target(self, source_model_id: str, target_model_id: str) -> tuple[Model, Model | None]:
        """Both models in one round trip; the source must exist, the target may be gone."""
        found = self._models.get_models({source_model_id, target_model_id})
        if source_model_id not in found:
            raise ModelNotFoundError(source_model_id)
        return found[source_model_id], found.get(target_model_id)

    def _writable_source_and_target(
        self, source_model_id: str, target_model_id: str, access: Access
    ) -> tuple[Model, Model]:
        source, target = self._source_and_target(source_model_id, target_model_id)
        access.require_write(source.workspace, source.id)
        if target is None or not access.can_read(target.workspace):
            raise TargetModelUnknownError(target_model_id)
        access.require_write(target.workspace, target.id)
        return source, target

    def _revalidated(self, subscription: Subscription, access: Access) -> Subscription:
        """Re-activating a subscription, or changing what it sends, re-checks it as creating it does."""
        source, target = self._writable_source_and_target(
            subscription.source_model_id, subscription.target_model_id, access
        )
        return subscription.model_copy(update={"warnings": self._contract_warnings(subscription, source, target)})

    @staticmethod
    def _contract_warnings(subscription: Subscription, source: Model, target: Model) -> list[str]:
        expected = contracts.input_schema(target, subscription.target_action)
        if subscription.input_source == "stored":
            return [
                f"input does not match the target's {subscription.target_action} input_schema: {reason}"
                for reason in contracts.schema_violations(subscription.input or {}, expected)
            ]
        action = job_events.producing_action(subscription.trigger_event)
        produced = job_events.ALIAS_OUTPUT_SCHEMA if action is None else contracts.output_schema(source, action)
        return contracts.compatibility_warnings(produced, expected)

    def _cycle_closed_by(self, new: Subscription) -> list[str] | None:
        """The model path target → … → source that the new edge source → target would close."""
        if new.target_model_id == new.source_model_id:
            return [new.source_model_id, new.target_model_id]
        came_from: dict[str, str] = {new.target_model_id: ""}
        frontier = [new.target_model_id]
        while frontier and len(came_from) < _CYCLE_SEARCH_LIMIT:
            model_id = frontier.pop(0)
            for edge in self._subscriptions.list_of_source(model_id):
                if edge.target_model_id in came_from:
                    continue
                came_from[edge.target_model_id] = model_id
                if edge.target_model_id == new.source_model_id:
                    path = [new.source_model_id]
                    while path[-1] != new.target_model_id:
                        path.append(came_from[path[-1]])
                    return [new.source_model_id, *reversed(path)]
                frontier.append(edge.target_model_id)
        return None

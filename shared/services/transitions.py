"""Moving a version through its lifecycle (seed 000), and firing what a transition triggers.

A transition that fires an event (training→active fires ``training_complete``, as the job-event
table says) fires the source model's active subscriptions of that event — and when the promotion
policy moves its alias to the activated version, that alias's ``alias_set`` subscriptions too: the
version's update, the model's, the alias's and one job per fired subscription commit in one
transaction (the outbox), conditional on the version's status and ``entity_version`` as read. Of concurrent identical transitions exactly one
commits; the others re-read, find the status already set and answer the no-op.
"""

from __future__ import annotations

from shared.data.errors import StaleEntityError
from shared.data.items import TRANSACTION_ITEM_LIMIT
from shared.data.save import RETRY, Retry, retry_on_stale
from shared.domain import job_events
from shared.domain.access import Access
from shared.domain.entities import LATEST, Version
from shared.domain.errors import ConcurrentUpdateError, EntityVersionMismatchError, VersionNotFoundError
from shared.domain.lifecycle import check_transition
from shared.domain.records import ModelRecord
from shared.domain.responses.models import StatusChangeResponse
from shared.domain.triggers import TriggerSource, root_of_transition
from shared.domain.versions import model_after, moved_version
from shared.services.aliases import AliasEffect, AliasEffects
from shared.services.firing import ChainChange, Firing
from shared.services.ports import Clock, ModelReader, Outbox


class VersionLifecycle:
    def __init__(
        self,
        registry: ModelReader,
        firing: Firing,
        outbox: Outbox,
        clock: Clock,
        aliases: AliasEffects | None = None,
    ) -> None:
        self._registry = registry
        self._firing = firing
        self._outbox = outbox
        self._clock = clock
        self._aliases = aliases

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
            aliased = self._aliases.of_transition(record.model, version, moved, now) if self._aliases else AliasEffect()
            triggers: list[TriggerSource] = []
            event = job_events.fired_by_transition(version.status, status)
            if event is not None:
                triggers.append(
                    TriggerSource(
                        model_id=model_id,
                        event=event,
                        transition=change,
                        output=job_events.transition_output(model_id, version.version, version.metadata),
                        depth=1,
                        version=version.version,
                        root_job_id=root_of_transition(change),
                    )
                )
            alias_moved = aliased.source(within=triggers[0] if triggers else None)
            if alias_moved is not None:
                triggers.append(alias_moved)
            chain = ChainChange()
            if triggers:
                assert new_record is not None  # activation always changes the model
                room = TRANSACTION_ITEM_LIMIT - 2 - len(aliased.writes)  # the version, the model, the alias's
                chain = self._firing.plan(new_record, record.model.entity_version, triggers, now, moved, room=room)
            new_record = chain.source_record or new_record
            guarded = [self._outbox.version_update(moved, version), *chain.writes, *aliased.writes]
            if new_record is not None:
                guarded.append(self._outbox.model_put(new_record, record.model.entity_version))
            self._outbox.commit(guarded, chain.plan.jobs, model_id, change)
            model = new_record.model if new_record else record.model
            return StatusChangeResponse(model=model, version=moved, triggered_events=chain.plan.events)

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

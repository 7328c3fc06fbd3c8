"""Aliases: named pointers to active versions, moved with If-Match, with a history that answers
what an alias pointed at at any instant (``as_of``).

A move is one transaction: the alias, its history entry, a check that the version is still
active as read, and — when the alias moves to another version — the jobs of the ``alias_set``
subscriptions that follow it (the outbox, as a training's activation fires its subscriptions).
Protected aliases (``protected_aliases`` on the model) also need the ``models:promote`` scope to
move or delete.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from shared.data.errors import ItemExistsError, StaleEntityError
from shared.data.items import TRANSACTION_ITEM_LIMIT
from shared.data.save import RETRY, Retry, retry_on_stale
from shared.domain import aliases as rules
from shared.domain.access import Access
from shared.domain.entities import Alias, Model, TriggeredEvent, Version
from shared.domain.errors import (
    AliasedVersionError,
    AliasNotFoundError,
    AliasTargetNotActiveError,
    ConcurrentUpdateError,
    EntityVersionMismatchError,
    VersionNotFoundError,
)
from shared.domain.records import AliasChangeRecord, ModelRecord
from shared.domain.requests import SetAliasRequest, StartJobRequest
from shared.domain.responses.aliases import AliasHistory, AliasList, AliasResponse
from shared.domain.triggers import TriggerSource, alias_move_source, alias_transition
from shared.observability import logger
from shared.services.ports import AliasBook, Clock, ModelReader, Outbox

if TYPE_CHECKING:
    from shared.data.outbox import Guarded
    from shared.services.firing import Firing


class AliasService:
    def __init__(
        self,
        models: ModelReader,
        aliases: AliasBook,
        clock: Clock,
        firing: Callable[[], Firing],
        outbox: Callable[[], Outbox],
    ) -> None:
        """``firing`` and ``outbox`` are built when a move needs them: the routes that only
        resolve or read aliases never load them."""
        self._models = models
        self._aliases = aliases
        self._clock = clock
        self._firing = firing
        self._outbox = outbox

    # Reads --------------------------------------------------------------------------------------

    def get(self, model_id: str, name: str, access: Access, as_of: str | None = None) -> AliasResponse:
        if as_of is None:
            record, alias, _ = self._aliases.with_model(model_id, name)  # one round trip
            access.require_read(record.model.workspace, model_id)
            if alias is None:
                raise AliasNotFoundError(model_id, name)
            return AliasResponse(alias=alias)
        self._readable(model_id, access)
        instant = rules.parse_as_of(as_of)
        record = self._aliases.last_change(model_id, name, instant)
        alias = rules.as_it_stood(model_id, name, record.change, record.entity_version) if record else None
        if alias is None:
            raise AliasNotFoundError(model_id, name, as_of)
        return AliasResponse(alias=alias)

    def list(self, model_id: str, access: Access) -> AliasList:
        self._readable(model_id, access)
        return AliasList(aliases=self._aliases.list_of_model(model_id))

    def history(self, model_id: str, name: str, limit: int, page_token: str | None, access: Access) -> AliasHistory:
        self._readable(model_id, access)
        page = self._aliases.history_page(model_id, name, limit, page_token)
        if not page.items and page_token is None:
            raise AliasNotFoundError(model_id, name)
        return AliasHistory(history=[record.change for record in page.items], next_token=page.next_token)

    def resolve(self, model_id: str, reference: str) -> str:
        """The version a reference names: ``@name`` is the version alias ``name`` points at (404
        when there is no such alias); anything else is already a version (or ``latest``)."""
        name = rules.alias_in(reference)
        if name is None:
            return reference
        return self._aliases.get(model_id, name).version

    def resolved_request(self, model_id: str, request: StartJobRequest) -> StartJobRequest:
        """A job request with its ``@alias`` version resolved to the version the alias points at."""
        if request.version is None or rules.alias_in(request.version) is None:
            return request
        return request.model_copy(update={"version": self.resolve(model_id, request.version)})

    # Writes -------------------------------------------------------------------------------------

    def set(
        self,
        model_id: str,
        name: str,
        request: SetAliasRequest,
        actor: str,
        access: Access,
        if_match: int | None = None,
    ) -> AliasResponse:
        """Point the alias at an active version. With ``if_match`` the move is conditional on the
        alias's ``entity_version`` (a conflict is the caller's to see: 409); without it a lost
        write is decided again on fresh state. A move to another version fires the alias's
        ``alias_set`` subscriptions, as a root of its own, in the move's transaction."""
        rules.check_name(name)

        # A version named as such is read with the model and the alias, in one round trip; an
        # ``@alias`` or ``latest`` is resolved after (it needs what the first read answers).
        named = request.version if rules.alias_in(request.version) is None and request.version != "latest" else None

        def attempt() -> AliasResponse:
            record, current, version = self._aliases.with_model(model_id, name, named)
            self._check_writable(record, name, access)
            _check_if_match(model_id, name, if_match, current)
            if named is None:
                reference = self.resolve(model_id, request.version)
                if reference == "latest":
                    reference = record.model.latest_version or reference
                version = self._models.get_version(model_id, reference)
            elif version is None:
                raise VersionNotFoundError(model_id, named)
            target = _active(model_id, version)
            first = _next_entity_version(self._aliases, model_id, name) if current is None else 1
            now = self._clock()
            alias, change = rules.moved(
                current, record.model.id, name, target.version, request.reason, actor, now, first
            )
            guarded = self._aliases.move_writes(
                alias,
                current.entity_version if current is not None else None,
                AliasChangeRecord(model_id, name, change, alias.entity_version),
                record.model.workspace,
            )
            guarded.append(self._aliases.target_check(target, target.entity_version))
            jobs = []
            if rules.moves_to_another_version(change):
                source = alias_move_source(model_id, name, alias.entity_version, alias.version, change.previous_version)
                room = TRANSACTION_ITEM_LIMIT - len(guarded) - 1  # the move's writes, and the model's if cut on
                chain = self._firing().plan(record, record.model.entity_version, source, now, room=room)
                guarded += chain.writes
                if chain.source_record is not None:
                    guarded.append(self._outbox().model_put(chain.source_record, record.model.entity_version))
                jobs = chain.plan.jobs
                _warn_not_fired(source, chain.plan.events)
            self._outbox().commit(guarded, jobs, model_id, alias_transition(model_id, name, alias.entity_version))
            return AliasResponse(alias=alias)

        return self._retrying(attempt, model_id, name, if_match)

    def delete(self, model_id: str, name: str, actor: str, access: Access, if_match: int | None = None) -> None:
        """Delete the alias, recording the delete in its history (``as_of`` after it is a 404)."""

        def attempt() -> None:
            record, current, _ = self._aliases.with_model(model_id, name)  # one round trip
            self._check_writable(record, name, access)
            if current is None:
                raise AliasNotFoundError(model_id, name)
            model = record.model
            _check_if_match(model_id, name, if_match, current)
            change = rules.deleted(current, actor, self._clock())
            record = AliasChangeRecord(model_id, name, change, current.entity_version + 1)
            self._aliases.delete(current, record, model.workspace)

        self._retrying(attempt, model_id, name, if_match)

    # Helpers ------------------------------------------------------------------------------------

    def _retrying(self, attempt, model_id: str, name: str, if_match: int | None):  # type: ignore[no-untyped-def]
        def on_stale(stale: StaleEntityError) -> Retry:
            if stale.entity == "alias":
                if stale.current is None and if_match is None:
                    return RETRY  # deleted meanwhile: decide again
                if if_match is not None:
                    raise EntityVersionMismatchError(f"alias '{name}'", if_match, stale.current or 0)
            return RETRY  # the version moved meanwhile: decide again on fresh state

        def run():  # type: ignore[no-untyped-def]
            try:
                return attempt()
            except ItemExistsError:
                # Another request created the alias (or an entry at the same instant) meanwhile.
                if if_match is not None:
                    raise EntityVersionMismatchError(f"alias '{name}'", if_match, 1) from None
                raise StaleEntityError(None, "alias") from None

        return retry_on_stale(run, ConcurrentUpdateError(f"alias '{name}' of model '{model_id}'"), on_stale)

    def _readable(self, model_id: str, access: Access) -> Model:
        model = self._models.get_model(model_id).model
        access.require_read(model.workspace, model_id)
        return model

    @staticmethod
    def _check_writable(record: ModelRecord, name: str, access: Access) -> None:
        access.require_write(record.model.workspace, record.model.id)
        if rules.is_protected(record.model, name):
            access.require_promote(f"alias '{name}' is protected")


def _active(model_id: str, version: Version) -> Version:
    if version.status != "active":
        raise AliasTargetNotActiveError(model_id, version.version, version.status)
    return version


def _next_entity_version(aliases: AliasBook, model_id: str, name: str) -> int:
    """A re-created alias continues its history's numbering, so its entries stay in order."""
    last = aliases.last_change(model_id, name)
    return last.entity_version + 1 if last is not None else 1


def _check_if_match(model_id: str, name: str, if_match: int | None, current: Alias | None) -> None:
    if if_match is None:
        return
    if current is None:
        raise EntityVersionMismatchError(f"alias '{name}' of model '{model_id}'", if_match, 0)
    if if_match != current.entity_version:
        raise EntityVersionMismatchError(f"alias '{name}' of model '{model_id}'", if_match, current.entity_version)


def _warn_not_fired(source: TriggerSource, events: list[TriggeredEvent]) -> None:
    """Nobody reads what an alias move fired: subscriptions it could not fire are logged."""
    for event in events:
        if event.error is not None:
            logger.warning(
                "subscription not fired",
                extra={
                    "model_id": source.model_id,
                    "alias": source.alias,
                    "subscription_id": event.subscription_id,
                    "reason": event.error,
                },
            )


@dataclass
class AliasEffect:
    """What a transition does to its model's aliases: the writes for its transaction, and the
    alias the promotion policy moved (with where it pointed before), whose move fires too."""

    writes: list[Guarded] = field(default_factory=list)
    moved: Alias | None = None
    previous_version: str | None = None

    def source(self, within: TriggerSource | None) -> TriggerSource | None:
        """The alias move as an event of the change ``within`` (None when nothing moved)."""
        if self.moved is None:
            return None
        alias = self.moved
        return alias_move_source(
            alias.model_id, alias.name, alias.entity_version, alias.version, self.previous_version, within
        )


class AliasEffects:
    """What a version's transition does to its model's aliases, as writes of the transition's own
    transaction: the promotion policy moves its alias to a version that becomes active, and a
    version an alias points at cannot be withdrawn (409 naming the alias: move it first).

    Activation is the authorised act: a caller allowed to activate the version moves the policy's
    alias, even a protected one, without ``models:promote`` (declaring a promotion onto a protected
    alias needed that scope; see docs/decisions.md)."""

    def __init__(self, aliases: AliasBook) -> None:
        self._aliases = aliases

    def of_transition(self, model: Model, before: Version, after: Version, now: datetime) -> AliasEffect:
        if before.status == "active" and after.status != "active":
            # The count first, then the aliases: a move that commits after this read makes the
            # withdrawal's check fail, and it decides again (shared.data.aliases).
            moves = self._aliases.moves_counted(model.id)
            pointing = [
                alias.name for alias in self._aliases.list_of_model(model.id) if alias.version == before.version
            ]
            if pointing:
                raise AliasedVersionError(model.id, before.version, sorted(pointing))
            return AliasEffect(writes=[self._aliases.unmoved_since(model.id, moves)])
        name = rules.promoted_alias(model)
        if name is None or after.status != "active" or before.status == "active":
            return AliasEffect()
        current = self._aliases.find(model.id, name)
        if current is not None and current.version == after.version:
            return AliasEffect()  # already there: a move to where it is is no move
        first = _next_entity_version(self._aliases, model.id, name) if current is None else 1
        alias, change = rules.moved(
            current, model.id, name, after.version, rules.PROMOTION_REASON, rules.PROMOTION_ACTOR, now, first
        )
        writes = self._aliases.move_writes(
            alias,
            current.entity_version if current is not None else None,
            AliasChangeRecord(model.id, name, change, alias.entity_version),
            model.workspace,
        )
        return AliasEffect(writes=writes, moved=alias, previous_version=change.previous_version)

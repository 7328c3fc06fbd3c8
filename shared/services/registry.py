"""The model registry: models and versions (seeds 001 and 002).

Every change is read, decided here, then written conditionally on the ``entity_version`` that was
read. A write that loses to a concurrent one is retried on fresh state, unless the caller pinned
the state with ``If-Match``, in which case the conflict is theirs to see (409).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from shared.data.errors import ItemExistsError, StaleEntityError
from shared.data.save import RETRY, Retry, retry_on_stale
from shared.domain import aliases, events
from shared.domain.access import Access
from shared.domain.entities import LATEST, Model, Version
from shared.domain.errors import (
    ConcurrentUpdateError,
    EntityVersionMismatchError,
    ModelAlreadyExistsError,
    ModelNotFoundError,
    VersionAlreadyExistsError,
    VersionNotFoundError,
    VersionNumbersExhaustedError,
    WorkspaceImmutableError,
)
from shared.domain.records import ModelRecord, Page
from shared.domain.responses.encoded import Encoded, Json
from shared.domain.responses.models import ModelList, ModelResponse, ModelVersionResponse, VersionList
from shared.domain.versions import cut_version
from shared.services.ports import Clock, ModelStore, StalenessMarker

# Annotations only: the write routes that take these import them, so a read route does not load
# the request models or the handler allow-list at cold start.
if TYPE_CHECKING:
    from shared.domain.requests import CreateModelRequest, CreateVersionRequest, UpdateModelRequest
    from shared.services.handler_policy import HandlerPolicy

FIRST_VERSION = "1"
MAX_VERSION_LENGTH = 64


def utc_now() -> datetime:
    return datetime.now(UTC)


def _numeric(version: str) -> int | None:
    return int(version) if version.isdigit() else None


class ModelRegistry:
    def __init__(
        self,
        store: ModelStore,
        policy: HandlerPolicy,
        staleness: StalenessMarker,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._policy = policy
        self._staleness = staleness
        self._clock = clock

    # Models -------------------------------------------------------------------------------------

    def create_model(self, request: CreateModelRequest, actor: str, access: Access) -> ModelVersionResponse:
        workspace = access.workspace_for_new_model(request.workspace)
        self._policy.check(request.handlers)
        now = self._clock()
        model = Model(
            id=request.id,
            workspace=workspace,
            name=request.name,
            description=request.description,
            handlers=request.handlers,
            handler_contracts=request.handler_contracts,
            metadata=request.metadata,
            tags=request.tags,
            protected_aliases=request.protected_aliases,
            promotion=request.promotion,
            status="pending",
            latest_version=FIRST_VERSION,
            active_version=None,
            entity_version=1,
            created_at=now,
            updated_at=now,
            created_by=actor,
        )
        _check_protection(None, model, access)
        version = cut_version(model, FIRST_VERSION, "", {}, actor, now)
        try:
            self._store.create_model(ModelRecord(model, version_sequence=1, highest_numeric_version=1), version)
        except ItemExistsError:
            raise ModelAlreadyExistsError(model.id) from None
        return ModelVersionResponse(version=version, model=model)

    def get_model(self, model_id: str, access: Access) -> Encoded[ModelResponse]:
        """The model as stored: its document is answered without being decoded and encoded again."""
        document = self._store.get_model_document(model_id)
        access.require_read(document.workspace, model_id)
        return Encoded(ModelResponse, etag=document.entity_version, model=Json(document.text))

    def readable_model(self, model_id: str, access: Access) -> Model:
        model = self._store.get_model(model_id).model
        access.require_read(model.workspace, model_id)
        return model

    def list_models(
        self, limit: int, page_token: str | None, status: str | None, access: Access, workspace: str | None = None
    ) -> Encoded[ModelList]:
        page = self._store.list_models(limit, page_token, status, access.listed_workspaces(workspace))
        return Encoded(ModelList, models=[Json(document.text) for document in page.items], next_token=page.next_token)

    def update_model(
        self, model_id: str, request: UpdateModelRequest, actor: str, if_match: int | None, access: Access
    ) -> ModelVersionResponse:
        """Seed 002: replace the model's fields; an ``active`` model also gets a new ``pending``
        version, numbered one past its highest numeric version."""
        self._policy.check(request.handlers)

        def attempt() -> ModelVersionResponse:
            record = self._store.get_model(model_id)
            current = record.model
            access.require_write(current.workspace, model_id)
            if request.workspace not in (None, current.workspace):
                raise WorkspaceImmutableError(model_id, current.workspace, request.workspace)
            check_if_match("model", if_match, current.entity_version)
            now = self._clock()
            model = current.model_copy(
                update={
                    "name": request.name,
                    "description": request.description,
                    "handlers": request.handlers,
                    "handler_contracts": request.handler_contracts,
                    "metadata": request.metadata,
                    "protected_aliases": request.protected_aliases,
                    "promotion": request.promotion,
                    "entity_version": current.entity_version + 1,
                    "updated_at": now,
                }
            )
            _check_protection(current, model, access)
            new_version = None
            sequence, highest = record.version_sequence, record.highest_numeric_version
            if current.status == "active":
                highest += 1
                sequence += 1
                if len(str(highest)) > MAX_VERSION_LENGTH:
                    raise VersionNumbersExhaustedError(model_id, highest - 1)
                model = model.model_copy(update={"latest_version": str(highest)})
                new_version = cut_version(model, str(highest), "", {}, actor, now)
            self._save_model(
                replace(record, model=model, version_sequence=sequence, highest_numeric_version=highest),
                current.entity_version,
                new_version,
                (events.model_updated(model),),
            )
            if (current.handlers, current.handler_contracts) != (model.handlers, model.handler_contracts):
                self._staleness.mark_stale_after_change(current, model)
            try:
                version = new_version or self._store.get_version(model_id, _latest(model))
            except VersionNotFoundError:
                # A delete between this write and this read took the whole model with it.
                raise ModelNotFoundError(model_id) from None
            return ModelVersionResponse(version=version, model=model)

        def on_stale(stale: StaleEntityError) -> Retry:
            if stale.current is None:
                raise ModelNotFoundError(model_id)
            if if_match is not None:
                raise EntityVersionMismatchError("model", if_match, stale.current)
            return RETRY

        return retry_on_stale(attempt, ConcurrentUpdateError(f"model '{model_id}'"), on_stale)

    def delete_model(self, model_id: str, access: Access, if_match: int | None = None) -> None:
        """With ``if_match`` the delete is conditional on that ``entity_version`` (409 otherwise).
        Deleting a model deletes its aliases: one that declares protected aliases needs
        ``models:promote``, as lifting the protection does."""
        model = self._store.get_model(model_id).model
        access.require_write(model.workspace, model_id)
        if model.protected_aliases:
            access.require_promote(f"model '{model_id}' declares protected aliases, which deleting it deletes")

        reported = (events.model_deleted(model, self._clock()),)
        if if_match is None:
            self._store.delete_model(model_id, reported=reported)
        else:
            try:
                self._store.delete_model(model_id, if_match, reported)
            except StaleEntityError as stale:
                if stale.current is None:
                    raise ModelNotFoundError(model_id) from None
                raise EntityVersionMismatchError("model", if_match, stale.current) from None
        self._staleness.mark_stale_targeting(model_id)

    # Versions -----------------------------------------------------------------------------------

    def create_version(
        self, model_id: str, request: CreateVersionRequest, actor: str, access: Access, if_match: int | None = None
    ) -> ModelVersionResponse:
        """Seed 001: cut a new ``pending`` version from the model's current handlers. With
        ``if_match`` the cut is conditional on the model's ``entity_version``, as a ``PUT`` is."""

        def attempt() -> ModelVersionResponse:
            record = self._store.get_model(model_id)
            current = record.model
            access.require_write(current.workspace, model_id)
            check_if_match("model", if_match, current.entity_version)
            now = self._clock()
            numeric = _numeric(request.version)
            highest = max(record.highest_numeric_version, numeric or 0)
            model = current.model_copy(
                update={
                    "latest_version": request.version,
                    "entity_version": current.entity_version + 1,
                    "updated_at": now,
                }
            )
            version = cut_version(
                model, request.version, request.description, request.metadata, actor, now, request.tags
            )
            self._save_model(
                replace(
                    record,
                    model=model,
                    version_sequence=record.version_sequence + 1,
                    highest_numeric_version=highest,
                ),
                current.entity_version,
                version,
            )
            return ModelVersionResponse(version=version, model=model)

        def on_stale(stale: StaleEntityError) -> Retry:
            if stale.current is None:
                raise ModelNotFoundError(model_id)
            return RETRY

        return retry_on_stale(attempt, ConcurrentUpdateError(f"model '{model_id}'"), on_stale)

    def get_version(self, model_id: str, version: str, access: Access) -> ModelVersionResponse:
        if version == LATEST:
            model = self.readable_model(model_id, access)
            return ModelVersionResponse(version=self._store.get_version(model_id, _latest(model)), model=model)
        if not access.reads_everything:
            self.readable_model(model_id, access)  # a hidden model's versions are not named either
        record, found = self._store.get_model_and_version(model_id, version)
        return ModelVersionResponse(version=found, model=record.model)

    def list_versions(self, model_id: str, limit: int, page_token: str | None, access: Access) -> VersionList:
        if not access.reads_everything:
            self.readable_model(model_id, access)
        page: Page[Version] = self._store.list_versions(model_id, limit, page_token)
        if not page.items and page_token is None:
            # Every model has at least one version: an empty first page means no such model.
            self._store.get_model(model_id)
        return VersionList(versions=page.items, next_token=page.next_token)

    # Helpers ------------------------------------------------------------------------------------

    def _save_model(
        self,
        record: ModelRecord,
        expected_entity_version: int,
        new_version: Version | None,
        reported: tuple[events.Event, ...] = (),
    ) -> None:
        try:
            self._store.save_model(record, expected_entity_version, new_version, reported)
        except ItemExistsError:
            assert new_version is not None  # only a new version is created
            raise VersionAlreadyExistsError(new_version.model_id, new_version.version) from None


def _latest(model: Model) -> str:
    assert model.latest_version is not None  # every model is created with version "1"
    return model.latest_version


def _check_protection(before: Model | None, after: Model, access: Access) -> None:
    why = aliases.needs_promote(before, after)
    if why is not None:
        access.require_promote(why)


def check_if_match(what: str, if_match: int | None, current: int) -> None:
    if if_match is not None and if_match != current:
        raise EntityVersionMismatchError(what, if_match, current)

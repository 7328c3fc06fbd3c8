"""Tags on models and versions (SPEC part three): set and delete one key at a time.

A tag change replaces its model or version conditionally on the ``entity_version`` read (If-Match
pins it: a mismatch is a 409) and bumps it; it never cuts a version and never marks a subscription
stale, because it changes neither handlers nor contracts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from shared.data.entities import VersionRecord
from shared.data.errors import StaleEntityError
from shared.data.save import RETRY, Retry, retry_on_stale
from shared.domain import events
from shared.domain.access import Access
from shared.domain.entities import LATEST, Model
from shared.domain.errors import (
    ConcurrentUpdateError,
    EntityVersionMismatchError,
    ModelNotFoundError,
    VersionNotFoundError,
)
from shared.domain.events import Event
from shared.domain.records import ModelRecord
from shared.domain.responses.models import ModelResponse, ModelVersionResponse
from shared.domain.tags import with_tag, without_tag
from shared.services.ports import Clock, ModelReader
from shared.services.registry import check_if_match

# What a change does to a resource's tags, given them and the resource's name for its errors.
TagChange = Callable[[dict[str, str], str], dict[str, str]]


class TagWriter(Protocol):
    def get_model_and_version(self, model_id: str, version: str) -> tuple[ModelRecord, VersionRecord]: ...

    def save_model_tags(self, before: Model, after: ModelRecord, reported: tuple[Event, ...] = ()) -> None: ...

    def save_version_tags(self, before: VersionRecord, after: VersionRecord) -> None: ...


class TagService:
    def __init__(self, models: ModelReader, tags: TagWriter, clock: Clock) -> None:
        self._models = models
        self._tags = tags
        self._clock = clock

    def set_model_tag(
        self, model_id: str, key: str, value: str, access: Access, if_match: int | None = None
    ) -> ModelResponse:
        return self._change_model(model_id, access, if_match, lambda tags, what: with_tag(tags, key, value, what))

    def delete_model_tag(self, model_id: str, key: str, access: Access, if_match: int | None = None) -> None:
        self._change_model(model_id, access, if_match, lambda tags, what: without_tag(tags, key, what))

    def set_version_tag(
        self, model_id: str, version: str, key: str, value: str, access: Access, if_match: int | None = None
    ) -> ModelVersionResponse:
        return self._change_version(
            model_id, version, access, if_match, lambda tags, what: with_tag(tags, key, value, what)
        )

    def delete_version_tag(
        self, model_id: str, version: str, key: str, access: Access, if_match: int | None = None
    ) -> None:
        self._change_version(model_id, version, access, if_match, lambda tags, what: without_tag(tags, key, what))

    def _change_model(self, model_id: str, access: Access, if_match: int | None, change: TagChange) -> ModelResponse:
        def attempt() -> ModelResponse:
            record = self._models.get_model(model_id)
            model = record.model
            access.require_write(model.workspace, model_id)
            check_if_match("model", if_match, model.entity_version)
            after = model.model_copy(
                update={
                    "tags": change(model.tags, f"model '{model_id}'"),
                    "entity_version": model.entity_version + 1,
                    "updated_at": self._clock(),
                }
            )
            # A model's tags are its fields: their change is a model.updated event, as a PUT's is.
            self._tags.save_model_tags(model, replace(record, model=after), (events.model_updated(after),))
            return ModelResponse(model=after)

        on_stale = _on_stale("model", if_match, ModelNotFoundError(model_id))
        return retry_on_stale(attempt, ConcurrentUpdateError(f"model '{model_id}'"), on_stale)

    def _change_version(
        self, model_id: str, version: str, access: Access, if_match: int | None, change: TagChange
    ) -> ModelVersionResponse:
        def attempt() -> ModelVersionResponse:
            name = version
            if name == LATEST:
                latest = self._models.get_model(model_id).model
                access.require_read(latest.workspace, model_id)
                assert latest.latest_version is not None  # every model is created with version "1"
                name = latest.latest_version
            record, before = self._tags.get_model_and_version(model_id, name)
            model = record.model
            access.require_write(model.workspace, model_id)
            current = before.version
            check_if_match("version", if_match, current.entity_version)
            after = current.model_copy(
                update={
                    "tags": change(current.tags, f"version '{name}' of model '{model_id}'"),
                    "entity_version": current.entity_version + 1,
                    "updated_at": self._clock(),
                }
            )
            self._tags.save_version_tags(before, VersionRecord(after, before.sequence))
            return ModelVersionResponse(version=after, model=model)

        on_stale = _on_stale("version", if_match, VersionNotFoundError(model_id, version))
        return retry_on_stale(attempt, ConcurrentUpdateError(f"version '{version}' of model '{model_id}'"), on_stale)


def _on_stale(what: str, if_match: int | None, gone: Exception) -> Callable[[StaleEntityError], Retry]:
    """A lost write: the resource is gone (404), If-Match no longer holds (409), or decide again."""

    def on_stale(stale: StaleEntityError) -> Retry:
        if stale.current is None:
            raise gone
        if if_match is not None:
            raise EntityVersionMismatchError(what, if_match, stale.current)
        return RETRY

    return on_stale

"""What the services need from storage and from the world, as small protocols.

The services depend on these, not on the DynamoDB stores: ``shared.runtime`` wires the real ones
(``shared.data``), and the unit tests wire in-memory fakes (``tests/unit/fakes.py``) that a contract
test holds to the same observable behaviour. Each protocol lists only the methods some service
calls. Conditional writes raise ``shared.data.errors.StaleEntityError`` (with the entity_version now
stored as ``current``, None when the item is gone); reads of a missing item raise the domain's
not-found errors.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    # Types only: the outbox module stays out of a model route's imports (see shared.runtime).
    from shared.data.outbox import Guarded
    from shared.domain.entities import Alias, Job, Model, Subscription, Version
    from shared.domain.events import Event
    from shared.domain.records import AliasChangeRecord, Document, ModelRecord, Page

Clock = Callable[[], datetime]
IdGenerator = Callable[[], str]


def random_id() -> str:
    return str(uuid.uuid4())


class ModelReader(Protocol):
    """Reads of models and versions: what firing, jobs and subscriptions look up."""

    def get_model(self, model_id: str) -> ModelRecord: ...

    def get_version(self, model_id: str, version: str) -> Version: ...

    def get_model_and_version(self, model_id: str, version: str) -> tuple[ModelRecord, Version]: ...

    def get_models(self, model_ids: set[str]) -> dict[str, Model]:
        """The named models that exist (missing ones are left out, never an error)."""
        ...

    def get_model_records(self, model_ids: set[str]) -> dict[str, ModelRecord]:
        """The named models that exist, with their counters (missing ones are left out)."""
        ...

    def get_versions(self, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], Version]:
        """The named (model id, version) pairs that exist (missing ones are left out)."""
        ...


class ModelStore(ModelReader, Protocol):
    """Models and versions as the model registry keeps them."""

    def list_models(
        self, limit: int, page_token: str | None, status: str | None, workspaces: tuple[str, ...] | None = None
    ) -> Page[Document]:
        """One page of the models' documents, as a read answers them."""
        ...

    def get_model_document(self, model_id: str) -> Document:
        """The model's document as a read answers it (``ModelNotFoundError`` if there is none)."""
        ...

    def list_versions(self, model_id: str, limit: int, page_token: str | None) -> Page[Version]:
        """Newest first."""
        ...

    def create_model(self, record: ModelRecord, first_version: Version) -> None:
        """Both or neither; a model id that is taken raises (the registry's 409)."""
        ...

    def save_model(
        self,
        record: ModelRecord,
        expected_entity_version: int,
        new_version: Version | None = None,
        reported: tuple[Event, ...] = (),
    ) -> None:
        """Replace the model if still at ``expected_entity_version``; with ``new_version``, create it
        in the same transaction (an existing version raises)."""
        ...

    def delete_model(
        self, model_id: str, expected_entity_version: int | None = None, reported: tuple[Event, ...] = ()
    ) -> None:
        """The model and everything in its partition; conditional when a version is expected."""
        ...


class SubscriptionsOfSource(Protocol):
    """What firing reads: the subscriptions of a source model."""

    def list_of_source(self, source_model_id: str) -> list[Subscription]:
        """Every subscription of the model, whatever its status and event."""
        ...

    def active_of_source(self, source_model_id: str, event: str) -> list[Subscription]:
        """The model's active subscriptions of ``event``, in id order, read as a firing must:
        whatever a write before it left (strongly consistent), without reading the others."""
        ...


class Subscriptions(SubscriptionsOfSource, Protocol):
    """Event subscriptions as the subscription service keeps them."""

    def put_new(self, subscription: Subscription) -> None: ...

    def get(self, source_model_id: str, subscription_id: str) -> Subscription: ...

    def save(self, subscription: Subscription, expected_entity_version: int) -> None: ...

    def delete(self, source_model_id: str, subscription_id: str, expected_entity_version: int | None = None) -> None:
        """A missing subscription raises not-found; a conditional delete of a changed one is stale."""
        ...

    def list_page(self, source_model_id: str, limit: int, page_token: str | None) -> Page[Subscription]: ...

    def list_by_target(self, target_model_id: str) -> list[Subscription]: ...

    def mark_stale(self, subscription: Subscription, now: datetime) -> None:
        """Stale if still as read (``StaleEntityError`` otherwise)."""
        ...


class JobReader(Protocol):
    def get(self, model_id: str, job_id: str) -> Job: ...

    def list_page(self, model_id: str, limit: int, page_token: str | None, status: str | None) -> Page[Job]:
        """A model's jobs, newest first; of one status when given."""
        ...

    def log_page(
        self,
        limit: int,
        page_token: str | None,
        status: str | None,
        model_id: str | None,
        since: str | None,
        workspaces: tuple[str, ...] | None = None,
    ) -> Page[Job]:
        """Jobs across models, newest change first; of ``workspaces`` when given (a page may be
        short, even empty, with a token that goes on; the token is good only for ``workspaces``)."""
        ...


class Outbox(Protocol):
    """A change's guarded writes and the jobs it fires, committed all or nothing.

    ``Guarded`` is opaque to the services: they get it from one of the write builders and hand it to
    ``commit``."""

    def version_update(self, version: Version, previous: Version, completing_job: str | None = None) -> Guarded: ...

    def model_put(self, record: ModelRecord, expected_entity_version: int) -> Guarded: ...

    def job_put(self, job: Job, previous: Job) -> Guarded: ...

    def version_create(self, version: Version, sequence: int) -> Guarded:
        """Create a version (``sequence`` is its place in its model's creation order)."""
        ...

    def commit(self, guarded: list[Guarded], jobs: list[Job], source_model_id: str, change: str) -> None:
        """``StaleEntityError`` naming the entity whose condition failed, or ``JobWriteConflictError``
        when a fired job exists; either way nothing was written."""
        ...


class ChainBudgetBook(Protocol):
    """The job budget of chains' roots (``shared.data.chains``)."""

    def used(self, root_job_id: str) -> int: ...

    def spend(self, root_job_id: str, jobs: int, budget: int, now: datetime) -> Guarded:
        """Count ``jobs`` against the root if that keeps it within ``budget`` (a lost condition is
        a ``StaleEntityError``: the firing decides again)."""
        ...


class StalenessMarker(Protocol):
    """Keeps subscriptions honest when the models they chain change (``SubscriptionService``)."""

    def mark_stale_after_change(self, before: Model, after: Model) -> None: ...

    def mark_stale_targeting(self, model_id: str) -> None: ...


class AliasBook(Protocol):
    """Aliases and their history (``shared.data.aliases.AliasStore``)."""

    def get(self, model_id: str, name: str) -> Alias: ...

    def find(self, model_id: str, name: str) -> Alias | None: ...

    def with_model(
        self, model_id: str, name: str, version: str | None = None
    ) -> tuple[ModelRecord, Alias | None, Version | None]:
        """Model, alias and (when named) version in one round trip; a missing model is a 404."""
        ...

    def list_of_model(self, model_id: str) -> list[Alias]: ...

    def last_change(
        self, model_id: str, name: str, at_or_before: datetime | None = None
    ) -> AliasChangeRecord | None: ...

    def history_page(self, model_id: str, name: str, limit: int, page_token: str | None) -> Page[AliasChangeRecord]: ...

    def moves_counted(self, model_id: str) -> int: ...

    def move_writes(
        self, alias: Alias, expected_entity_version: int | None, change: AliasChangeRecord, workspace: str
    ) -> list[Guarded]: ...

    def target_check(self, version: Version, entity_version: int) -> Guarded: ...

    def unmoved_since(self, model_id: str, moves: int) -> Guarded: ...

    def delete(self, alias: Alias, change: AliasChangeRecord, workspace: str) -> None: ...

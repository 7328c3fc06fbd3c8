"""In-memory stand-ins for the stores the services depend on (``shared.services.ports``).

They keep the real stores' observable contract, which ``tests/integration/test_store_contract.py``
checks against both: conditional writes raise ``StaleEntityError`` with the entity_version now
stored (None when the item is gone), creates of existing items raise what the real store raises
(chosen in ``already_exists`` only), lists page with opaque tokens scoped to their list, and an
outbox commit is all or nothing. Items are kept as JSON documents, as the table keeps them, so a
read never hands out an object a later write could change.

``MemoryTable.interleave`` runs a function just before the next write, which is how a test puts
a concurrent change between a service's read and its conditional write.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from shared.data import keys
from shared.data.chains import CHAIN_BUDGET
from shared.data.errors import ItemExistsError, StaleEntityError
from shared.data.items import document
from shared.data.outbox import CUT_VERSION, Guarded, JobWriteConflictError
from shared.data.page_tokens import workspaces_scope
from shared.domain.entities import Job, Model, Subscription, Version
from shared.domain.errors import (
    JobNotFoundError,
    ModelNotFoundError,
    PageTokenInvalidError,
    SubscriptionNotFoundError,
    VersionNotFoundError,
)
from shared.domain.records import Document, ModelRecord, Page


def already_exists(entity: str, *ids: str) -> Exception:
    """What creating an item that exists raises: the one place the fakes follow the real stores."""
    return ItemExistsError(entity)


def _doc(resource: BaseModel) -> str:
    """The stored document; ``document`` refuses one over the item limit as the real stores do."""
    return document(resource)["S"]


@dataclass
class _StoredModel:
    doc: str
    version_sequence: int
    highest_numeric_version: int
    activation_order: tuple[str, ...]

    def record(self) -> ModelRecord:
        return ModelRecord(
            Model.model_validate_json(self.doc),
            self.version_sequence,
            self.highest_numeric_version,
            self.activation_order,
        )

    @property
    def model(self) -> Model:
        return Model.model_validate_json(self.doc)


def _stored(record: ModelRecord) -> _StoredModel:
    return _StoredModel(
        _doc(record.model), record.version_sequence, record.highest_numeric_version, record.activation_order
    )


@dataclass
class MemoryTable:
    """The single table's items, by kind: models, versions (with creation order), subscriptions, jobs."""

    models: dict[str, _StoredModel] = field(default_factory=dict)
    versions: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    subscriptions: dict[tuple[str, str], str] = field(default_factory=dict)
    jobs: dict[tuple[str, str], str] = field(default_factory=dict)
    budgets: dict[str, int] = field(default_factory=dict)
    _interleaved: list[Callable[[], None]] = field(default_factory=list)
    writes: int = 0

    def interleave(self, change: Callable[[], None]) -> None:
        """Run ``change`` just before the next write (a concurrent writer that got there first)."""
        self._interleaved.append(change)

    def before_write(self) -> None:
        self.writes += 1
        pending, self._interleaved = self._interleaved, []
        for change in pending:
            change()

    # Decoded views, for tests' assertions.
    def model(self, model_id: str) -> Model:
        return self.models[model_id].model

    def version(self, model_id: str, version: str) -> Version:
        return Version.model_validate_json(self.versions[(model_id, version)][0])

    def job(self, model_id: str, job_id: str) -> Job:
        return Job.model_validate_json(self.jobs[(model_id, job_id)])

    def all_jobs(self) -> list[Job]:
        return [Job.model_validate_json(doc) for doc in self.jobs.values()]

    def subscription(self, source_model_id: str, subscription_id: str) -> Subscription:
        return Subscription.model_validate_json(self.subscriptions[(source_model_id, subscription_id)])


# Paging ------------------------------------------------------------------------------------------


def _token(scope: str, position: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([scope, position]).encode()).decode()


def _position(token: str, scope: str) -> str:
    try:
        found_scope, position = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        raise PageTokenInvalidError() from None
    if found_scope != scope or not isinstance(position, str):
        raise PageTokenInvalidError()
    return position


def _page(ordered: list[tuple[str, Any]], limit: int, page_token: str | None, scope: str, descending: bool = False):
    """One page of ``(sort key, item)`` pairs in order, resuming after the token's sort key."""
    if page_token is not None:
        after = _position(page_token, scope)
        ordered = [pair for pair in ordered if (pair[0] < after if descending else pair[0] > after)]
    taken = ordered[:limit]
    token = _token(scope, taken[-1][0]) if len(ordered) > limit else None
    return Page([item for _, item in taken], token)


# Stores ------------------------------------------------------------------------------------------


class FakeRegistryStore:
    def __init__(self, table: MemoryTable) -> None:
        self._t = table

    def get_model(self, model_id: str) -> ModelRecord:
        if model_id not in self._t.models:
            raise ModelNotFoundError(model_id)
        return self._t.models[model_id].record()

    def get_version(self, model_id: str, version: str) -> Version:
        if (model_id, version) not in self._t.versions:
            raise VersionNotFoundError(model_id, version)
        return self._t.version(model_id, version)

    def get_model_document(self, model_id: str) -> Document:
        return _document(self.get_model(model_id).model)

    def get_model_and_version(self, model_id: str, version: str) -> tuple[ModelRecord, Version]:
        record = self.get_model(model_id)
        return record, self.get_version(model_id, version)

    def get_models(self, model_ids: set[str]) -> dict[str, Model]:
        return {i: self._t.models[i].model for i in model_ids if i in self._t.models}

    def get_model_records(self, model_ids: set[str]) -> dict[str, ModelRecord]:
        return {i: self._t.models[i].record() for i in model_ids if i in self._t.models}

    def get_versions(self, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], Version]:
        return {pair: self._t.version(*pair) for pair in wanted if pair in self._t.versions}

    def list_models(
        self, limit: int, page_token: str | None, status: str | None, workspaces: tuple[str, ...] | None = None
    ) -> Page[Document]:
        models = [stored.model for stored in self._t.models.values()]
        chosen = [
            (keys.model_in_workspace(m.workspace, m.id), m)
            for m in models
            if (status is None or m.status == status) and (workspaces is None or m.workspace in workspaces)
        ]
        scope = f"models:{status}:{sorted(workspaces) if workspaces is not None else '*'}"
        page = _page(sorted(chosen, key=lambda pair: pair[0]), limit, page_token, scope)
        return Page([_document(model) for model in page.items], page.next_token)

    def list_versions(self, model_id: str, limit: int, page_token: str | None) -> Page[Version]:
        ordered = sorted(
            (
                (f"{sequence:012d}", Version.model_validate_json(doc))
                for (m, _), (doc, sequence) in self._t.versions.items()
                if m == model_id
            ),
            key=lambda pair: pair[0],
            reverse=True,
        )
        return _page(ordered, limit, page_token, f"versions:{model_id}", descending=True)

    def create_model(self, record: ModelRecord, first_version: Version) -> None:
        self._t.before_write()
        if record.model.id in self._t.models:
            raise already_exists("model", record.model.id)
        model, version = _stored(record), _doc(first_version)
        self._t.models[record.model.id] = model
        self._t.versions[(first_version.model_id, first_version.version)] = (version, 1)

    def save_model(
        self,
        record: ModelRecord,
        expected_entity_version: int,
        new_version: Version | None = None,
        reported: tuple[Any, ...] = (),
    ) -> None:
        self._t.before_write()
        model_id = record.model.id
        stored = self._t.models.get(model_id)
        if stored is None or stored.model.entity_version != expected_entity_version:
            raise StaleEntityError(stored.model.entity_version if stored else None)
        if new_version is not None and (model_id, new_version.version) in self._t.versions:
            raise already_exists("version", model_id, new_version.version)
        # Both documents are encoded (and size-checked) before either is written.
        replacement = _stored(record)
        added = (
            {}
            if new_version is None
            else {(model_id, new_version.version): (_doc(new_version), record.version_sequence)}
        )
        self._t.models[model_id] = replacement
        self._t.versions.update(added)

    def delete_model(
        self, model_id: str, expected_entity_version: int | None = None, reported: tuple[Any, ...] = ()
    ) -> None:
        self._t.before_write()
        stored = self._t.models.get(model_id)
        if expected_entity_version is not None and (
            stored is None or stored.model.entity_version != expected_entity_version
        ):
            if stored is None:
                self._purge(model_id)
            raise StaleEntityError(stored.model.entity_version if stored else None)
        self._purge(model_id)
        if stored is None:
            raise ModelNotFoundError(model_id)
        del self._t.models[model_id]

    def _purge(self, model_id: str) -> None:
        """The model's partition: its versions, its own subscriptions and its jobs."""
        for items in (self._t.versions, self._t.subscriptions, self._t.jobs):
            for item_key in [k for k in items if k[0] == model_id]:
                del items[item_key]


class FakeSubscriptionStore:
    def __init__(self, table: MemoryTable) -> None:
        self._t = table

    def put_new(self, subscription: Subscription) -> None:
        self._t.before_write()
        item_key = (subscription.source_model_id, subscription.id)
        if item_key in self._t.subscriptions:
            raise already_exists("subscription", *item_key)
        self._t.subscriptions[item_key] = _doc(subscription)

    def get(self, source_model_id: str, subscription_id: str) -> Subscription:
        if (source_model_id, subscription_id) not in self._t.subscriptions:
            raise SubscriptionNotFoundError(source_model_id, subscription_id)
        return self._t.subscription(source_model_id, subscription_id)

    def _current(self, source_model_id: str, subscription_id: str) -> int | None:
        doc = self._t.subscriptions.get((source_model_id, subscription_id))
        return None if doc is None else Subscription.model_validate_json(doc).entity_version

    def save(self, subscription: Subscription, expected_entity_version: int) -> None:
        self._t.before_write()
        current = self._current(subscription.source_model_id, subscription.id)
        if current != expected_entity_version:
            raise StaleEntityError(current, "subscription")
        self._t.subscriptions[(subscription.source_model_id, subscription.id)] = _doc(subscription)

    def delete(self, source_model_id: str, subscription_id: str, expected_entity_version: int | None = None) -> None:
        self._t.before_write()
        current = self._current(source_model_id, subscription_id)
        if current is None:
            raise SubscriptionNotFoundError(source_model_id, subscription_id)
        if expected_entity_version is not None and current != expected_entity_version:
            raise StaleEntityError(current, "subscription")
        del self._t.subscriptions[(source_model_id, subscription_id)]

    def list_page(self, source_model_id: str, limit: int, page_token: str | None) -> Page[Subscription]:
        ordered = [(s.id, s) for s in self.list_of_source(source_model_id)]
        return _page(ordered, limit, page_token, f"subscriptions:{source_model_id}")

    def list_by_target(self, target_model_id: str) -> list[Subscription]:
        found = [Subscription.model_validate_json(doc) for doc in self._t.subscriptions.values()]
        return sorted((s for s in found if s.target_model_id == target_model_id), key=lambda s: s.id)

    def list_of_source(self, source_model_id: str) -> list[Subscription]:
        return sorted(
            (self._t.subscription(*k) for k in self._t.subscriptions if k[0] == source_model_id), key=lambda s: s.id
        )

    def active_of_source(self, source_model_id: str, event: str) -> list[Subscription]:
        return [s for s in self.list_of_source(source_model_id) if s.status == "active" and s.trigger_event == event]

    def mark_stale(self, subscription: Subscription, now: datetime) -> None:
        stale = subscription.model_copy(
            update={"status": "stale", "entity_version": subscription.entity_version + 1, "updated_at": now}
        )
        self.save(stale, subscription.entity_version)


class FakeJobStore:
    def __init__(self, table: MemoryTable) -> None:
        self._t = table

    def get(self, model_id: str, job_id: str) -> Job:
        if (model_id, job_id) not in self._t.jobs:
            raise JobNotFoundError(model_id, job_id)
        return self._t.job(model_id, job_id)

    def list_page(self, model_id: str, limit: int, page_token: str | None, status: str | None) -> Page[Job]:
        ordered = sorted(
            (
                (f"{job.created_at.isoformat()}#{job.id}", job)
                for job in self._t.all_jobs()
                if job.model_id == model_id and (status is None or job.status == status)
            ),
            key=lambda pair: pair[0],
            reverse=True,
        )
        return _page(ordered, limit, page_token, f"jobs:{model_id}:{status or '*'}", descending=True)

    def log_page(
        self,
        limit: int,
        page_token: str | None,
        status: str | None,
        model_id: str | None,
        since: str | None,
        workspaces: tuple[str, ...] | None = None,
    ) -> Page[Job]:
        ordered = sorted(
            (
                (f"{job.updated_at.isoformat()}#{job.model_id}#{job.id}", job)
                for job in self._t.all_jobs()
                if (status is None or job.status == status)
                and (model_id is None or job.model_id == model_id)
                and (since is None or job.updated_at.isoformat() >= since)
            ),
            key=lambda pair: pair[0],
            reverse=True,
        )
        scope = f"joblog:{status or '*'}:{model_id or '*'}:{since or '*'}:{workspaces_scope(workspaces)}"
        page = _page(ordered, limit, page_token, scope, descending=True)
        if workspaces is None:
            return page
        return Page([job for job in page.items if job.workspace in workspaces], page.next_token)


# The outbox ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Write:
    """A guarded write: ``check`` answers whether its condition holds and the entity_version now
    stored (None when the item is gone); ``apply`` makes the change."""

    check: Callable[[], tuple[bool, int | None]]
    apply: Callable[[], None]


class FakeOutbox:
    def __init__(self, table: MemoryTable) -> None:
        self._t = table

    def version_update(self, version: Version, previous: Version, completing_job: str | None = None) -> Guarded:
        item_key = (version.model_id, version.version)
        doc = _doc(version)

        def check() -> tuple[bool, int | None]:
            if item_key not in self._t.versions:
                return False, None
            stored = self._t.version(*item_key)
            bound_elsewhere = completing_job is not None and stored.training_job_id not in (None, completing_job)
            as_read = stored.entity_version == previous.entity_version and stored.status == previous.status
            return as_read and not bound_elsewhere, stored.entity_version

        def apply() -> None:
            self._t.versions[item_key] = (doc, self._t.versions[item_key][1])

        return Guarded({"fake": _Write(check, apply)}, "version")

    def version_create(self, version: Version, sequence: int) -> Guarded:
        item_key = (version.model_id, version.version)
        doc = _doc(version)

        def check() -> tuple[bool, int | None]:
            return item_key not in self._t.versions, None

        def apply() -> None:
            self._t.versions[item_key] = (doc, sequence)

        return Guarded({"fake": _Write(check, apply)}, CUT_VERSION)

    def model_put(self, record: ModelRecord, expected_entity_version: int) -> Guarded:
        model_id = record.model.id
        replacement = _stored(record)

        def check() -> tuple[bool, int | None]:
            stored = self._t.models.get(model_id)
            if stored is None:
                return False, None
            current = stored.model.entity_version
            return current == expected_entity_version, current

        def apply() -> None:
            self._t.models[model_id] = replacement

        return Guarded({"fake": _Write(check, apply)}, "model")

    def job_put(self, job: Job, previous: Job) -> Guarded:
        item_key = (job.model_id, job.id)
        doc = _doc(job)

        def check() -> tuple[bool, int | None]:
            if item_key not in self._t.jobs:
                return False, None
            stored = self._t.job(*item_key)
            as_read = stored.entity_version == previous.entity_version and stored.status == previous.status
            return as_read, stored.entity_version

        def apply() -> None:
            self._t.jobs[item_key] = doc

        return Guarded({"fake": _Write(check, apply)}, "job")

    def commit(self, guarded: list[Guarded], jobs: list[Job], source_model_id: str, change: str) -> None:
        """Every condition first, in order (the first failed one is reported), then every write."""
        self._t.before_write()
        new_jobs = {(job.model_id, job.id): _doc(job) for job in jobs}
        for write in guarded:
            holds, current = write.operation["fake"].check()
            if not holds:
                raise StaleEntityError(current, write.entity)
        if any(item_key in self._t.jobs for item_key in new_jobs):
            raise JobWriteConflictError()
        for write in guarded:
            write.operation["fake"].apply()
        self._t.jobs.update(new_jobs)


class FakeChainBudgets:
    def __init__(self, table: MemoryTable) -> None:
        self._t = table

    def used(self, root_job_id: str) -> int:
        return self._t.budgets.get(root_job_id, 0)

    def spend(self, root_job_id: str, jobs: int, budget: int, now: datetime) -> Guarded:
        def check() -> tuple[bool, int | None]:
            return self._t.budgets.get(root_job_id, 0) + jobs <= budget, None

        def apply() -> None:
            self._t.budgets[root_job_id] = self._t.budgets.get(root_job_id, 0) + jobs

        return Guarded({"fake": _Write(check, apply)}, CHAIN_BUDGET)


@dataclass
class Stores:
    """The four fakes over one table, as ``shared.runtime`` wires the real ones."""

    table: MemoryTable = field(default_factory=MemoryTable)

    def __post_init__(self) -> None:
        self.registry = FakeRegistryStore(self.table)
        self.subscriptions = FakeSubscriptionStore(self.table)
        self.jobs = FakeJobStore(self.table)
        self.outbox = FakeOutbox(self.table)
        self.budgets = FakeChainBudgets(self.table)


def _document(model: Model) -> Document:
    return Document(model.model_dump_json(), model.workspace, model.entity_version)

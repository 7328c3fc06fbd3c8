"""The transactional outbox: a state change and the jobs it fires, written together.

One DynamoDB transaction holds the guarded writes of the change — a version's conditional update,
the model's, a job's completion — and one conditional ``attribute_not_exists`` put per fired job.
A transaction holds at most 100 items: when more jobs fire than fit, the transaction also writes
*fan-out* items that carry the remaining jobs, so the change and the complete record of what it
fired still commit atomically. The writer then materializes those jobs in further transactions of
100, and the stream dispatcher does the same for any fan-out item whose jobs a crashed request left
unwritten. Job ids are deterministic and every job put is conditional, so a job is written once.
"""

from __future__ import annotations

from dataclasses import replace as renamed
from typing import Any

from botocore.exceptions import ClientError

from shared.data import keys
from shared.data.entities import (
    ALIAS_CHANGES,
    ALIASES,
    BOUND_JOB_ATTRIBUTE,
    FANOUTS,
    JOBS,
    MODELS,
    VERSIONS,
    FanOut,
    VersionRecord,
    version_attributes,
)
from shared.data.errors import ItemExistsError, StaleEntityError
from shared.data.items import MAX_DOCUMENT_BYTES, TRANSACTION_ITEM_LIMIT, cancellation_reasons, s
from shared.data.save import Write, create, items_of, replace, save, save_together, update
from shared.domain import events
from shared.domain.entities import Job, Version
from shared.domain.errors import ConflictError
from shared.domain.records import ModelRecord

# The services' name for the writes a change is guarded by.
Guarded = Write
# What the errors about a job a change fires (or a fan-out item carrying some) call it.
FIRED_JOB = "job it fires"
# What the errors about a version a chain's training cuts call it.
CUT_VERSION = "version it cuts"


class JobWriteConflictError(ConflictError):
    def __init__(self) -> None:
        super().__init__("a job this change fires already exists: the change was not applied")


class OutboxWriter:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # Guarded writes -----------------------------------------------------------------------------

    def version_update(self, version: Version, previous: Version, completing_job: str | None = None) -> Write:
        """Move a version, if it is still at the status and entity_version it was read with; for
        ``completing_job``'s completion, also only while the version is bound to that job or to none.

        The binding (``training_job_id``) is kept beside the document too, so that condition is
        checked by DynamoDB in the same write. The version is updated in place: its creation order
        key is not the version's to know.
        """
        attributes = version_attributes(version)
        bound: tuple[str, dict[str, Any]] | None = None
        if completing_job is not None:
            bound = (
                f"attribute_not_exists({BOUND_JOB_ATTRIBUTE}) OR {BOUND_JOB_ATTRIBUTE} = :job",
                {":job": s(completing_job)},
            )
        return update(
            self._table,
            VERSIONS,
            keys.version_key(version.model_id, version.version),
            attributes,
            remove=() if BOUND_JOB_ATTRIBUTE in attributes else (BOUND_JOB_ATTRIBUTE,),
            expected_version=previous.entity_version,
            expected_status=previous.status,
            condition=bound,
        ).reporting(events.version_status_changed(previous, version))

    def version_create(self, version: Version, sequence: int) -> Write:
        """Create a version that no item has the key of yet (a chain's training cut it)."""
        write = renamed(create(self._table, VERSIONS, VersionRecord(version, sequence)), entity=CUT_VERSION)
        return write.reporting(events.version_created(version))

    def model_put(self, record: ModelRecord, expected_entity_version: int) -> Write:
        return replace(self._table, MODELS, record, expected_entity_version)

    def job_put(self, job: Job, previous: Job) -> Write:
        """Replace a job, if it is still at the status and entity_version it was read with."""
        write = replace(self._table, JOBS, job, previous.entity_version, expected_status=previous.status)
        return write.reporting(events.job_ended(previous, job))

    # Commit -------------------------------------------------------------------------------------

    def commit(self, guarded: list[Write], jobs: list[Job], source_model_id: str, change: str) -> None:
        """Write the guarded changes and the jobs they fire atomically, then any overflow.

        The events the guarded writes report (``Write.events``) are in the same transaction and
        count against its 100 items. Raises ``StaleEntityError`` (naming the entity) when something changed since it was read,
        and ``JobWriteConflictError`` when a fired job already exists; either way nothing was
        written.
        """
        room = TRANSACTION_ITEM_LIMIT - items_of(guarded)
        inline, fanouts = self._split(jobs, source_model_id, change, room)
        writes = [*guarded, *(self._new_job(job) for job in inline)]
        writes += [renamed(create(self._table, FANOUTS, fanout), entity=FIRED_JOB) for fanout in fanouts]
        try:
            if len(writes) == 1 and "Put" in writes[0].operation:
                save(self._client, writes[0])
            else:
                save_together(self._client, writes)
        except ItemExistsError as exists:
            if exists.entity in (CUT_VERSION, ALIASES.name, ALIAS_CHANGES.name):
                # A version a chain cuts, or an alias a promotion creates, was created meanwhile:
                # decide again on fresh state.
                raise StaleEntityError(None, exists.entity) from None
            raise JobWriteConflictError() from None
        self.materialize(jobs[len(inline) :])

    def materialize(self, jobs: list[Job]) -> None:
        """Create jobs that may already exist (overflow, redelivered fan-out): each exactly once."""
        for start in range(0, len(jobs), TRANSACTION_ITEM_LIMIT):
            chunk = jobs[start : start + TRANSACTION_ITEM_LIMIT]
            try:
                self._client.transact_write_items(TransactItems=[self._new_job(job).operation for job in chunk])
            except ClientError as error:
                if cancellation_reasons(error) is None:
                    raise
                # Some already exist (another materializer got there first): create the rest one by one.
                for job in chunk:
                    self._put_if_absent(job)

    def _new_job(self, job: Job) -> Write:
        return renamed(create(self._table, JOBS, job), entity=FIRED_JOB)

    def _put_if_absent(self, job: Job) -> None:
        try:
            save(self._client, self._new_job(job))
        except ItemExistsError:
            pass

    def _split(self, jobs: list[Job], source_model_id: str, change: str, room: int) -> tuple[list[Job], list[FanOut]]:
        """Jobs that fit in the transaction, and fan-out items carrying the rest."""
        if len(jobs) <= room:
            return jobs, []
        fanout_count = 1
        while True:
            inline_count = room - fanout_count
            parts = _pack(jobs[inline_count:])
            if len(parts) <= fanout_count:
                break
            fanout_count = len(parts)
        fanouts = [FanOut(source_model_id, change, index, tuple(part)) for index, part in enumerate(parts)]
        return jobs[:inline_count], fanouts


def _pack(jobs: list[Job]) -> list[list[Job]]:
    """Group jobs into fan-out payloads whose documents each fit one item."""
    parts: list[list[Job]] = [[]]
    size = 0
    for job in jobs:
        length = len(job.model_dump_json().encode()) + 1
        if parts[-1] and size + length > MAX_DOCUMENT_BYTES:
            parts.append([])
            size = 0
        parts[-1].append(job)
        size += length
    return parts

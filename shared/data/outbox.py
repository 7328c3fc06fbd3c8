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

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from shared.data import keys
from shared.data.items import (
    MAX_DOCUMENT_BYTES,
    TRANSACTION_ITEM_LIMIT,
    cancellation_reasons,
    doc_text,
    document,
    error_code,
    key,
    n,
    number,
    s,
)
from shared.data.store import ModelRecord, RegistryStore, StaleEntityError
from shared.domain.entities import Job, Version
from shared.domain.errors import ConflictError, ItemNotStorableError
from shared.domain.supervision import due_at


def job_item(job: Job) -> dict[str, Any]:
    created = job.created_at.isoformat()
    due = due_at(job)
    return {
        **key(keys.job_key(job.model_id, job.id)),
        **key(keys.job_index_keys(job.model_id, job.id, job.status, created)),
        **(key(keys.job_due_keys(job.model_id, job.id, due.isoformat())) if due is not None else {}),
        **key(keys.job_log_keys(job.model_id, job.id, job.updated_at.isoformat())),
        "entity_type": s(keys.JOB_ENTITY),
        "entity_version": n(job.entity_version),
        "status": s(job.status),
        "created_at": s(created),
        "updated_at": s(job.updated_at.isoformat()),
        "doc": document(job),
    }


def job_from_item(item: dict[str, Any]) -> Job:
    return Job.model_validate_json(doc_text(item))


@dataclass(frozen=True)
class Guarded:
    """One conditional write of a change; ``entity`` names what a failed condition means."""

    operation: dict[str, Any]
    entity: str


class JobWriteConflictError(ConflictError):
    def __init__(self) -> None:
        super().__init__("a job this change fires already exists: the change was not applied")


class OutboxWriter:
    def __init__(self, client: Any, table_name: str, registry: RegistryStore) -> None:
        self._client = client
        self._table = table_name
        self._registry = registry

    # Guarded writes -----------------------------------------------------------------------------

    def version_update(self, version: Version, previous: Version, completing_job: str | None = None) -> Guarded:
        """Move a version, if it is still at the status and entity_version it was read with; for
        ``completing_job``'s completion, also only while the version is bound to that job or to none.

        The binding (``training_job_id``) is kept beside the document too, so that condition is
        checked by DynamoDB in the same write.
        """
        update = "SET #doc = :doc, #status = :status, entity_version = :next, updated_at = :updated"
        condition = "entity_version = :expected AND #status = :previous"
        values = {
            ":doc": document(version),
            ":status": s(version.status),
            ":next": n(version.entity_version),
            ":updated": s(version.updated_at.isoformat()),
            ":expected": n(previous.entity_version),
            ":previous": s(previous.status),
        }
        if version.training_job_id is None:
            update += " REMOVE training_job_id"
        else:
            update += ", training_job_id = :bound"
            values[":bound"] = s(version.training_job_id)
        if completing_job is not None:
            condition += " AND (attribute_not_exists(training_job_id) OR training_job_id = :job)"
            values[":job"] = s(completing_job)
        return Guarded(
            {
                "Update": {
                    "TableName": self._table,
                    "Key": key(keys.version_key(version.model_id, version.version)),
                    "UpdateExpression": update,
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": {"#doc": "doc", "#status": "status"},
                    "ExpressionAttributeValues": values,
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            "version",
        )

    def model_put(self, record: ModelRecord, expected_entity_version: int) -> Guarded:
        return Guarded(
            {
                "Put": {
                    "TableName": self._table,
                    "Item": self._registry.model_item(record),
                    "ConditionExpression": "entity_version = :expected",
                    "ExpressionAttributeValues": {":expected": n(expected_entity_version)},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            "model",
        )

    def job_put(self, job: Job, previous: Job) -> Guarded:
        """Replace a job, if it is still at the status and entity_version it was read with."""
        return Guarded(
            {
                "Put": {
                    "TableName": self._table,
                    "Item": job_item(job),
                    "ConditionExpression": "entity_version = :expected AND #status = :previous",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {
                        ":expected": n(previous.entity_version),
                        ":previous": s(previous.status),
                    },
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            "job",
        )

    # Commit -------------------------------------------------------------------------------------

    def commit(self, guarded: list[Guarded], jobs: list[Job], source_model_id: str, change: str) -> None:
        """Write the guarded changes and the jobs they fire atomically, then any overflow.

        Raises ``StaleEntityError`` (naming the entity) when something changed since it was read,
        and ``JobWriteConflictError`` when a fired job already exists; either way nothing was
        written.
        """
        room = TRANSACTION_ITEM_LIMIT - len(guarded)
        inline, fanout_items = self._split(jobs, source_model_id, change, room)
        operations = [g.operation for g in guarded]
        operations += [self._put_new_job(job) for job in inline]
        operations += [
            {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}
            for item in fanout_items
        ]
        if len(operations) == 1 and "Put" in operations[0] and not jobs:
            self._single_put(operations[0]["Put"], guarded[0].entity)
            return
        try:
            self._client.transact_write_items(TransactItems=operations)
        except ClientError as error:
            self._raise_cancellation(error, guarded)
        self.materialize(jobs[len(inline) :])

    def materialize(self, jobs: list[Job]) -> None:
        """Create jobs that may already exist (overflow, redelivered fan-out): each exactly once."""
        for start in range(0, len(jobs), TRANSACTION_ITEM_LIMIT):
            chunk = jobs[start : start + TRANSACTION_ITEM_LIMIT]
            try:
                self._client.transact_write_items(TransactItems=[self._put_new_job(j) for j in chunk])
            except ClientError as error:
                if cancellation_reasons(error) is None:
                    raise
                # Some already exist (another materializer got there first): create the rest one by one.
                for job in chunk:
                    self._put_if_absent(job)

    def _single_put(self, put: dict[str, Any], entity: str) -> None:
        try:
            self._client.put_item(**put)
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                raise StaleEntityError(number(error.response.get("Item"), "entity_version"), entity) from None
            if error_code(error) == "ValidationException":
                raise _not_storable(entity, error.response.get("Error", {}).get("Message", "")) from None
            raise

    def _put_new_job(self, job: Job) -> dict[str, Any]:
        return {
            "Put": {"TableName": self._table, "Item": job_item(job), "ConditionExpression": "attribute_not_exists(PK)"}
        }

    def _put_if_absent(self, job: Job) -> None:
        try:
            self._client.put_item(**self._put_new_job(job)["Put"])
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise

    def _split(
        self, jobs: list[Job], source_model_id: str, change: str, room: int
    ) -> tuple[list[Job], list[dict[str, Any]]]:
        """Jobs that fit in the transaction, and fan-out items carrying the rest."""
        if len(jobs) <= room:
            return jobs, []
        fanout_count = 1
        while True:
            inline_count = room - fanout_count
            parts = _pack([job.model_dump_json() for job in jobs[inline_count:]])
            if len(parts) <= fanout_count:
                break
            fanout_count = len(parts)
        items = [
            {
                **key(keys.fanout_key(source_model_id, change, index)),
                "entity_type": s(keys.FANOUT_ENTITY),
                "change": s(change),
                "doc": s("[" + ",".join(part) + "]"),
            }
            for index, part in enumerate(parts)
        ]
        return jobs[:inline_count], items

    @staticmethod
    def _raise_cancellation(error: ClientError, guarded: list[Guarded]) -> None:
        """A lost condition first (re-read and decide again), then an item DynamoDB refuses to
        store: an item over 400 KB is a ValidationException of the request, or in real DynamoDB
        a ``ValidationError`` cancellation reason of the item."""
        if error_code(error) == "ValidationException":
            raise _not_storable("change", error.response.get("Error", {}).get("Message", "")) from None
        reasons = cancellation_reasons(error)
        if not reasons:
            raise error
        for index, write in enumerate(guarded):
            if reasons[index].get("Code") == "ConditionalCheckFailed":
                raise StaleEntityError(number(reasons[index].get("Item"), "entity_version"), write.entity) from None
        for index, reason in enumerate(reasons):
            if reason.get("Code") == "ValidationError":
                entity = guarded[index].entity if index < len(guarded) else "job it fires"
                raise _not_storable(entity, reason.get("Message", "")) from None
        if any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons):
            raise JobWriteConflictError() from None
        raise error


def _not_storable(entity: str, reason: str) -> ItemNotStorableError:
    return ItemNotStorableError(f"DynamoDB refused to store the {entity}: {reason}")


def _pack(documents: list[str]) -> list[list[str]]:
    """Group job documents into fan-out payloads that each fit one item."""
    parts: list[list[str]] = [[]]
    size = 0
    for text in documents:
        length = len(text.encode()) + 1
        if parts[-1] and size + length > MAX_DOCUMENT_BYTES:
            parts.append([])
            size = 0
        parts[-1].append(text)
        size += length
    return parts


def jobs_of_fanout(item: dict[str, Any]) -> list[Job]:
    """The jobs a fan-out item carries (the dispatcher's backstop materializes them)."""
    return [Job.model_validate(data) for data in json.loads(doc_text(item))]

"""The transactional outbox: a version transition and the jobs it fires, written together.

One DynamoDB transaction holds the version's conditional update, the model's (when it changes) and
one conditional ``attribute_not_exists`` put per fired job. A transaction holds at most 100 items;
when more jobs fire than fit, the transaction also writes *fan-out* items that carry the remaining
jobs, so the transition and the complete record of what it fired still commit atomically. The
request then materializes those jobs in further transactions of 100, and the stream dispatcher does
the same for any fan-out item whose jobs a crashed request left unwritten. Job ids are
deterministic and every job put is conditional, so a job can only ever be written once.
"""

from __future__ import annotations

import json
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
from shared.domain.errors import ConflictError
from shared.domain.resources import Job, Version


def job_item(job: Job) -> dict[str, Any]:
    created = job.created_at.isoformat()
    return {
        **key(keys.job_key(job.model_id, job.id)),
        **key(keys.job_index_keys(job.model_id, job.id, job.status, created)),
        "entity_type": s(keys.JOB_ENTITY),
        "entity_version": n(job.entity_version),
        "status": s(job.status),
        "created_at": s(created),
        "updated_at": s(job.updated_at.isoformat()),
        "doc": document(job),
    }


def _put_new_job(table: str, job: Job) -> dict[str, Any]:
    return {"Put": {"TableName": table, "Item": job_item(job), "ConditionExpression": "attribute_not_exists(PK)"}}


class JobWriteConflictError(ConflictError):
    def __init__(self) -> None:
        super().__init__("a job this transition fires already exists: the transition was not applied")


class OutboxWriter:
    def __init__(self, client: Any, table_name: str, registry: RegistryStore) -> None:
        self._client = client
        self._table = table_name
        self._registry = registry

    def commit_transition(
        self,
        version: Version,
        previous: Version,
        model: ModelRecord | None,
        expected_model_entity_version: int | None,
        jobs: list[Job],
        transition: str,
    ) -> None:
        """Write the transition and its jobs atomically, then materialize any overflow.

        Raises ``StaleEntityError`` when the version (or model) changed since it was read, and
        ``JobWriteConflictError`` when a fired job already exists; either way nothing was written.
        """
        operations = [self._version_update(version, previous)]
        if model is not None:
            operations.append(self._model_put(model, expected_model_entity_version))
        inline, fanout_items = self._split(jobs, version.model_id, transition, room=TRANSACTION_ITEM_LIMIT - len(operations))
        operations += [_put_new_job(self._table, job) for job in inline]
        operations += [
            {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}
            for item in fanout_items
        ]
        try:
            self._client.transact_write_items(TransactItems=operations)
        except ClientError as error:
            self._raise_cancellation(error, has_model=model is not None)
        overflow = jobs[len(inline) :]
        self.materialize(overflow)

    def materialize(self, jobs: list[Job]) -> None:
        """Create jobs that may already exist (overflow, redelivered fan-out): each exactly once."""
        for start in range(0, len(jobs), TRANSACTION_ITEM_LIMIT):
            chunk = jobs[start : start + TRANSACTION_ITEM_LIMIT]
            try:
                self._client.transact_write_items(TransactItems=[_put_new_job(self._table, j) for j in chunk])
            except ClientError as error:
                if cancellation_reasons(error) is None:
                    raise
                # Some already exist (another materializer got there first): create the rest one by one.
                for job in chunk:
                    self._put_if_absent(job)

    def _put_if_absent(self, job: Job) -> None:
        try:
            self._client.put_item(**_put_new_job(self._table, job)["Put"])
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise

    def _version_update(self, version: Version, previous: Version) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": key(keys.version_key(version.model_id, version.version)),
                "UpdateExpression": "SET #doc = :doc, #status = :status, entity_version = :next, updated_at = :updated",
                "ConditionExpression": "entity_version = :expected AND #status = :previous",
                "ExpressionAttributeNames": {"#doc": "doc", "#status": "status"},
                "ExpressionAttributeValues": {
                    ":doc": document(version),
                    ":status": s(version.status),
                    ":next": n(version.entity_version),
                    ":updated": s(version.updated_at.isoformat()),
                    ":expected": n(previous.entity_version),
                    ":previous": s(previous.status),
                },
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _model_put(self, model: ModelRecord, expected: int | None) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table,
                "Item": self._registry.model_item(model),
                "ConditionExpression": "entity_version = :expected",
                "ExpressionAttributeValues": {":expected": n(expected or 0)},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _split(
        self, jobs: list[Job], model_id: str, transition: str, room: int
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
                **key(keys.fanout_key(model_id, transition, index)),
                "entity_type": s(keys.FANOUT_ENTITY),
                "transition": s(transition),
                "doc": s("[" + ",".join(part) + "]"),
            }
            for index, part in enumerate(parts)
        ]
        return jobs[:inline_count], items

    @staticmethod
    def _raise_cancellation(error: ClientError, has_model: bool) -> None:
        reasons = cancellation_reasons(error)
        if not reasons:
            raise error
        if reasons[0].get("Code") == "ConditionalCheckFailed":
            raise StaleEntityError(number(reasons[0].get("Item"), "entity_version"), "version") from None
        if has_model and reasons[1].get("Code") == "ConditionalCheckFailed":
            raise StaleEntityError(number(reasons[1].get("Item"), "entity_version"), "model") from None
        if any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons):
            raise JobWriteConflictError() from None
        raise error


def _pack(documents: list[str]) -> list[list[str]]:
    """Group job documents into fan-out payloads that each fit one item."""
    parts: list[list[str]] = [[]]
    size = 0
    for text in documents:
        if parts[-1] and size + len(text) + 1 > MAX_DOCUMENT_BYTES:
            parts.append([])
            size = 0
        parts[-1].append(text)
        size += len(text.encode()) + 1
    return parts


def jobs_of_fanout(item: dict[str, Any]) -> list[Job]:
    """The jobs a fan-out item carries (the dispatcher's backstop materializes them)."""
    return [Job.model_validate(data) for data in json.loads(doc_text(item))]

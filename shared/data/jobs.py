"""Jobs in the single table: in the partition of the model they run, newest first through LSI1,
by status through GSI2, live ones by when they are due through GSI3 (the sweeper's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.data import keys
from shared.data.items import key, s
from shared.data.outbox import job_from_item
from shared.data.page_tokens import PageTokenCodec
from shared.data.queries import query_page
from shared.data.store import Page
from shared.data.table import GSI2, GSI3, LSI1
from shared.domain.errors import JobNotFoundError
from shared.domain.resources import Job


class JobStore:
    def __init__(self, client: Any, table_name: str, page_tokens: Callable[[], PageTokenCodec]) -> None:
        self._client = client
        self._table = table_name
        self._page_tokens = page_tokens

    def get(self, model_id: str, job_id: str) -> Job:
        item = self._client.get_item(
            TableName=self._table, Key=key(keys.job_key(model_id, job_id)), ConsistentRead=True
        ).get("Item")
        if item is None:
            raise JobNotFoundError(model_id, job_id)
        return job_from_item(item)

    def list_page(self, model_id: str, limit: int, page_token: str | None, status: str | None) -> Page[Job]:
        """Newest first; with ``status``, only the jobs in that status."""
        if status is None:
            index = LSI1
            condition = "PK = :pk AND begins_with(LSI1SK, :prefix)"
            values = {":pk": s(keys.model_partition(model_id)), ":prefix": s(keys.job_order_prefix())}
        else:
            index = GSI2
            condition = "GSI2PK = :pk"
            values = {":pk": s(keys.jobs_by_status_partition(model_id, status))}
        items, next_token = query_page(
            self._client,
            self._page_tokens,
            list_scope=f"jobs:{model_id}:{status or '*'}",
            limit=limit,
            page_token=page_token,
            key_attributes={"PK", "SK", index.partition_key, index.sort_key},
            TableName=self._table,
            IndexName=index.name,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
            ScanIndexForward=False,
        )
        return Page([job_from_item(item) for item in items], next_token)

    def overdue(self, shard: int, now: str, limit: int, start_key: dict[str, Any] | None) -> tuple[list[Job], dict[str, Any] | None]:
        """One page (one Query) of a due shard's live jobs due by ``now``, most overdue first."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": GSI3.name,
            "KeyConditionExpression": "GSI3PK = :pk AND GSI3SK < :after",
            # "$" sorts after the "#" that ends the due time in a key: a job due exactly now is due.
            "ExpressionAttributeValues": {":pk": s(keys.jobs_due_partition(shard)), ":after": s(now + "$")},
            "Limit": limit,
        }
        if start_key is not None:
            request["ExclusiveStartKey"] = start_key
        response = self._client.query(**request)
        return [job_from_item(item) for item in response.get("Items", [])], response.get("LastEvaluatedKey")

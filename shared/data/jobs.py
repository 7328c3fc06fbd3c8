"""Jobs in the single table: in the partition of the model they run, newest first through LSI1,
by status through GSI2, live ones by when they are due through GSI3 (the sweeper's), and all of
them by their last change through GSI1's write-sharded delivery log."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from shared.data import keys
from shared.data.entities import JOBS
from shared.data.items import key, s
from shared.data.page_tokens import PageTokenCodec, is_table_key, loads_token_json, workspaces_scope
from shared.data.queries import query_from_token, query_page
from shared.data.table import GSI1, GSI2, GSI3, LSI1
from shared.domain.entities import Job
from shared.domain.errors import JobNotFoundError, PageTokenInvalidError
from shared.domain.records import Page

# Where a delivery-log shard resumes: the key of the last job read from it (table and GSI1).
_LOG_KEY = ("PK", "SK", GSI1.partition_key, GSI1.sort_key)


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
        return JOBS.decode(item)

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
        return Page([JOBS.decode(item) for item in items], next_token)

    def overdue(
        self, shard: int, now: str, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[Job], dict[str, Any] | None]:
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
        return [JOBS.decode(item) for item in response.get("Items", [])], response.get("LastEvaluatedKey")

    def log_page(
        self,
        limit: int,
        page_token: str | None,
        status: str | None,
        model_id: str | None,
        since: str | None,
        workspaces: tuple[str, ...] | None = None,
    ) -> Page[Job]:
        """One page of the delivery log, newest change first: one Query per log shard, merged.

        The token keeps each shard's position. ``status`` and ``model_id`` are filter expressions
        and ``workspaces`` (None: all) a filter on the page as read — a job item carries its
        workspace only in its document — so a filtered page may be short, its token goes on;
        ``since`` bounds the sort key. A position may be the key of a job the caller may not
        read: the token is sealed, and bound to ``workspaces``, so it names nothing and only a
        caller with the same reach can resume from it.
        """
        scope = f"joblog:{status or '*'}:{model_id or '*'}:{since or '*'}:{workspaces_scope(workspaces)}"
        cursors = self._log_cursors(page_token, scope) if page_token else ["start"] * keys.LOG_SHARDS
        candidates: list[tuple[str, int, dict[str, Any]]] = []
        ends: dict[int, Any] = {}
        for shard, cursor in enumerate(cursors):
            if cursor == "done":
                continue
            request = self._log_query(shard, limit, status, model_id, since)
            if cursor != "start":
                request["ExclusiveStartKey"] = cursor
            response = query_from_token(self._client, cursor != "start", **request)
            candidates += [(item["GSI1SK"]["S"], shard, item) for item in response.get("Items", [])]
            ends[shard] = response.get("LastEvaluatedKey") or "done"
        candidates.sort(key=lambda c: c[0], reverse=True)
        taken, left = candidates[:limit], candidates[limit:]
        next_cursors = list(cursors)
        for shard, end in ends.items():
            next_cursors[shard] = end
        for _, shard, item in taken:  # newest first: the last one of a shard is where it resumes
            if any(s == shard for _, s, _ in left):
                next_cursors[shard] = {name: item[name] for name in _LOG_KEY}
        for _, shard, _item in left:
            if not any(s == shard for _, s, _ in taken) and cursors[shard] != "done":
                next_cursors[shard] = cursors[shard]  # nothing of it was taken: read it again next page
        token = None
        if any(c != "done" for c in next_cursors):
            # A page token holds a key of string attributes: the shards' positions go in one, as JSON.
            token = self._page_tokens().encode(scope, {"shards": s(json.dumps(next_cursors, separators=(",", ":")))})
        jobs = [JOBS.decode(item) for _, _, item in taken]
        return Page(jobs if workspaces is None else [job for job in jobs if job.workspace in workspaces], token)

    def _log_cursors(self, page_token: str, scope: str) -> list[Any]:
        """Each shard's position from a delivery-log token: "start", "done" or a key to resume after."""
        encoded = self._page_tokens().decode(page_token, scope).get("shards", {}).get("S", "")
        cursors = loads_token_json(encoded)
        if not isinstance(cursors, list) or len(cursors) != keys.LOG_SHARDS:
            raise PageTokenInvalidError()
        if not all(cursor in ("start", "done") or is_table_key(cursor, _LOG_KEY) for cursor in cursors):
            raise PageTokenInvalidError()
        return cursors

    def _log_query(
        self, shard: int, limit: int, status: str | None, model_id: str | None, since: str | None
    ) -> dict[str, Any]:
        condition = "GSI1PK = :pk"
        values: dict[str, Any] = {":pk": s(keys.job_log_partition(shard))}
        if since is not None:
            condition += " AND GSI1SK >= :since"
            values[":since"] = s(since)
        filters, names = [], {}
        if status is not None:
            filters.append("#status = :status")
            names["#status"] = "status"
            values[":status"] = s(status)
        if model_id is not None:
            filters.append("PK = :model")
            values[":model"] = s(keys.model_partition(model_id))
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": GSI1.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if filters:
            request["FilterExpression"] = " AND ".join(filters)
        if names:
            request["ExpressionAttributeNames"] = names
        return request

"""One page of a DynamoDB query behind an opaque page token."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import ClientError

from shared.data.items import BATCH_WRITE_LIMIT, error_code, s, until_processed
from shared.data.page_tokens import PageTokenCodec, is_table_key
from shared.domain.errors import PageTokenInvalidError


def query_page(
    client: Any,
    page_tokens: Callable[[], PageTokenCodec],
    *,
    list_scope: str,
    limit: int,
    page_token: str | None,
    key_attributes: Iterable[str],
    **query: Any,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of ``query``. It reads one item more than the page, so that the last page is known
    to be the last and carries no token; ``key_attributes`` are the table's and the index's keys."""
    if page_token is not None:
        start_key = page_tokens().decode(page_token, list_scope)
        if not is_table_key(start_key, key_attributes):
            raise PageTokenInvalidError()
        query["ExclusiveStartKey"] = start_key
    items = query_from_token(client, page_token is not None, Limit=limit + 1, **query)["Items"]
    if len(items) <= limit:
        return items, None
    last = items[limit - 1]
    last_key = {name: last[name] for name in key_attributes}
    return items[:limit], page_tokens().encode(list_scope, last_key)


def query_from_token(client: Any, from_token: bool, **query: Any) -> dict[str, Any]:
    """One Query. When its ``ExclusiveStartKey`` came from a page token, DynamoDB's refusal of it
    (``ValidationException``: a key outside the queried partition or range, or of the wrong types;
    moto does not check) is the token's fault: ``PageTokenInvalidError``, a 400."""
    try:
        return client.query(**query)
    except ClientError as error:
        if from_token and error_code(error) == "ValidationException":
            raise PageTokenInvalidError() from None
        raise


def purge_partition(client: Any, table: str, partition: str, keep: dict[str, str] | None = None) -> None:
    """Delete every item of ``partition`` but ``keep`` (a table key), a batch at a time."""
    query: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "PK = :pk",
        "ExpressionAttributeValues": {":pk": s(partition)},
        "ProjectionExpression": "PK, SK",
        "ConsistentRead": True,
    }
    while True:
        response = client.query(**query)
        doomed = [item for item in response["Items"] if keep is None or item["SK"]["S"] != keep["SK"]]
        for start in range(0, len(doomed), BATCH_WRITE_LIMIT):
            requests = {table: [{"DeleteRequest": {"Key": key}} for key in doomed[start : start + BATCH_WRITE_LIMIT]]}
            until_processed(client.batch_write_item, requests, "UnprocessedItems")
        if "LastEvaluatedKey" not in response:
            return
        query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

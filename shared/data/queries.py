"""One page of a DynamoDB query behind an opaque page token."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import ClientError

from shared.data.items import error_code
from shared.data.page_tokens import PageTokenCodec
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
        if set(start_key) != set(key_attributes):
            raise PageTokenInvalidError()
        query["ExclusiveStartKey"] = start_key
    try:
        items = client.query(Limit=limit + 1, **query)["Items"]
    except ClientError as error:
        # DynamoDB refuses a start key outside the queried partition or of the wrong types; only a
        # token can carry one.
        if page_token is not None and error_code(error) == "ValidationException":
            raise PageTokenInvalidError() from None
        raise
    if len(items) <= limit:
        return items, None
    last = items[limit - 1]
    last_key = {name: last[name] for name in key_attributes}
    return items[:limit], page_tokens().encode(list_scope, last_key)

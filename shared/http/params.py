"""The path, query and header parameters route functions declare, with the patterns they validate."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query

from shared.domain.entities import (
    ALIAS_PATTERN,
    DELIVERY_ID_PATTERN,
    MAX_FILTER_LENGTH,
    MODEL_ID_PATTERN,
    UUID_PATTERN,
    VERSION_PATH_PATTERN,
    WEBHOOK_ID_PATTERN,
)
from shared.domain.errors import RequestInvalidError

ModelIdPath = Annotated[str, Path(pattern=MODEL_ID_PATTERN, description="Model id")]
VersionPath = Annotated[
    str,
    Path(
        pattern=VERSION_PATH_PATTERN,
        description="Version, `latest` for the newest, or `@<alias>` for the version the alias points at",
    ),
]
AliasPath = Annotated[str, Path(pattern=ALIAS_PATTERN, description="Alias name (never `latest`)")]
AsOfQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        description="RFC 3339 instant: the alias as it stood then (404 if it did not exist)",
        json_schema_extra={"format": "date-time"},
    ),
]
SubscriptionIdPath = Annotated[
    str,
    Path(pattern=UUID_PATTERN, description="Event subscription id (a UUID)", json_schema_extra={"format": "uuid"}),
]
JobIdPath = Annotated[
    str, Path(pattern=UUID_PATTERN, description="Job id (a UUID)", json_schema_extra={"format": "uuid"})
]
# API Gateway HTTP APIs decode a path before routing it, so a '/' (even sent as %2F) can never be
# inside one segment: the tag routes name keys without it (a key with '/' is given at creation).
TAG_KEY_PATH_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
TagKeyPath = Annotated[
    str,
    Path(pattern=TAG_KEY_PATH_PATTERN, description="Tag key (a key holding '/' cannot be named in a path)"),
]
FilterQuery = Annotated[
    str | None,
    Query(
        max_length=MAX_FILTER_LENGTH,
        description="MLflow-style filter: comparisons joined by AND, e.g. name LIKE 'price%' AND tags.team = 'pricing' "
        "(docs/search.md)",
    ),
]
_DIRECTION = "( +([Aa][Ss][Cc]|[Dd][Ee][Ss][Cc]))? *$"
OrderByQuery = Annotated[
    str | None,
    Query(
        pattern=f"^ *(name|created_at|updated_at){_DIRECTION}",
        description="The order of a search: name, created_at or updated_at, then ASC (the default) or DESC",
    ),
]
VersionOrderByQuery = Annotated[
    str | None,
    Query(
        pattern=f"^ *(created_at|updated_at){_DIRECTION}",
        description="The order of a search: created_at or updated_at, then ASC (the default) or DESC",
    ),
]
WebhookIdPath = Annotated[str, Path(pattern=WEBHOOK_ID_PATTERN, description="Webhook id (wh_ and 24 hex digits)")]
DeliveryIdPath = Annotated[
    str, Path(pattern=DELIVERY_ID_PATTERN, description="Delivery id: the webhook-id header of its every attempt")
]
DeliveryStatusQuery = Annotated[
    Literal["pending", "delivered", "failed"] | None, Query(description="Only deliveries of this status")
]
LimitQuery = Annotated[int, Query(ge=1, le=100, description="Page size (1-100)")]
PageTokenQuery = Annotated[str | None, Query(max_length=4096, description="Opaque token from the previous page")]
IF_MATCH_PATTERN = r'^\s*(W/)?"?[0-9]{1,18}"?\s*$'


def if_match_header(entity: str) -> Any:
    """The If-Match header of a route whose write is conditional on ``entity``'s entity_version,
    as the resolver wrapper declares it; the route's function gets the int. The pattern is
    published, not enforced here: ``parse_if_match`` refuses a malformed value with a message that
    says what an If-Match looks like, which pydantic's pattern error does not."""
    return Annotated[
        str | None,
        Header(
            alias="If-Match",
            description=(
                f'Make the write conditional on the {entity}\'s entity_version (its ETag: 3, "3" or W/"3"); '
                "any other is a 409 and nothing is written"
            ),
            json_schema_extra={"pattern": IF_MATCH_PATTERN},
        ),
    ]


_ETAG = re.compile(r'^\s*(W/)?"?(?P<version>[0-9]{1,18})"?\s*$')  # IF_MATCH_PATTERN, naming the number


def parse_if_match(value: str | None) -> int | None:
    if value is None:
        return None
    match = _ETAG.fullmatch(value)
    if match is None:
        raise RequestInvalidError('If-Match must be an entity_version, e.g. If-Match: "3"')
    return int(match["version"])

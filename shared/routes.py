"""The route table: the only place PIE's HTTP routes are listed.

The local server routes with it, the CDK app deploys one function per row, the OpenAPI document is
generated from it and the tests check all three against it. A row also says what the route answers:
its success status, the refusals it adds to every route's, which entity's ``entity_version`` it
sends as its ETag and whether it takes If-Match; ``shared.http.api`` applies them, so a route's
``functions/<function>/handler.py`` is its function and nothing else. Adding a route is one row
here plus that file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Literal

Scope = Literal["models:read", "models:write", "models:promote", "jobs:write"]

MODELS_READ: Scope = "models:read"
MODELS_WRITE: Scope = "models:write"
JOBS_WRITE: Scope = "jobs:write"
# Held beside models:write to move or delete a protected alias (checked by the service, not a route).
MODELS_PROMOTE: Scope = "models:promote"
ALL_SCOPES: tuple[Scope, ...] = (MODELS_READ, MODELS_WRITE, MODELS_PROMOTE, JOBS_WRITE)

_PATH_PARAMETER = re.compile(r"\{([a-z_]+)\}")


class ETag(Enum):
    """The entity whose ``entity_version`` a route sends as its ETag (and takes back as If-Match):
    the response's field of that name, or the response itself when it is that entity."""

    MODEL = "model"
    VERSION = "version"
    SUBSCRIPTION = "subscription"
    JOB = "job"
    ALIAS = "alias"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    # The scope a caller's token must hold; None makes the route public: no token, no authorizer.
    scope: Scope | None
    # False for a POST that changes nothing (a dry run): it keeps no Idempotency-Key records and
    # is deployed with read-only table permissions. GET routes never write.
    writes: bool = True
    # The status of a success; 204 answers no body.
    status: int = 200
    # The refusals this route adds to those every route can answer (400, 401, 403, 500; 404 with a
    # path parameter; 409 and 422 with Idempotency-Key records).
    errors: tuple[int, ...] = ()
    etag: ETag | None = None
    # The entity whose entity_version If-Match makes the write conditional on, when the route takes
    # If-Match: its function receives the entity_version asked for, or None. It need not be the
    # ETag's entity: a new version is conditional on its model, and answers the version's ETag.
    if_match: ETag | None = None

    def __post_init__(self) -> None:
        if self.if_match is not None and not isinstance(self.if_match, ETag):
            raise TypeError(f"{self.function}: if_match names the entity the write is conditional on (an ETag)")

    @property
    def public(self) -> bool:
        return self.scope is None

    @property
    def read_only(self) -> bool:
        return self.method == "GET" or not self.writes

    @property
    def route_key(self) -> str:
        """API Gateway's route key, e.g. ``GET /v2/models/{model_id}``."""
        return f"{self.method} {self.path}"

    @property
    def resolver_rule(self) -> str:
        """The same path in Powertools' rule syntax (``/v2/models/<model_id>``)."""
        return _PATH_PARAMETER.sub(r"<\1>", self.path)

    @property
    def path_parameters(self) -> tuple[str, ...]:
        return tuple(_PATH_PARAMETER.findall(self.path))


ROUTES: tuple[Route, ...] = (
    Route("POST", "/v2/models", "create_model", MODELS_WRITE, status=201, errors=(409, 422), etag=ETag.MODEL),
    Route("GET", "/v2/models", "list_models", MODELS_READ),
    Route("GET", "/v2/models/{model_id}", "get_model", MODELS_READ, etag=ETag.MODEL),
    Route(
        "PUT",
        "/v2/models/{model_id}",
        "update_model",
        MODELS_WRITE,
        errors=(409, 422),
        etag=ETag.MODEL,
        if_match=ETag.MODEL,
    ),
    Route(
        "DELETE", "/v2/models/{model_id}", "delete_model", MODELS_WRITE, status=204, errors=(409,), if_match=ETag.MODEL
    ),
    Route(
        "POST",
        "/v2/models/{model_id}/new_version",
        "create_version",
        MODELS_WRITE,
        status=201,
        errors=(409,),
        etag=ETag.VERSION,
        if_match=ETag.MODEL,
    ),
    Route("GET", "/v2/models/{model_id}/versions", "list_versions", MODELS_READ),
    Route("GET", "/v2/models/{model_id}/versions/{model_version}", "get_version", MODELS_READ, etag=ETag.VERSION),
    Route("GET", "/v2/models/{model_id}/versions/{model_version}/lineage", "get_version_lineage", MODELS_READ),
    Route("GET", "/v2/models/{model_id}/impact", "get_model_impact", MODELS_READ),
    Route(
        "POST",
        "/v2/models/{model_id}/versions/{model_version}/new_status",
        "set_version_status",
        MODELS_WRITE,
        errors=(409, 422),
        etag=ETag.VERSION,
        if_match=ETag.VERSION,
    ),
    Route(
        "POST",
        "/v2/models/{model_id}/event-subscriptions",
        "create_subscription",
        MODELS_WRITE,
        status=201,
        errors=(422,),
        etag=ETag.SUBSCRIPTION,
    ),
    Route("GET", "/v2/models/{model_id}/event-subscriptions", "list_subscriptions", MODELS_READ),
    Route(
        "GET",
        "/v2/models/{model_id}/event-subscriptions/{subscription_id}",
        "get_subscription",
        MODELS_READ,
        etag=ETag.SUBSCRIPTION,
    ),
    Route(
        "PUT",
        "/v2/models/{model_id}/event-subscriptions/{subscription_id}",
        "update_subscription",
        MODELS_WRITE,
        errors=(409, 422),
        etag=ETag.SUBSCRIPTION,
        if_match=ETag.SUBSCRIPTION,
    ),
    Route(
        "DELETE",
        "/v2/models/{model_id}/event-subscriptions/{subscription_id}",
        "delete_subscription",
        MODELS_WRITE,
        status=204,
        errors=(409,),
        if_match=ETag.SUBSCRIPTION,
    ),
    Route(
        "POST",
        "/v2/models/{model_id}/event-subscriptions/{subscription_id}/test",
        "test_subscription",
        MODELS_WRITE,
        writes=False,
    ),
    Route(
        "POST",
        "/v2/models/{model_id}/inference",
        "start_inference",
        MODELS_WRITE,
        status=202,
        errors=(422,),
        etag=ETag.JOB,
    ),
    Route(
        "POST",
        "/v2/models/{model_id}/training",
        "start_training",
        MODELS_WRITE,
        status=202,
        errors=(409, 422),
        etag=ETag.JOB,
    ),
    Route(
        "PUT",
        "/v2/models/{model_id}/aliases/{alias}",
        "set_alias",
        MODELS_WRITE,
        errors=(409, 422),
        etag=ETag.ALIAS,
        if_match=ETag.ALIAS,
    ),
    Route("GET", "/v2/models/{model_id}/aliases", "list_aliases", MODELS_READ),
    Route("GET", "/v2/models/{model_id}/aliases/{alias}", "get_alias", MODELS_READ, etag=ETag.ALIAS),
    Route("GET", "/v2/models/{model_id}/aliases/{alias}/history", "get_alias_history", MODELS_READ),
    Route(
        "DELETE",
        "/v2/models/{model_id}/aliases/{alias}",
        "delete_alias",
        MODELS_WRITE,
        status=204,
        errors=(409,),
        if_match=ETag.ALIAS,
    ),
    Route("GET", "/v2/models/{model_id}/jobs", "list_jobs", MODELS_READ),
    Route("GET", "/v2/jobs", "list_all_jobs", MODELS_READ),
    Route("GET", "/v2/models/{model_id}/jobs/{job_id}", "get_job", MODELS_READ, etag=ETag.JOB),
    Route(
        "POST",
        "/v2/models/{model_id}/jobs/{job_id}/complete",
        "complete_job",
        JOBS_WRITE,
        errors=(409,),
        etag=ETag.JOB,
    ),
    Route(
        "POST",
        "/v2/models/{model_id}/jobs/{job_id}/cancel",
        "cancel_job",
        MODELS_WRITE,
        errors=(409,),
        etag=ETag.JOB,
        if_match=ETag.JOB,
    ),
    Route(
        "POST",
        "/v2/models/{model_id}/jobs/{job_id}/retry",
        "retry_job",
        MODELS_WRITE,
        status=202,
        errors=(409, 422),
        etag=ETag.JOB,
        if_match=ETag.JOB,
    ),
    # A dry run of the handler policy (allow-list, in-process implementations) for `pie apply --plan`.
    Route("POST", "/v2/handlers/check", "check_handlers", MODELS_WRITE, writes=False),
    Route("POST", "/v2/webhooks", "create_webhook", MODELS_WRITE, status=201, errors=(422,)),
    Route("GET", "/v2/webhooks", "list_webhooks", MODELS_READ),
    Route("GET", "/v2/webhooks/{webhook_id}", "get_webhook", MODELS_READ),
    Route("PUT", "/v2/webhooks/{webhook_id}", "update_webhook", MODELS_WRITE, errors=(409, 422)),
    Route("DELETE", "/v2/webhooks/{webhook_id}", "delete_webhook", MODELS_WRITE, status=204),
    Route("POST", "/v2/webhooks/{webhook_id}/rotate-secret", "rotate_webhook_secret", MODELS_WRITE, errors=(409,)),
    Route("POST", "/v2/webhooks/{webhook_id}/ping", "ping_webhook", MODELS_WRITE, status=202),
    Route("GET", "/v2/webhooks/{webhook_id}/deliveries", "list_webhook_deliveries", MODELS_READ),
    Route(
        "POST",
        "/v2/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
        "retry_webhook_delivery",
        MODELS_WRITE,
        status=202,
        errors=(409,),
    ),
    # The published contract (docs/openapi.json), readable before a client has a token.
    Route("GET", "/v2/openapi.json", "get_openapi", scope=None),
)

_BY_FUNCTION = {route.function: route for route in ROUTES}


def route_for(function: str) -> Route:
    """The route served by ``functions/<function>``; a KeyError names a function with no row."""
    return _BY_FUNCTION[function]

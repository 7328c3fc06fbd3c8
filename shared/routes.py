"""The route table: the only place PIE's HTTP routes are listed.

The local server routes with it, the CDK app deploys one function per row, the OpenAPI document is
generated from it and the tests check all three against it. Adding a route is one row here plus its
``functions/<function>/handler.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Scope = Literal["models:read", "models:write", "jobs:write"]

MODELS_READ: Scope = "models:read"
MODELS_WRITE: Scope = "models:write"
JOBS_WRITE: Scope = "jobs:write"
ALL_SCOPES: tuple[Scope, ...] = (MODELS_READ, MODELS_WRITE, JOBS_WRITE)

_PATH_PARAMETER = re.compile(r"\{([a-z_]+)\}")


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
    Route("POST", "/v2/models", "create_model", MODELS_WRITE),
    Route("GET", "/v2/models", "list_models", MODELS_READ),
    Route("GET", "/v2/models/{model_id}", "get_model", MODELS_READ),
    Route("PUT", "/v2/models/{model_id}", "update_model", MODELS_WRITE),
    Route("DELETE", "/v2/models/{model_id}", "delete_model", MODELS_WRITE),
    Route("POST", "/v2/models/{model_id}/new_version", "create_version", MODELS_WRITE),
    Route("GET", "/v2/models/{model_id}/versions", "list_versions", MODELS_READ),
    Route("GET", "/v2/models/{model_id}/versions/{model_version}", "get_version", MODELS_READ),
    Route(
        "POST",
        "/v2/models/{model_id}/versions/{model_version}/new_status",
        "set_version_status",
        MODELS_WRITE,
    ),
    Route("POST", "/v2/models/{model_id}/event-subscriptions", "create_subscription", MODELS_WRITE),
    Route("GET", "/v2/models/{model_id}/event-subscriptions", "list_subscriptions", MODELS_READ),
    Route(
        "GET",
        "/v2/models/{model_id}/event-subscriptions/{subscription_id}",
        "get_subscription",
        MODELS_READ,
    ),
    Route(
        "PUT",
        "/v2/models/{model_id}/event-subscriptions/{subscription_id}",
        "update_subscription",
        MODELS_WRITE,
    ),
    Route(
        "DELETE",
        "/v2/models/{model_id}/event-subscriptions/{subscription_id}",
        "delete_subscription",
        MODELS_WRITE,
    ),
    Route(
        "POST",
        "/v2/models/{model_id}/event-subscriptions/{subscription_id}/test",
        "test_subscription",
        MODELS_WRITE,
        writes=False,
    ),
    Route("POST", "/v2/models/{model_id}/inference", "start_inference", MODELS_WRITE),
    Route("POST", "/v2/models/{model_id}/training", "start_training", MODELS_WRITE),
    Route("GET", "/v2/models/{model_id}/jobs", "list_jobs", MODELS_READ),
    Route("GET", "/v2/jobs", "list_all_jobs", MODELS_READ),
    Route("GET", "/v2/models/{model_id}/jobs/{job_id}", "get_job", MODELS_READ),
    Route("POST", "/v2/models/{model_id}/jobs/{job_id}/complete", "complete_job", JOBS_WRITE),
    Route("POST", "/v2/models/{model_id}/jobs/{job_id}/cancel", "cancel_job", MODELS_WRITE),
    Route("POST", "/v2/models/{model_id}/jobs/{job_id}/retry", "retry_job", MODELS_WRITE),
    # The published contract (docs/openapi.json), readable before a client has a token.
    Route("GET", "/v2/openapi.json", "get_openapi", scope=None),
)

_BY_FUNCTION = {route.function: route for route in ROUTES}


def route_for(function: str) -> Route:
    """The route served by ``functions/<function>``; a KeyError names a function with no row."""
    return _BY_FUNCTION[function]

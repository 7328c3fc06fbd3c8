"""The OpenAPI catalogue: how one route's operation is described, from its row and its function.

The resolver wrapper registers each route function with this description; ``tools.openapi``
merges every function's into the published document.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from shared.domain.responses.errors import ErrorResponse, InternalErrorResponse
from shared.routes import Route

BEARER_SCHEME = "jwt"
COMMON_ERRORS = (400, 401, 403)
IDEMPOTENCY_ERRORS = (409, 422)  # Idempotency-Key: a request still in progress, a key reused
ERROR_DESCRIPTIONS = {
    400: "Malformed request: invalid JSON, or a body, path or query that fails validation",
    401: "Missing, invalid or expired bearer token",
    403: "The token lacks the route's scope, or the model's workspace is not among the caller's",
    404: "No such model, version, subscription or job",
    409: "Conflict: it already exists, If-Match does not match, or the same Idempotency-Key is in flight",
    422: "Semantically invalid: illegal transition, unknown target, contract mismatch, handler not allowed",
    500: "Internal error (never caused by the request's content)",
}

ETAG_HEADER = {
    "description": 'The entity_version of the entity answered (e.g. "3"): send it back as If-Match',
    "required": True,
    "schema": {"type": "string", "pattern": '^"[0-9]{1,18}"$'},
}


def operation(
    route: Route, endpoint: Callable[..., Any], response: type[BaseModel] | None, idempotent: bool
) -> dict[str, Any]:
    """The resolver's description of the route's one operation (``APIGatewayHttpResolver.route``)."""
    summary, description = _describe(endpoint)
    return {
        "operation_id": route.function,
        "summary": summary,
        "description": description,
        "tags": [_tag(route)],
        "security": [{BEARER_SCHEME: [route.scope]}],
        "responses": operation_responses(route, response, idempotent),
    }


def operation_responses(route: Route, response: type[BaseModel] | None, idempotent: bool) -> dict[int, dict[str, Any]]:
    """The route's success (its status, its response model, its ETag) and every refusal it can answer."""
    responses: dict[int, dict[str, Any]] = {}
    if response is None:
        responses[route.status] = {"description": "Done; no content"}
    else:
        responses[route.status] = {"description": "Success", "content": {"application/json": {"model": response}}}
        if route.etag is not None:
            responses[route.status]["headers"] = {"ETag": ETAG_HEADER}
    refusals = set(COMMON_ERRORS) | set(route.errors) | (set(IDEMPOTENCY_ERRORS) if idempotent else set())
    if route.path_parameters:
        refusals.add(404)
    for code in sorted(refusals):
        responses[code] = {
            "description": ERROR_DESCRIPTIONS[code],
            "content": {"application/json": {"model": ErrorResponse}},
        }
    responses[500] = {
        "description": ERROR_DESCRIPTIONS[500],
        "content": {"application/json": {"model": InternalErrorResponse}},
    }
    return responses


def _describe(endpoint: Callable[..., Any]) -> tuple[str, str]:
    """Summary and description from the function module's docstring ("METHOD path — summary.")."""
    text = (sys.modules[endpoint.__module__].__doc__ or "").strip()
    first, _, rest = text.partition("\n")
    summary = first.split(" — ", 1)[-1].rstrip(".")
    return summary[:1].upper() + summary[1:], text


def _tag(route: Route) -> str:
    for segment, tag in (
        ("/v2/webhooks", "webhooks"),
        ("event-subscriptions", "subscriptions"),
        ("jobs", "jobs"),
        ("inference", "jobs"),
        ("training", "jobs"),
        ("version", "versions"),
    ):
        if segment in route.path:
            return tag
    return "models"

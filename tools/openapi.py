"""PIE's OpenAPI 3.1 document, merged from the per-route functions' Powertools resolvers.

Each route function describes its one operation from the same pydantic models it validates with;
this module asks every function of the route table for its part and merges them into one document,
adding the refusals the deployed API Gateway answers itself in front of the functions.
``docs/openapi.json`` is this document, checked in; a test fails when the two disagree.

Two server rules are published with it, as top-level extensions, for the clients to read instead
of re-typing them: ``x-pie-lifecycle`` (the version lifecycle, ``shared/domain/lifecycle.py``) and
``x-pie-job-events`` (the job-event table, ``shared/domain/job_events.py``). The SDK ships a copy
of them (``python -m tools.openapi --rules``), the console reads them from the served
document.

The document's ``webhooks`` describe what PIE sends: one entry per type of the outbound event
catalogue (``shared/domain/events.py``), each with its payload and the three Standard Webhooks
headers, so a receiver can be generated and checked against the contract as the API's clients are.
"""

from __future__ import annotations

import copy
import importlib
import json
import sys
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from shared.domain.access import ADMIN_SCOPE
from shared.domain.entities import DELIVERY_ID_PATTERN
from shared.domain.events import CATALOGUE, EventType
from shared.domain.job_events import TABLE as JOB_EVENTS
from shared.domain.lifecycle import NEXT_STATUSES
from shared.http.catalogue import BEARER_SCHEME
from shared.routes import ALL_SCOPES, JOBS_WRITE, MODELS_PROMOTE, MODELS_READ, MODELS_WRITE, ROUTES, Route

TITLE = "PIE"
VERSION = "2.0.0"
DESCRIPTION = (
    "A model registry with event-driven orchestration. Every route but this document needs a JWT "
    "bearer token with the scope its operation lists. PIE's errors answer {success: false, message}; "
    "API Gateway answers the refusals it makes itself (no or a bad token, a missing scope, "
    "throttling, limits, timeouts) with {message} alone."
)
TAGS = [
    {"name": "models", "description": "Register, read, update and delete models."},
    {"name": "versions", "description": "Cut versions and move them through their lifecycle."},
    {"name": "subscriptions", "description": "Chain models: run or retrain one when another finishes."},
    {"name": "jobs", "description": "Training and inference jobs: start, follow, complete."},
    {"name": "webhooks", "description": "Signed outbound events (Standard Webhooks) and their delivery log."},
    {"name": "contract", "description": "This document."},
]
# Every scope a token may hold, for the bearer scheme's description: models:promote is no
# route's scope (the service checks it for protected aliases), so no operation's security lists it.
SCOPES = {
    MODELS_READ: "read models, versions, subscriptions, aliases and jobs",
    MODELS_WRITE: "register and change models, versions, subscriptions and aliases; start jobs",
    MODELS_PROMOTE: (
        "held beside models:write to move or delete a protected alias, lift a protection, "
        "or put a promotion policy on a protected alias; without it those are a 403"
    ),
    JOBS_WRITE: "complete jobs, as handlers do",
    ADMIN_SCOPE: "act in every workspace",
}
_POWERTOOLS_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")

GATEWAY_ERROR_SCHEMA = "GatewayErrorResponse"
# What API Gateway answers itself, before or instead of the route function, in its own shape.
GATEWAY_ERRORS = {
    "401": "API Gateway's JWT authorizer: missing, invalid or expired bearer token",
    "403": "API Gateway's JWT authorizer: the token lacks the route's scope",
    "413": "API Gateway: the request body is over the 10 MB payload limit",
    "429": "API Gateway: throttled (the stage's rate or burst limit)",
    "500": "API Gateway: the function failed or answered malformed",
    "503": "API Gateway: the function could not be invoked (e.g. Lambda throttling)",
    "504": "API Gateway: the function did not answer within the 30 s integration timeout",
}
_AUTHORIZER_ERRORS = ("401", "403")
_BODY_ERRORS = ("413",)


def build_document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for route in ROUTES:
        handler = importlib.import_module(f"functions.{route.function}.handler")
        if route.public:
            # A public route's function has no resolver; it describes its operation itself.
            operation = copy.deepcopy(handler.OPERATION)
            _add_gateway_errors(route, operation)
            paths.setdefault(route.path, {})[route.method.lower()] = operation
            continue
        part = json.loads(
            handler.api.resolver.get_openapi_json_schema(
                title=TITLE,
                version=VERSION,
                openapi_version="3.1.0",
                security_schemes={BEARER_SCHEME: HTTPBearer(bearerFormat="JWT")},
            )
        )
        for path, operations in part["paths"].items():
            for method, operation in operations.items():
                if handler.api.remembers_idempotency_keys:
                    operation.setdefault("parameters", []).append(_idempotency_parameter())
                # Powertools documents its own 422 for validation errors; PIE answers those 400.
                operation["responses"] = {
                    code: response
                    for code, response in operation["responses"].items()
                    if "HTTPValidationError" not in json.dumps(response)
                }
                for parameter in operation.get("parameters", []):
                    parameter["schema"] = _without_null(parameter["schema"])
                if "204" in operation["responses"]:
                    operation["responses"]["204"].pop("content", None)
                _add_gateway_errors(route, operation)
                paths.setdefault(path, {})[method] = operation
        for name, schema in part.get("components", {}).get("schemas", {}).items():
            if schemas.setdefault(name, schema) != schema:
                raise ValueError(f"two route functions describe the schema {name} differently")
    for name in _POWERTOOLS_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    schemas[GATEWAY_ERROR_SCHEMA] = _gateway_error_schema()
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "tags": TAGS,
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {BEARER_SCHEME: bearer_scheme()},
        },
        "webhooks": webhooks(),
        **published_rules(),
    }


def bearer_scheme() -> dict[str, Any]:
    """The JWT bearer scheme, describing every scope of the route table (a new one must be described)."""
    described = "; ".join(f"`{scope}`: {SCOPES[scope]}" for scope in (*ALL_SCOPES, ADMIN_SCOPE))
    return {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": f"A JWT whose `scope` claim holds space-separated scopes. {described}.",
    }


LIFECYCLE_EXTENSION = "x-pie-lifecycle"
JOB_EVENTS_EXTENSION = "x-pie-job-events"


def published_rules() -> dict[str, Any]:
    """The server rules a client follows, as the document's extensions: read from the domain's
    own tables, so the document cannot say otherwise than the server does."""
    return {
        LIFECYCLE_EXTENSION: {
            "description": "The version lifecycle: the statuses a version may move to from each status "
            "(new_status refuses any other move with a 422; setting the current status again is a no-op). "
            "A move listed in x-pie-job-events also fires that event.",
            "next_statuses": {status: list(following) for status, following in NEXT_STATUSES.items()},
        },
        JOB_EVENTS_EXTENSION: {
            "description": "Every event a subscription can fire on (trigger_event): a succeeded job of "
            "`action` produces it, and so does the version move `transition`, if any. A trigger_output "
            "subscription receives the output of that action's job (its output_schema is the contract). "
            "An event with `alias_move` true is produced by no job (`action` null): an alias of the model "
            "moving to another version fires it, its subscriptions name the alias (`alias`), and a "
            "trigger_output subscription receives {model_id, alias, version, previous_version}.",
            "events": [
                {
                    "name": event.name,
                    "action": event.action,
                    "transition": None
                    if event.transition is None
                    else {"from": event.transition[0], "to": event.transition[1]},
                    "alias_move": event.alias_move,
                }
                for event in JOB_EVENTS
            ],
        },
    }


_STRING = {"type": "string"}
_OPTIONAL_STRING = {"type": ["string", "null"]}
_VERSION = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"}
_OPTIONAL_VERSION = {"type": ["string", "null"], "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"}
_STATUS = {"type": "string", "enum": ["pending", "training", "active", "failed"]}
# What each field of an event's ``data`` holds (every catalogue field must be here: a test checks).
EVENT_FIELDS: dict[str, dict[str, Any]] = {
    "workspace": {**_STRING, "description": "The workspace of the resource (webhooks filter on it)."},
    "model_id": {**_STRING, "description": "The model the event is about (webhooks filter on it)."},
    "name": _STRING,
    "created_by": _STRING,
    "entity_version": {"type": "integer", "minimum": 1},
    "latest_version": _OPTIONAL_VERSION,
    "version": _VERSION,
    "status": _STATUS,
    "from": _STATUS,
    "to": _STATUS,
    "status_message": _OPTIONAL_STRING,
    "by": {**_STRING, "description": "Who made the change (the token's subject, or PIE itself)."},
    "alias": {"type": "string", "pattern": "^[a-z][a-z0-9_-]{0,63}$"},
    "previous_version": _OPTIONAL_VERSION,
    "reason": _OPTIONAL_STRING,
    "job_id": {"type": "string", "format": "uuid"},
    "action": {"type": "string", "enum": ["inference", "training"]},
    "attempt": {"type": "integer", "minimum": 1},
    "output": {"type": ["object", "null"], "description": "What the handler reported."},
    "error": _OPTIONAL_STRING,
    "subscription_id": {"type": "string", "format": "uuid"},
    "target_model_id": _STRING,
    "webhook_id": {**_STRING, "description": "The endpoint pinged."},
}
WEBHOOK_HEADERS = (
    (
        "webhook-id",
        "The delivery's id: one per (event, endpoint), the same on every retry. Deduplicate on it.",
        {"type": "string", "pattern": DELIVERY_ID_PATTERN},
    ),
    (
        "webhook-timestamp",
        "When this attempt was sent, in seconds since the Unix epoch. Refuse one too far from now "
        "(the SDK's verify allows 5 minutes) to stop replays.",
        {"type": "string", "pattern": "^[0-9]{1,12}$"},
    ),
    (
        "webhook-signature",
        "Space-separated `v1,<base64 HMAC-SHA256>` signatures of `{webhook-id}.{webhook-timestamp}.{body}` "
        "with the endpoint's secret (`whsec_<base64 key>`); two while a rotated secret is still honoured. "
        "Accept the request when any one matches (pie_client.webhooks.verify does).",
        {"type": "string", "pattern": "^v1,[A-Za-z0-9+/=]+( v1,[A-Za-z0-9+/=]+)*$"},
    ),
)


def webhooks() -> dict[str, Any]:
    """The OpenAPI 3.1 ``webhooks``: one POST per event type of the catalogue, as PIE sends it."""
    return {name: {"post": _webhook_operation(event_type)} for name, event_type in CATALOGUE.items()}


def _webhook_operation(event_type: EventType) -> dict[str, Any]:
    fields = ("workspace", *event_type.fields)
    return {
        "operationId": "on_" + event_type.name.replace(".", "_"),
        "tags": ["webhooks"],
        "summary": event_type.description,
        "description": f"`{event_type.name}`: {event_type.description} PIE POSTs this to every active "
        "endpoint whose events, workspace and models match, signed per Standard Webhooks, and retries "
        "any answer but a 2xx with backoff over about a day (each attempt is in the delivery log). "
        "Every event is also put on the deployment's EventBridge bus (source `pie`, detail-type the "
        "event type, detail this body plus the event's `id`).",
        "parameters": [
            {"name": name, "in": "header", "required": True, "description": description, "schema": schema}
            for name, description, schema in WEBHOOK_HEADERS
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "type": {"type": "string", "const": event_type.name},
                            "timestamp": {"type": "string", "format": "date-time"},
                            "data": {
                                "type": "object",
                                "properties": {field: EVENT_FIELDS[field] for field in fields},
                                "required": list(fields),
                                "additionalProperties": False,
                            },
                        },
                        "required": ["type", "timestamp", "data"],
                        "additionalProperties": False,
                    }
                }
            },
        },
        "responses": {
            "2XX": {"description": "Delivered: the delivery is done."},
            "default": {"description": "Not delivered: retried on the schedule, then failed (redrive it)."},
        },
    }


def _gateway_error_schema() -> dict[str, Any]:
    return {
        "title": GATEWAY_ERROR_SCHEMA,
        "description": 'A refusal API Gateway makes itself, e.g. {"message": "Unauthorized"}; '
        "it never reaches PIE, so it has no success field.",
        "type": "object",
        "properties": {"message": {"type": "string"}},
        "required": ["message"],
        "additionalProperties": False,
    }


def _add_gateway_errors(route: Route, operation: dict[str, Any]) -> None:
    """Declare the statuses API Gateway answers itself: where PIE answers the same status, a
    client may receive either body (``oneOf``: PIE's has ``success``, the gateway's only
    ``message``)."""
    statuses = [status for status in GATEWAY_ERRORS if status not in _AUTHORIZER_ERRORS or not route.public]
    if "requestBody" not in operation:
        statuses = [status for status in statuses if status not in _BODY_ERRORS]
    gateway = {"$ref": f"#/components/schemas/{GATEWAY_ERROR_SCHEMA}"}
    responses = operation["responses"]
    for status in statuses:
        existing = responses.get(status)
        if existing is None:
            responses[status] = {
                "description": GATEWAY_ERRORS[status],
                "content": {"application/json": {"schema": gateway}},
            }
            continue
        content = existing["content"]["application/json"]
        content["schema"] = {"oneOf": [content["schema"], gateway]}
        existing["description"] += " (deployed, API Gateway may answer this status itself, as GatewayErrorResponse)"
    operation["responses"] = dict(sorted(responses.items()))


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional header or query parameter is absent, never null: its schema is the non-null
    alternative (Python's ``str | None`` default otherwise documents a "null" value)."""
    alternatives = [option for option in schema.get("anyOf", []) if option != {"type": "null"}]
    if len(alternatives) != 1 or len(alternatives) == len(schema.get("anyOf", [])):
        return schema
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**alternatives[0], **rest}


def _idempotency_parameter() -> dict[str, Any]:
    return {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "Replays the first response of the same request (same caller, key, route "
        "and body) for an hour; reusing the key for another request is a 422.",
        "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def main(arguments: list[str]) -> None:
    """Print the document (``python -m tools.openapi > docs/openapi.json``), or with
    ``--rules`` only its published rules (the SDK's copy, ``clients/python/pie_client/rules.json``)."""
    if arguments not in ([], ["--rules"]):
        raise SystemExit("usage: python -m tools.openapi [--rules]")
    print(render(published_rules() if arguments else build_document()), end="")


if __name__ == "__main__":
    main(sys.argv[1:])

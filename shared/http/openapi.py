"""PIE's OpenAPI 3.1 document, merged from the per-route functions' Powertools resolvers.

Each route function describes its one operation from the same pydantic models it validates with;
this module asks every function of the route table for its part and merges them into one document.
``docs/openapi.json`` is this document, checked in; a test fails when the two disagree.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from shared.http.api import BEARER_SCHEME
from shared.routes import ROUTES

TITLE = "PIE"
VERSION = "2.0.0"
DESCRIPTION = (
    "A model registry with event-driven orchestration. Every route needs a JWT bearer token with "
    "the scope its operation lists; every error answers {success: false, message}."
)
_POWERTOOLS_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


def build_document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for route in ROUTES:
        handler = importlib.import_module(f"functions.{route.function}.handler")
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
                paths.setdefault(path, {})[method] = operation
        for name, schema in part.get("components", {}).get("schemas", {}).items():
            if schemas.setdefault(name, schema) != schema:
                raise ValueError(f"two route functions describe the schema {name} differently")
    for name in _POWERTOOLS_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {BEARER_SCHEME: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


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


def main() -> None:
    """Print the document (``python -m shared.http.openapi > docs/openapi.json``)."""
    print(render(build_document()), end="")


if __name__ == "__main__":
    main()

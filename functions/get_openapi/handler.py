"""GET /v2/openapi.json — PIE's published contract, served without a token.

The function returns the checked-in ``docs/openapi.json``, which ``infra/bundling.py`` packages at
the same place relative to this file, so ``pie-local`` and the deployed API serve the same bytes.
It is read once per execution environment. A public route gets no Powertools resolver and no
table access: it has no caller to check and nothing to look up.
"""

from functools import cache
from pathlib import Path

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
CACHE_SECONDS = 300

# This operation in the document (tools.openapi), as the other routes' resolvers describe theirs.
OPERATION = {
    "tags": ["contract"],
    "summary": "The OpenAPI document",
    "description": "This document: PIE's contract as OpenAPI 3.1. Public: it needs no token.",
    "operationId": "get_openapi",
    "security": [],
    "responses": {
        "200": {
            "description": "The OpenAPI 3.1 document",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
}


@cache
def _document() -> str:
    return DOCUMENT.read_text(encoding="utf-8")


def lambda_handler(event, context):
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", "Cache-Control": f"public, max-age={CACHE_SECONDS}"},
        "body": _document(),
        "isBase64Encoded": False,
    }

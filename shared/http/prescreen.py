"""The body pre-screen: refuses a body PIE cannot read as JSON before Powertools parses it."""

from __future__ import annotations

import base64
from typing import Any

from shared.http.json_body import MAX_JSON_DEPTH, nesting_depth


def unreadable_body(event: dict[str, Any]) -> str | None:
    """Why the body cannot be read as PIE's JSON, or None. Checked before Powertools parses it,
    which would read a form as fields, fail on bytes that are not UTF-8 or on an unknown content
    type, and recurse without bound into deeply nested JSON."""
    body = event.get("body")
    if not body:
        return None
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    media_type = headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        return "send the body as JSON with Content-Type: application/json"
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return "request body is not valid UTF-8 JSON"
    if nesting_depth(body) > MAX_JSON_DEPTH:
        return f"request body nests JSON deeper than {MAX_JSON_DEPTH} levels"
    return None

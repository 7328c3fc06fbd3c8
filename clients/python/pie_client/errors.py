"""Typed errors: one class per HTTP status family, each carrying ``status`` and ``message``.

PIE answers errors as ``{"success": false, "message": ...}``; API Gateway answers the requests it
refuses itself (authorizer, throttling, timeouts, unknown routes) as ``{"message": ...}``; a proxy
in between may answer HTML or nothing. All three become the same exceptions.
"""

from __future__ import annotations

import json
from typing import Any


class PieError(Exception):
    """Anything the PIE API refused or could not do. ``status`` is None when no HTTP answer came."""

    def __init__(self, message: str, status: int | None = None, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.request_id = request_id

    def __str__(self) -> str:
        prefix = f"{self.status} " if self.status is not None else ""
        return f"{prefix}{self.message}"


class BadRequest(PieError):
    """400: malformed JSON, or a body, path or query that fails validation."""


class Unauthorized(PieError):
    """401: missing, invalid or expired bearer token."""


class Forbidden(PieError):
    """403: the token lacks the route's scope, or the model's workspace is not among the caller's."""


class InvalidRequest(PieError, ValueError):
    """The SDK refused a request before sending it: an argument does not fit PIE's schema.
    ``errors`` lists every problem (``loc``, ``msg``), as pydantic reports them."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class UnexpectedResponse(PieError):
    """The server answered 2xx with a body this SDK cannot read as the documented type."""


def from_validation(invalid: Any, what: str, error: type[PieError] = InvalidRequest) -> PieError:
    """A pydantic ``ValidationError`` as a PIE error: its first problem, and how many more."""
    problems = invalid.errors(include_url=False)
    first = problems[0] if problems else {"loc": (), "msg": str(invalid)}
    where = ".".join(str(part) for part in first["loc"])
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    message = f"{what}: {where + ': ' if where else ''}{first['msg']}{more}"
    if error is InvalidRequest:
        return InvalidRequest(message, problems)
    return error(message)


class NotFound(PieError):
    """404: no such model, version, subscription or job (or route)."""


class Conflict(PieError):
    """409: it already exists, or If-Match named an entity_version that is no longer current."""


class Unprocessable(PieError):
    """422: semantically invalid (illegal transition, unknown target, contract mismatch, ...)."""


class TooManyRequests(PieError):
    """429: throttled, still after the client's retries."""


class ServerError(PieError):
    """5xx: the service failed, still after the client's retries."""


class ConnectionFailed(PieError):
    """No HTTP answer at all (refused, reset, timed out), still after the client's retries."""


class WaitTimeout(PieError):
    """``wait_for_job`` gave up: the job had not ended by the deadline. ``job`` is the last seen."""

    def __init__(self, message: str, job: Any) -> None:
        super().__init__(message)
        self.job = job


_BY_STATUS: dict[int, type[PieError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Unprocessable,
    429: TooManyRequests,
}


def error_for(status: int, body: bytes, headers: Any = None) -> PieError:
    """The typed error for an HTTP error answer, whatever shape its body has."""
    message, request_id = _message_of(body)
    if not message:
        message = _REASONS.get(status, f"HTTP {status}")
    if request_id is None and headers is not None:
        request_id = headers.get("apigw-requestid") or headers.get("x-amzn-requestid")
    kind = _BY_STATUS.get(status) or (ServerError if status >= 500 else PieError)
    return kind(message, status=status, request_id=request_id)


def _message_of(body: bytes) -> tuple[str, str | None]:
    try:
        document = json.loads(body)
    except ValueError:
        # Not JSON (a proxy's HTML page, an empty body): the first line of text, if short enough.
        text = body.decode("utf-8", errors="replace").strip()
        first_line = text.splitlines()[0] if text else ""
        return (first_line if 0 < len(first_line) <= 200 and "<" not in first_line else ""), None
    if not isinstance(document, dict):
        return "", None
    # PIE: {"success": false, "message"}; API Gateway: {"message"}; REST APIs' authorizers: {"Message"}.
    message = document.get("message", document.get("Message", ""))
    request_id = document.get("request_id")
    return (message if isinstance(message, str) else json.dumps(message)), (
        request_id if isinstance(request_id, str) else None
    )


_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Request Entity Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

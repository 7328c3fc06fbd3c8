"""The one place typed errors become HTTP statuses and ``{success: false, message}`` bodies."""

from __future__ import annotations

from typing import Any

from shared.domain import errors
from shared.kinds.base import shortened

# Problems a refusal names one by one; the rest are counted. Each location part (a field name the
# caller chose) is shortened, so no error body grows with the request.
PROBLEMS_LISTED = 10

STATUS_BY_ERROR: dict[type[errors.PieError], int] = {
    errors.RequestInvalidError: 400,
    errors.AuthenticationRequiredError: 401,
    errors.ScopeMissingError: 403,
    errors.WorkspaceAccessDeniedError: 403,
    errors.ResourceNotFoundError: 404,
    errors.ConflictError: 409,
    errors.UnprocessableError: 422,
}


def status_for(error: errors.PieError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[kind]
    return 500


def error_body(message: str, **extra: Any) -> dict[str, Any]:
    return {"success": False, "message": message, **extra}


def describe_validation_errors(problems: list[dict[str, Any]]) -> str:
    """Pydantic's errors as one readable sentence: ``body.handlers.training.arn: String should ...``,
    the first :data:`PROBLEMS_LISTED` of them and a count of the others."""
    if any(problem.get("type") == "json_invalid" for problem in problems):
        return "request body is not valid JSON"
    parts = []
    for problem in problems[:PROBLEMS_LISTED]:
        location = ".".join(shortened(str(part)) for part in problem.get("loc", ()))
        parts.append(f"{location}: {problem.get('msg', 'invalid')}")
    if len(problems) > PROBLEMS_LISTED:
        parts.append(f"and {len(problems) - PROBLEMS_LISTED:,} more problems")
    return "; ".join(parts) or "request is invalid"

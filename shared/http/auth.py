"""Who calls: the principal from the JWT authorizer's claims, its scopes and its workspaces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.domain.access import ADMIN_SCOPE, DEFAULT_WORKSPACES_CLAIM, Access, is_workspace_name
from shared.domain.errors import AuthenticationRequiredError, ScopeMissingError


@dataclass(frozen=True)
class Principal:
    subject: str
    scopes: frozenset[str]
    workspaces: frozenset[str] = frozenset()


def authorize(event: dict[str, Any], scope: str) -> tuple[Principal, Access]:
    """The caller of ``event`` and its reach over workspaces, if its token holds ``scope``."""
    # Imported here, as the services are: the settings are read at the first request.
    from shared.runtime import api_settings

    settings = api_settings()
    principal = principal_from_event(event, settings.workspaces_claim)
    if scope not in principal.scopes:
        raise ScopeMissingError(scope)
    access = Access(
        subject=principal.subject,
        workspaces=principal.workspaces,
        admin=ADMIN_SCOPE in principal.scopes,
        private_reads=settings.private_reads,
    )
    return principal, access


def principal_from_event(event: dict[str, Any], workspaces_claim: str = DEFAULT_WORKSPACES_CLAIM) -> Principal:
    """The caller, from the HTTP API JWT authorizer's context (payload 2.0).

    Claims arrive as strings; ``scopes`` is null unless the authorizer matched scopes, so the
    ``scope`` claim (or ``scp``) is read too, split on plain spaces only as API Gateway splits it
    (RFC 6749's scope-token separator): a tab, newline or no-break space is part of a scope.
    The workspaces claim may be a space-separated string or a list, which API Gateway hands over
    as the string ``[a b]``.
    """
    jwt = ((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt") or {}
    claims = jwt.get("claims") or {}
    subject = claims.get("sub")
    if not subject:
        raise AuthenticationRequiredError("a valid bearer token is required")
    scopes = set(jwt.get("scopes") or ())
    for claim in ("scope", "scp"):
        value = claims.get(claim)
        if isinstance(value, str):
            scopes.update(scope for scope in value.split(" ") if scope)
        elif isinstance(value, list):
            scopes.update(str(item) for item in value)
    return Principal(
        subject=str(subject), scopes=frozenset(scopes), workspaces=claimed_workspaces(claims.get(workspaces_claim))
    )


def claimed_workspaces(value: Any) -> frozenset[str]:
    """The workspace names in a claim: ``"a b"``, ``"a,b"``, ``"[a b]"`` or ``["a", "b"]``.
    Anything that is not a workspace name is ignored: no model can belong to it."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        names = text.replace(",", " ").split()
    elif isinstance(value, list):
        names = [str(item) for item in value]
    else:
        return frozenset()
    return frozenset(name for name in names if is_workspace_name(name))

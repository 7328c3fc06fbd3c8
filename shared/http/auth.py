"""Who calls: the principal from the JWT authorizer's claims, its scopes and its workspaces."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from shared.domain.access import ADMIN_SCOPE, DEFAULT_WORKSPACES_CLAIM, PROMOTE_SCOPE, Access, is_workspace_name
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
        promote=PROMOTE_SCOPE in principal.scopes,
    )
    return principal, access


def principal_from_event(event: dict[str, Any], workspaces_claim: str = DEFAULT_WORKSPACES_CLAIM) -> Principal:
    """The caller, from the HTTP API JWT authorizer's context (payload 2.0).

    Claims arrive as strings; ``scopes`` is null unless the authorizer matched scopes, so the
    ``scope`` claim (or ``scp``) is read too, split on plain spaces only as API Gateway splits it
    (RFC 6749's scope-token separator): a tab, newline or no-break space is part of a scope.
    The workspaces claim may be a string of names or a list (``workspaces_claim_value``).
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
    workspaces = claimed_workspaces(workspaces_claim_value(event, claims.get(workspaces_claim), workspaces_claim))
    return Principal(subject=str(subject), scopes=frozenset(scopes), workspaces=workspaces)


def workspaces_claim_value(event: dict[str, Any], handed_over: Any, claim: str) -> Any:
    """The workspaces claim as the token holds it, where API Gateway's copy lost its shape.

    API Gateway hands a list claim to the function as the string ``[a b]``: the items joined by
    spaces, so ``["bob alice"]`` and ``["bob", "alice"]`` arrive alike. The token the authorizer
    verified is still in the request (its identity source, ``Authorization``), so its payload is
    read back — it was verified, so it is only decoded — and its claim is taken when it is the one
    API Gateway handed over, which it always is for that token. Anything else keeps the handed-over
    value.
    """
    if not (isinstance(handed_over, str) and handed_over.startswith("[") and handed_over.endswith("]")):
        return handed_over
    headers = {str(name).lower(): value for name, value in (event.get("headers") or {}).items()}
    authorization = headers.get("authorization")
    if not isinstance(authorization, str):
        return handed_over
    scheme, _, credentials = authorization.strip().partition(" ")
    # API Gateway takes the token with or without its "Bearer" prefix.
    token = credentials.strip() if scheme.lower() == "bearer" else authorization.strip()
    payload = _jwt_payload(token)
    if payload is None or claim not in payload:
        return handed_over
    value = payload[claim]
    return value if _as_handed_over(value) == handed_over else handed_over


def _jwt_payload(token: str) -> dict[str, Any] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    return payload if isinstance(payload, dict) else None


def _as_handed_over(value: Any) -> str | None:
    """A list of strings as API Gateway hands it to the function; None for anything else."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "[" + " ".join(value) + "]"
    return value if isinstance(value, str) else None


def claimed_workspaces(value: Any) -> frozenset[str]:
    """The workspace names in a claim. A list holds one name per item, and an item that is not a
    workspace name (``"bob alice"``, ``"alice\\u00a0"``) is nothing: it is never split or trimmed.
    A string holds names separated by plain spaces or commas (``"a b"``, ``"a,b"``), and no other
    character (a tab or a no-break space is part of a name, so the name is not one); API Gateway's
    flattened list ``"[a b]"`` is read as the names it joined by spaces. Anything that is not a
    workspace name is ignored: no model can belong to it."""
    if isinstance(value, list):
        names = [item for item in value if isinstance(item, str)]
    elif isinstance(value, str):
        if value.startswith("[") and value.endswith("]"):
            names = value[1:-1].split(" ")
        else:
            names = value.replace(",", " ").split(" ")
    else:
        return frozenset()
    return frozenset(name for name in names if is_workspace_name(name))

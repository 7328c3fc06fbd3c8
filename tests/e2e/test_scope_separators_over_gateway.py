"""The local JWT authorizer splits the ``scope`` claim as API Gateway's does: on plain spaces only.
A token whose scopes are joined by a tab, a newline or a no-break space holds one odd scope, and
every route refuses it (403) before its function runs."""

from __future__ import annotations

from typing import Any

import pytest

from pie_local.gateway.gateway import JwtAuthorizer, LocalGateway
from pie_local.gateway.http import HttpRequest
from pie_local.gateway.tokens import SigningKeys, TokenVerifier, mint_token

pytestmark = pytest.mark.e2e

KEYS = SigningKeys.generate()


def _gateway(invoked: list[dict[str, Any]]) -> LocalGateway:
    def function(event: dict[str, Any], context: Any) -> dict[str, Any]:
        invoked.append(event)
        return {"statusCode": 200, "body": "{}"}

    return LocalGateway(JwtAuthorizer(TokenVerifier(KEYS.public_key)), load=lambda name: function)


def _get_models(scope_claim: str, invoked: list[dict[str, Any]]) -> int:
    token = mint_token(KEYS, scopes=[scope_claim])
    request = HttpRequest("GET", "/v2/models", [("Host", "127.0.0.1"), ("Authorization", f"Bearer {token}")])
    return _gateway(invoked).handle(request).status


@pytest.mark.parametrize(
    "separator",
    ["\t", "\n", "\r\n", "\u00a0", "\u2003", ","],
    ids=["tab", "newline", "crlf", "no-break-space", "em-space", "comma"],
)
def test_scopes_joined_by_anything_but_a_space_grant_nothing(separator: str):
    invoked: list[dict[str, Any]] = []

    assert _get_models(f"models:write{separator}models:read", invoked) == 403
    assert invoked == []


def test_scopes_joined_by_spaces_are_each_granted():
    invoked: list[dict[str, Any]] = []

    assert _get_models("models:write  models:read", invoked) == 200
    assert invoked[0]["requestContext"]["authorizer"]["jwt"]["scopes"] == ["models:write", "models:read"]

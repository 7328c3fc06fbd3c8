"""The workspaces claim as a function reads it behind the local JWT authorizer, which hands claims
over as API Gateway does (a list as the string ``[a b]``). A list item is one workspace name or
nothing, so a token whose claim is ``["bob alice"]`` acts in no workspace named ``alice``; a
string splits on plain spaces and commas only."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from pie_local.gateway.gateway import JwtAuthorizer, LocalGateway
from pie_local.gateway.http import HttpRequest
from pie_local.gateway.tokens import ALGORITHM, AUDIENCE, ISSUER, SigningKeys, TokenVerifier
from shared.http.auth import principal_from_event
from shared.routes import ALL_SCOPES

pytestmark = pytest.mark.e2e

KEYS = SigningKeys.generate()


def _token(workspaces: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "bob",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "scope": " ".join(ALL_SCOPES),
        "pie:workspaces": workspaces,
    }
    return jwt.encode(claims, KEYS.private_key, algorithm=ALGORITHM)


def _workspaces_seen_by_the_function(workspaces: Any, *, bearer: bool = True) -> frozenset[str]:
    invoked: list[dict[str, Any]] = []

    def function(event: dict[str, Any], context: Any) -> dict[str, Any]:
        invoked.append(event)
        return {"statusCode": 200, "body": "{}"}

    gateway = LocalGateway(JwtAuthorizer(TokenVerifier(KEYS.public_key)), load=lambda name: function)
    token = _token(workspaces)
    authorization = f"Bearer {token}" if bearer else token
    reply = gateway.handle(HttpRequest("GET", "/v2/models", [("Host", "127.0.0.1"), ("Authorization", authorization)]))
    assert reply.status == 200
    return principal_from_event(invoked[0]).workspaces


@pytest.mark.parametrize(
    "claim",
    [["bob alice"], ["bob,alice"], ["alice\u00a0"], ["bob", "alice\u00a0"], "x\talice", "x\u00a0alice"],
    ids=["space-in-item", "comma-in-item", "nbsp-after-item", "nbsp-in-second-item", "tab-string", "nbsp-string"],
)
def test_a_claim_that_does_not_name_alice_acts_in_no_workspace_alice(claim: Any):
    assert "alice" not in _workspaces_seen_by_the_function(claim)


@pytest.mark.parametrize("bearer", [True, False], ids=["bearer", "bare-token"])
def test_a_list_claim_acts_in_each_of_its_names(bearer: bool):
    assert _workspaces_seen_by_the_function(["bob", "alice"], bearer=bearer) == {"bob", "alice"}


@pytest.mark.parametrize(("claim", "expected"), [("bob alice", {"bob", "alice"}), ("bob,alice", {"bob", "alice"})])
def test_a_string_claim_splits_on_spaces_and_commas(claim: str, expected: set[str]):
    assert _workspaces_seen_by_the_function(claim) == expected

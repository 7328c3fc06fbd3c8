"""Reading the caller and conditional-write headers from an API Gateway payload 2.0 event."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from shared.domain.errors import AuthenticationRequiredError, RequestInvalidError
from shared.http.auth import principal_from_event
from shared.http.params import parse_if_match
from tests.conftest import load_event

SAMPLE = load_event("get_model")


def _event(claims: dict[str, Any] | None = None, scopes: list[str] | None = None) -> dict[str, Any]:
    event = copy.deepcopy(SAMPLE)
    jwt = event["requestContext"]["authorizer"]["jwt"]
    if claims is not None:
        jwt["claims"] = claims
    jwt["scopes"] = scopes
    return event


# principal_from_event ---------------------------------------------------------------------------


def test_the_sample_events_caller_has_read_and_write_scopes():
    principal = principal_from_event(SAMPLE)

    assert principal.subject == "5b8c2f1e-7d4a-4e2b-9c3f-1a2b3c4d5e6f"
    assert principal.scopes == {"models:read", "models:write"}


def test_string_claims_and_null_scopes_are_read_from_the_scope_claim():
    claims = {"sub": "user-1", "exp": "1767229300", "iat": "1767225700", "scope": "models:read"}

    principal = principal_from_event(_event(claims, scopes=None))

    assert principal.subject == "user-1"
    assert principal.scopes == {"models:read"}


def test_the_scope_claim_is_space_separated():
    principal = principal_from_event(_event({"sub": "u", "scope": "  models:read   jobs:write openid "}))
    assert principal.scopes == {"models:read", "jobs:write", "openid"}


@pytest.mark.parametrize(
    "separator",
    [",", "\t", "\n", "\r\n", "\u00a0", "\u2003", "\u3000"],
    ids=["comma", "tab", "newline", "crlf", "no-break-space", "em-space", "ideographic-space"],
)
def test_only_a_plain_space_separates_scopes_as_api_gateway_splits_them(separator: str):
    principal = principal_from_event(_event({"sub": "u", "scope": f"models:read{separator}models:write"}))
    assert principal.scopes == {f"models:read{separator}models:write"}


def test_scopes_matched_by_the_authorizer_are_used():
    principal = principal_from_event(_event({"sub": "u"}, scopes=["models:write"]))
    assert principal.scopes == {"models:write"}


def test_authorizer_scopes_and_the_scope_claim_are_combined():
    principal = principal_from_event(_event({"sub": "u", "scope": "models:read"}, scopes=["jobs:write"]))
    assert principal.scopes == {"models:read", "jobs:write"}


def test_an_scp_claim_as_a_list_is_read():
    principal = principal_from_event(_event({"sub": "u", "scp": ["models:read", "jobs:write"]}))
    assert principal.scopes == {"models:read", "jobs:write"}


def test_a_token_without_scopes_has_none():
    assert principal_from_event(_event({"sub": "u"})).scopes == frozenset()


@pytest.mark.parametrize(
    "claims",
    [{}, {"sub": ""}, {"scope": "models:read"}, {"sub": None}],
    ids=["no-claims", "empty-sub", "no-sub", "null-sub"],
)
def test_claims_without_a_subject_are_unauthenticated(claims: dict[str, Any]):
    with pytest.raises(AuthenticationRequiredError):
        principal_from_event(_event(claims))


@pytest.mark.parametrize(
    "strip",
    ["claims", "jwt", "authorizer", "requestContext"],
)
def test_an_event_without_the_authorizer_context_is_unauthenticated(strip: str):
    event = copy.deepcopy(SAMPLE)
    parents = {
        "claims": event["requestContext"]["authorizer"]["jwt"],
        "jwt": event["requestContext"]["authorizer"],
        "authorizer": event["requestContext"],
        "requestContext": event,
    }
    del parents[strip][strip]

    with pytest.raises(AuthenticationRequiredError):
        principal_from_event(event)


def test_a_null_authorizer_is_unauthenticated():
    event = copy.deepcopy(SAMPLE)
    event["requestContext"]["authorizer"] = None
    with pytest.raises(AuthenticationRequiredError):
        principal_from_event(event)


# parse_if_match ---------------------------------------------------------------------------------


def test_no_if_match_header_means_an_unconditional_write():
    assert parse_if_match(None) is None


@pytest.mark.parametrize(
    ("header", "entity_version"),
    [
        ("3", 3),
        ('"3"', 3),
        ('W/"3"', 3),
        (' "12" ', 12),
        ("0", 0),
        ('"123456789012345678"', 123456789012345678),
    ],
    ids=["bare", "quoted", "weak", "padded", "zero", "eighteen-digits"],
)
def test_if_match_accepts_an_entity_version_bare_quoted_or_weak(header: str, entity_version: int):
    assert parse_if_match(header) == entity_version


@pytest.mark.parametrize(
    "header",
    ["", "abc", '"abc"', "*", "-1", "3.0", "1e3", '"3", "4"', 'W/""', "W/", "1234567890123456789"],
    ids=[
        "empty",
        "word",
        "quoted-word",
        "star",
        "negative",
        "decimal",
        "exponent",
        "list",
        "weak-empty",
        "weak-only",
        "too-long",
    ],
)
def test_if_match_that_is_not_an_entity_version_is_a_request_error(header: str):
    with pytest.raises(RequestInvalidError, match="If-Match"):
        parse_if_match(header)

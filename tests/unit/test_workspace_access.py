"""The workspace rules (``shared.domain.access``) and the claim they are read from, without I/O."""

from __future__ import annotations

import pytest

from shared.domain.access import Access, is_workspace_name
from shared.domain.errors import ModelNotFoundError, WorkspaceAccessDeniedError, WorkspaceRequiredError
from shared.http.auth import claimed_workspaces, principal_from_event

ALICE = Access("alice", frozenset({"alice"}))
BOTH = Access("both", frozenset({"alice", "bob"}))
ADMIN = Access("admin", frozenset(), admin=True)


def test_a_member_writes_and_a_stranger_is_refused_naming_the_workspace():
    ALICE.require_write("alice", "m")
    with pytest.raises(WorkspaceAccessDeniedError, match="'bob'") as refused:
        ALICE.require_write("bob", "m")
    assert refused.value.workspace == "bob"


def test_an_admin_writes_everywhere():
    ADMIN.require_write("anything", "m")
    assert ADMIN.can_write("default")


def test_open_reads_let_everyone_read():
    ALICE.require_read("bob", "m")
    assert ALICE.listed_workspaces(None) is None


def test_private_reads_hide_other_workspaces_as_missing_models():
    private = Access("alice", frozenset({"alice"}), private_reads=True)
    private.require_read("alice", "m")
    with pytest.raises(ModelNotFoundError):
        private.require_read("bob", "m")
    with pytest.raises(ModelNotFoundError):  # a write to a hidden model: 404, not 403
        private.require_write("bob", "m")


def test_private_lists_cover_the_callers_workspaces_and_a_filter_narrows_them():
    private = Access("both", frozenset({"bob", "alice"}), private_reads=True)
    assert private.listed_workspaces(None) == ("alice", "bob")
    assert private.listed_workspaces("bob") == ("bob",)
    assert private.listed_workspaces("carol") == ()
    assert Access("a", private_reads=True, admin=True).listed_workspaces(None) is None
    assert ALICE.listed_workspaces("carol") == ("carol",)


def test_a_new_model_goes_to_the_named_or_the_only_workspace():
    assert ALICE.workspace_for_new_model(None) == "alice"
    assert BOTH.workspace_for_new_model("bob") == "bob"
    assert ADMIN.workspace_for_new_model("carol") == "carol"
    with pytest.raises(WorkspaceRequiredError, match="alice, bob"):
        BOTH.workspace_for_new_model(None)
    with pytest.raises(WorkspaceRequiredError):  # an admin with no workspace claim names one
        ADMIN.workspace_for_new_model(None)
    with pytest.raises(WorkspaceAccessDeniedError):
        ALICE.workspace_for_new_model("bob")


def test_service_access_acts_for_every_team():
    Access.service("pie-dispatcher").require_write("any", "m")


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        ("alice bob", {"alice", "bob"}),
        ("[alice bob]", {"alice", "bob"}),  # a list claim, as API Gateway hands it to the function
        ("[alice]", {"alice"}),
        ("alice,bob", {"alice", "bob"}),
        (["alice", "bob"], {"alice", "bob"}),
        ("[]", set()),
        (None, set()),
        ("alice bad/name -x", {"alice"}),
    ],
)
def test_the_workspaces_claim_is_read_in_every_shape(claim, expected):
    assert claimed_workspaces(claim) == expected


@pytest.mark.parametrize(
    "claim",
    [
        ["bob alice"],
        ["bob,alice"],
        ["alice\u00a0"],
        [" alice"],
        ["alice\n"],
        "x\talice",
        "x\u00a0alice",
        "x\nalice",
        "[bob\talice]",
        "[bob,alice]",
        "[alice\u00a0]",
    ],
)
def test_a_list_item_is_one_name_and_a_string_splits_on_spaces_and_commas_only(claim):
    assert "alice" not in claimed_workspaces(claim)


def test_the_claim_name_is_configurable():
    event = {
        "requestContext": {
            "authorizer": {
                "jwt": {
                    "claims": {
                        "sub": "u",
                        "scope": "models:read",
                        "cognito:groups": "[ml-team]",
                        "pie:workspaces": "other",
                    }
                }
            }
        }
    }
    assert principal_from_event(event, "cognito:groups").workspaces == {"ml-team"}
    assert principal_from_event(event).workspaces == {"other"}


def test_a_workspace_name_admits_no_trailing_newline():
    assert is_workspace_name("team-a.b_c")
    assert not is_workspace_name("team\n")
    assert not is_workspace_name("x" * 65)
    assert not is_workspace_name("-team")

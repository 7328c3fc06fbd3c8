"""``pie aliases ...`` and ``@alias`` as a version, through the ``pie`` command against
``pie-local serve``: output as tables and JSON, --reason, --if-match, --as-of, exit codes, and a
protected alias refused to a token without models:promote."""

from __future__ import annotations

import functools
import json
import subprocess
import uuid
from collections.abc import Callable

import pytest

from pie_client import PieClient
from tests.clients.handlers import WAITING
from tests.clients.test_pie_cli import assert_one_line_error
from tests.clients.test_pie_cli import pie as run_pie
from tests.clients.test_sdk_aliases_over_http import WITHOUT_PROMOTE, model_with_active_versions
from tests.e2e.client import mint
from tests.e2e.local_server import LocalServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cli(server: LocalServer, token: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    return functools.partial(run_pie, server, PIE_TOKEN=token)


def ok(completed: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert completed.returncode == 0, (completed.stdout, completed.stderr)
    return completed


def test_an_alias_is_set_moved_read_listed_and_deleted_as_json_and_as_tables(pie: PieClient, cli):
    model_id = model_with_active_versions(pie, "1", "2")

    first = json.loads(ok(cli("aliases", "set", model_id, "champion", "1", "--reason", "first", "-o", "json")).stdout)
    moved = ok(cli("aliases", "set", model_id, "champion", "2", "--reason", "weekly release")).stdout
    got = json.loads(ok(cli("aliases", "get", model_id, "champion", "-o", "json")).stdout)
    then = json.loads(
        ok(cli("aliases", "get", model_id, "champion", "--as-of", first["updated_at"], "-o", "json")).stdout
    )
    table = ok(cli("aliases", "list", model_id)).stdout
    listed = json.loads(ok(cli("aliases", "list", model_id, "-o", "json")).stdout)
    deleted = json.loads(ok(cli("aliases", "delete", model_id, "champion", "-o", "json")).stdout)
    history = json.loads(ok(cli("aliases", "history", model_id, "champion", "-o", "json")).stdout)
    history_table = ok(cli("aliases", "history", model_id, "champion")).stdout
    gone = cli("aliases", "get", model_id, "champion")

    assert (first["name"], first["version"], first["reason"]) == ("champion", "1", "first")
    assert "weekly release" in moved and not moved.lstrip().startswith("{")  # a field table by default
    assert (got["version"], got["reason"], got["entity_version"]) == ("2", "weekly release", 2)
    assert then["version"] == "1"
    assert "ALIAS" in table and "champion" in table and "weekly release" in table
    assert [(alias["name"], alias["version"]) for alias in listed] == [("champion", "2")]
    assert deleted == {"deleted": "alias", "id": "champion"}
    assert [(change["version"], change["previous_version"]) for change in history] == [
        (None, "2"),
        ("2", "1"),
        ("1", None),
    ]
    assert "(deleted)" in history_table and "weekly release" in history_table
    assert "champion" in assert_one_line_error(gone, 1)


def test_a_move_with_a_stale_if_match_exits_1_and_moves_nothing(pie: PieClient, cli):
    model_id = model_with_active_versions(pie, "1", "2")
    ok(cli("aliases", "set", model_id, "champion", "1"))
    ok(cli("aliases", "set", model_id, "champion", "2", "--if-match", "1"))

    late = cli("aliases", "set", model_id, "champion", "1", "--if-match", "1")
    late_delete = cli("aliases", "delete", model_id, "champion", "--if-match", "1")

    assert_one_line_error(late, 1)
    assert_one_line_error(late_delete, 1)
    assert pie.get_alias(model_id, "champion").version == "2"


def test_at_alias_names_the_version_for_versions_get_and_infer(pie: PieClient, cli):
    model_id = model_with_active_versions(pie, "1", "2")
    pie.set_alias(model_id, "champion", "1")

    read = json.loads(ok(cli("versions", "get", model_id, "@champion", "-o", "json")).stdout)
    job = json.loads(ok(cli("infer", model_id, "--input", "{}", "--version", "@champion", "-o", "json")).stdout)
    unknown = cli("versions", "get", model_id, "@nobody")

    assert read["version"] == "1" and read["model_id"] == model_id
    assert job["version"] == "1"
    assert_one_line_error(unknown, 1)


def test_a_protected_alias_is_refused_to_a_token_without_models_promote(
    pie: PieClient, server: LocalServer, pie_home, cli
):
    model_id = model_with_active_versions(pie, "1", "2", protected_aliases=["champion"])
    pie.set_alias(model_id, "champion", "1")
    ci = functools.partial(pie_cli_as, server, mint(pie_home, *WITHOUT_PROMOTE))

    refused = ci("aliases", "set", model_id, "champion", "2")
    refused_delete = ci("aliases", "delete", model_id, "champion")
    allowed = cli("aliases", "set", model_id, "champion", "2", "-o", "json")

    assert "models:promote" in assert_one_line_error(refused, 1)
    assert "models:promote" in assert_one_line_error(refused_delete, 1)
    assert json.loads(ok(allowed).stdout)["version"] == "2"


def pie_cli_as(server: LocalServer, token: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return run_pie(server, *arguments, PIE_TOKEN=token)


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (("aliases", "get", "m", "champion", "--as-of", "2026-03-14T14:03:00"), "has no offset"),
        (("aliases", "get", "m", "champion", "--as-of", "yesterday"), "is not an RFC 3339 time"),
        (("aliases", "set", "m", "champion", "1", "--if-match", "one"), "--if-match"),
        (("aliases", "set", "m", "champion"), "VERSION"),
    ],
)
def test_bad_arguments_are_usage_errors_before_any_request(arguments: tuple[str, ...], named: str, server: LocalServer):
    # A token that would not be accepted: the command must fail on its arguments first.
    completed = run_pie(server, *arguments, PIE_TOKEN="not-a-token")

    assert named in assert_one_line_error(completed, 2)


def test_protection_and_promotion_are_set_and_cleared_with_models_create_and_update(server: LocalServer, pie_home, cli):
    model_id = f"cli-{uuid.uuid4().hex[:8]}"
    handlers = json.dumps(WAITING)
    created = cli(
        "models",
        "create",
        model_id,
        "--name",
        "P",
        "--handlers",
        handlers,
        "--protected-aliases",
        "champion, canary",
        "--promotion",
        "candidate",
        "-o",
        "json",
    )
    lifted_by_ci = pie_cli_as(
        server, mint(pie_home, *WITHOUT_PROMOTE), "models", "update", model_id, "--protected-aliases", ""
    )
    cleared = cli("models", "update", model_id, "--protected-aliases", "", "--promotion", "", "-o", "json")

    assert json.loads(ok(created).stdout)["protected_aliases"] == ["champion", "canary"]
    assert json.loads(created.stdout)["promotion"] == {"alias": "candidate"}
    assert "models:promote" in assert_one_line_error(lifted_by_ci, 1)
    model = json.loads(ok(cleared).stdout)
    assert model["protected_aliases"] == [] and model["promotion"] is None

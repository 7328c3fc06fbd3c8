"""``pie apply`` with aliases through the ``pie`` command against ``pie-local serve``: protection and
promotion declared in the file, pins planned (--plan exits 2, then 0) and moved, a protected pin
refused to a token without models:promote, and --prune deleting an alias the file names nowhere."""

from __future__ import annotations

import functools
import json
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from pie_client import PieClient
from tests.clients.test_pie_cli import assert_one_line_error
from tests.clients.test_pie_cli import pie as run_pie
from tests.clients.test_sdk_aliases_over_http import WITHOUT_PROMOTE
from tests.e2e.client import mint
from tests.e2e.local_server import LocalServer

pytestmark = pytest.mark.e2e

LAMBDA = "{type: lambda, arn: 'arn:aws:lambda:us-west-2:123456789012:function:train'}"


def declaration(model_id: str, aliases: str | None) -> str:
    return f"""owner: {model_id}
models:
  - id: {model_id}
    name: Prices
    handlers:
      training: {LAMBDA}
      inference: {LAMBDA}
    protected_aliases: [champion]
    promotion: {{alias: candidate}}
""" + (f"    aliases: {aliases}\n" if aliases is not None else "")


@pytest.fixture(scope="module")
def cli(server: LocalServer, token: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    return functools.partial(run_pie, server, PIE_TOKEN=token)


def test_aliases_and_protection_declared_in_the_file_are_planned_applied_and_pruned(
    tmp_path: Path, pie: PieClient, server: LocalServer, pie_home: Path, cli
):
    model_id = f"apply-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "pie.yaml"
    path.write_text(declaration(model_id, aliases=None))
    created = cli("apply", "-f", str(path))
    assert created.returncode == 0, created.stderr
    for version in ("1", "2"):  # activation moves the promotion's alias
        if version != "1":
            pie.create_version(model_id, version)
        pie.set_version_status(model_id, version, "training")
        pie.set_version_status(model_id, version, "active")

    path.write_text(declaration(model_id, aliases="{champion: 1, canary: '2'}"))
    planned = cli("apply", "-f", str(path), "--plan")
    as_json = cli("apply", "-f", str(path), "--plan", "-o", "json")
    refused = run_pie(server, "apply", "-f", str(path), PIE_TOKEN=mint(pie_home, *WITHOUT_PROMOTE))
    applied = cli("apply", "-f", str(path))
    again = cli("apply", "-f", str(path), "--plan")

    model = pie.get_model(model_id)
    assert model.protected_aliases == ["champion"] and model.promotion is not None
    assert model.promotion.alias == "candidate"
    assert planned.returncode == 2, planned.stderr
    assert f"+ alias {model_id}@champion: create -> 1 (protected: needs models:promote)" in planned.stdout
    assert f"+ alias {model_id}@canary: create -> 2" in planned.stdout
    assert "Plan: 2 to create" in planned.stdout
    assert as_json.returncode == 2
    assert [(item["name"], item["action"], item["after"]) for item in json.loads(as_json.stdout)["aliases"]] == [
        ("canary", "create", "2"),
        ("champion", "create", "1"),
    ]
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "models:promote" in refused.stderr.strip().splitlines()[-1]  # after the unprotected canary was moved
    assert pie.get_alias(model_id, "canary").version == "2"
    assert applied.returncode == 0, applied.stderr
    assert f"created alias {model_id}@champion -> 1" in applied.stderr
    assert again.returncode == 0, again.stdout + again.stderr  # no changes
    aliases = {alias.name: alias for alias in pie.list_aliases(model_id)}
    assert {name: alias.version for name, alias in aliases.items()} == {
        "candidate": "2",
        "canary": "2",
        "champion": "1",
    }
    assert aliases["champion"].reason == "pie apply"

    # A move of a pin; an alias set by hand is listed, and deleted with --prune; the promotion's stays.
    pie.set_alias(model_id, "leftover", "1")
    path.write_text(declaration(model_id, aliases="{champion: 2}"))
    moved = cli("apply", "-f", str(path), "--plan", "--prune")
    pruned = cli("apply", "-f", str(path), "--prune")

    assert moved.returncode == 2, moved.stderr
    assert f"~ alias {model_id}@champion: move 1 => 2 (protected: needs models:promote)" in moved.stdout
    assert f"- alias {model_id}@canary: delete (not in the file)" in moved.stdout
    assert f"- alias {model_id}@leftover: delete (not in the file)" in moved.stdout
    assert "candidate" not in moved.stdout
    assert pruned.returncode == 0, pruned.stderr
    assert {alias.name: alias.version for alias in pie.list_aliases(model_id)} == {"candidate": "2", "champion": "2"}


def test_a_pin_onto_a_version_that_is_not_active_fails_the_plan_with_exit_1_and_writes_nothing(
    tmp_path: Path, pie: PieClient, cli
):
    model_id = f"apply-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "pie.yaml"
    path.write_text(declaration(model_id, aliases=None))
    assert cli("apply", "-f", str(path)).returncode == 0
    path.write_text(declaration(model_id, aliases="{champion: 1}"))  # version 1 is pending

    planned = cli("apply", "-f", str(path), "--plan")
    applied = cli("apply", "-f", str(path))

    assert planned.returncode == 1
    assert f"x alias {model_id}@champion: version 1 is pending; an alias points at an active version" in planned.stdout
    assert applied.returncode == 1 and "nothing was applied" in applied.stderr
    assert pie.list_aliases(model_id) == []


def test_a_bad_alias_name_in_the_file_is_an_error_before_any_request(tmp_path: Path, server: LocalServer):
    path = tmp_path / "pie.yaml"
    path.write_text(declaration("any-model", aliases="{Champion: 1}"))

    planned = run_pie(server, "apply", "-f", str(path), "--plan", PIE_TOKEN="not-a-token")
    applied = run_pie(server, "apply", "-f", str(path), PIE_TOKEN="not-a-token")

    assert "'Champion' is not an alias name" in assert_one_line_error(planned, 1)
    assert "'Champion' is not an alias name" in assert_one_line_error(applied, 2)

"""``pie apply --prune`` and honest plans: deletions of what the file owns, refusals before any write,
and ``--plan`` exit codes (0 no changes, 2 changes, 1 error), all through the ``pie`` command."""

from __future__ import annotations

import functools
import json
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.clients.test_pie_cli import assert_one_line_error, pie
from tests.e2e.local_server import LocalServer

pytestmark = pytest.mark.e2e

ECHO = "{type: in_process, implementation: echo}"


def _model(model_id: str, subscriptions: str = "", handler: str = ECHO) -> str:
    block = f"""
  - id: {model_id}
    name: {model_id}
    handlers:
      training: {handler}
      inference: {ECHO}
"""
    return block + (f"    subscriptions:\n{subscriptions}" if subscriptions else "")


def _subscription(name: str, target: str) -> str:
    return f"""      - name: {name}
        trigger_event: training_complete
        target_model_id: {target}
        target_action: training
        input_source: trigger_output
"""


def _write(path: Path, body: str, owner: str | None) -> Path:
    path.write_text((f"owner: {owner}\n" if owner else "") + "models:" + body)
    return path


@pytest.fixture(scope="module")
def cli(server: LocalServer, token: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    return functools.partial(pie, server, PIE_TOKEN=token)


@pytest.fixture
def prefix() -> str:
    return f"prune-{uuid.uuid4().hex[:8]}"


def test_what_the_file_no_longer_declares_is_listed_and_deleted_only_with_prune(tmp_path: Path, prefix: str, cli):
    a, b = f"{prefix}-a", f"{prefix}-b"
    full = _write(tmp_path / "full.yaml", _model(a, _subscription("b-after-a", b)) + _model(b), owner=prefix)
    shrunk = _write(tmp_path / "shrunk.yaml", _model(a), owner=prefix)
    assert cli("apply", "-f", str(full)).returncode == 0

    kept = cli("apply", "-f", str(shrunk), "--plan")
    planned = cli("apply", "-f", str(shrunk), "--plan", "--prune")
    as_json = cli("apply", "-f", str(shrunk), "--plan", "--prune", "-o", "json")
    still_there = cli("subscriptions", "list", a, "-o", "json")
    pruned = cli("apply", "-f", str(shrunk), "--prune")
    again = cli("apply", "-f", str(shrunk), "--plan", "--prune")

    assert kept.returncode == 0, kept.stderr  # nothing to do without --prune
    assert f"? subscription {a}/b-after-a: not in the file (use --prune to delete)" in kept.stdout
    assert f"? model {b}: not in the file (use --prune to delete)" in kept.stdout
    assert planned.returncode == 2, planned.stderr
    assert f"- subscription {a}/b-after-a: delete (not in the file)" in planned.stdout
    assert f"- model {b}: delete (not in the file)" in planned.stdout
    assert "Plan: 2 to delete" in planned.stdout
    assert as_json.returncode == 2 and json.loads(as_json.stdout)["counts"]["delete"] == 2
    assert [sub["label"] for sub in json.loads(still_there.stdout)] == ["b-after-a"]  # the plan wrote nothing
    assert pruned.returncode == 0, pruned.stderr
    assert "2 deleted" in pruned.stdout
    assert cli("subscriptions", "list", a, "-o", "json").stdout.strip() == "[]"
    assert cli("models", "get", b).returncode == 1
    assert again.returncode == 0 and "No changes" in again.stdout


def test_prune_leaves_what_the_file_does_not_own(tmp_path: Path, prefix: str, cli):
    mine, theirs, hand = f"{prefix}-mine", f"{prefix}-theirs", f"{prefix}-hand"
    assert (
        cli("apply", "-f", str(_write(tmp_path / "theirs.yaml", _model(theirs), owner=f"{prefix}-x"))).returncode == 0
    )
    assert cli("apply", "-f", str(_write(tmp_path / "hand.yaml", _model(hand), owner=None))).returncode == 0
    assert cli("subscriptions", "create", hand, "--event", "training_complete", "--target", hand,
               "--action", "inference", "--label", "by-hand").returncode == 0  # fmt: skip
    mine_file = _write(tmp_path / "mine.yaml", _model(mine), owner=prefix)

    planned = cli("apply", "-f", str(mine_file), "--prune", "--plan")

    assert planned.returncode == 2, planned.stderr  # only the creation of its own model
    assert theirs not in planned.stdout and hand not in planned.stdout
    assert cli("apply", "-f", str(mine_file), "--prune").returncode == 0
    assert cli("models", "get", theirs).returncode == 0 and cli("models", "get", hand).returncode == 0
    model = json.loads(cli("models", "get", mine, "-o", "json").stdout)
    assert model["metadata"] == {"pie.apply/owner": prefix}


def test_prune_without_an_owner_is_refused(tmp_path: Path, prefix: str, cli):
    path = _write(tmp_path / "pie.yaml", _model(f"{prefix}-a"), owner=None)

    assert "owner" in assert_one_line_error(cli("apply", "-f", str(path), "--prune"), 2)
    assert "owner" in assert_one_line_error(cli("apply", "-f", str(path), "--prune", "--plan"), 1)


def test_a_subscription_to_a_missing_model_is_refused_before_anything_is_written(tmp_path: Path, prefix: str, cli):
    a = f"{prefix}-a"
    path = _write(tmp_path / "pie.yaml", _model(a, _subscription("to-nowhere", f"{prefix}-nowhere")), owner=None)

    planned = cli("apply", "-f", str(path), "--plan")
    applied = cli("apply", "-f", str(path))

    assert planned.returncode == 1
    assert f"x subscription {a}/to-nowhere: its target model {prefix}-nowhere does not exist" in planned.stdout
    assert "nothing was applied" in assert_one_line_error(applied, 1)
    assert cli("models", "get", a).returncode == 1  # the model was not created either


@pytest.mark.parametrize(
    ("handler", "complaint"),
    [
        ("{type: lambda, arn: 'arn:aws:lambda:nowhere'}", "handlers.training.arn"),
        ("{type: in_process, implementation: 'Not-A-Name'}", "handlers.training.implementation"),
        ("{type: carrier_pigeon, loft: 'north'}", "no handler type 'carrier_pigeon'"),
        # Well-formed, but outside the server's policy: only the server's check can tell.
        ("{type: in_process, implementation: not_registered}", "no in-process implementation named 'not_registered'"),
        ("{type: lambda, arn: 'arn:aws:lambda:us-west-2:999999999999:function:train'}", "account 999999999999"),
    ],
)
def test_a_handler_the_server_would_refuse_stops_the_plan(tmp_path: Path, prefix: str, cli, handler: str, complaint):
    first, second = f"{prefix}-first", f"{prefix}-second"
    path = _write(tmp_path / "pie.yaml", _model(first) + _model(second, handler=handler), owner=None)

    planned = cli("apply", "-f", str(path), "--plan")
    applied = cli("apply", "-f", str(path))

    assert planned.returncode == 1, planned.stdout
    assert complaint in planned.stdout
    assert_one_line_error(applied, 1)
    assert cli("models", "get", first).returncode == 1  # not created: the apply did not stop halfway


def test_plan_exit_codes_are_0_without_changes_2_with_changes_and_1_on_error(tmp_path: Path, prefix: str, cli):
    path = _write(tmp_path / "pie.yaml", _model(f"{prefix}-a"), owner=None)
    broken = tmp_path / "broken.yaml"
    broken.write_text("models: [")

    changes = cli("apply", "-f", str(path), "--plan")
    assert cli("apply", "-f", str(path)).returncode == 0
    none = cli("apply", "-f", str(path), "--plan")
    error = cli("apply", "-f", str(broken), "--plan")

    assert (changes.returncode, none.returncode) == (2, 0), (changes.stderr, none.stderr)
    assert_one_line_error(error, 1)
    assert_one_line_error(cli("apply", "-f", str(broken)), 2)  # without --plan a bad file stays a usage error

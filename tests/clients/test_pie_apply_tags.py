"""``pie apply`` with ``tags:`` per model, through the ``pie`` command against ``pie-local serve``:
tags given at creation, changes planned (--plan exits 2, then 0) and applied through the tag
routes without cutting a version, --prune deleting the tags an owned model's entry no longer
names, and a model whose entry has no ``tags:`` left alone."""

from __future__ import annotations

import functools
import json
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from pie_client import PieClient
from pie_client import apply as declared
from tests.clients.test_pie_cli import pie as run_pie
from tests.e2e.local_server import LocalServer

pytestmark = pytest.mark.e2e

LAMBDA = "{type: lambda, arn: 'arn:aws:lambda:us-west-2:123456789012:function:train'}"


def declaration(model_id: str, tags: str | None, owner: str | None = None) -> str:
    return f"""owner: {owner or model_id}
models:
  - id: {model_id}
    name: Prices
    handlers:
      training: {LAMBDA}
      inference: {LAMBDA}
""" + (f"    tags: {tags}\n" if tags is not None else "")


@pytest.fixture(scope="module")
def cli(server: LocalServer, token: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    return functools.partial(run_pie, server, PIE_TOKEN=token)


def test_declared_tags_are_created_changed_and_pruned_without_cutting_a_version(tmp_path: Path, pie: PieClient, cli):
    model_id = f"tags-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "pie.yaml"
    path.write_text(declaration(model_id, "{team: pricing, priority: 1, team/owner: ana}"))
    created = cli("apply", "-f", str(path))
    pie.set_version_status(model_id, "1", "training")
    pie.set_version_status(model_id, "1", "active")  # an update of the model itself would cut version 2
    pie.set_model_tag(model_id, "added-by-hand", "x")

    path.write_text(declaration(model_id, "{team: search, priority: 1, stage: prod, team/owner: ana}"))
    planned = cli("apply", "-f", str(path), "--plan")
    as_json = cli("apply", "-f", str(path), "--plan", "-o", "json")
    applied = cli("apply", "-f", str(path))
    kept = pie.get_model(model_id).tags
    pruned = cli("apply", "-f", str(path), "--prune")
    again = cli("apply", "-f", str(path), "--plan", "--prune")

    model = pie.get_model(model_id)
    assert created.returncode == 0, created.stderr
    assert planned.returncode == 2, planned.stdout + planned.stderr
    assert f'~ tag {model_id}/tags/team: "pricing" => "search" (no version is cut)' in planned.stdout
    assert f'+ tag {model_id}/tags/stage: set = "prod"' in planned.stdout
    assert f"= tag {model_id}/tags/priority: no changes" in planned.stdout
    assert f"? tag {model_id}/tags/added-by-hand: not in the file (use --prune to delete)" in planned.stdout
    assert f"= model {model_id}: no changes" in planned.stdout
    assert "Plan: 1 to create, 1 to update" in planned.stdout
    plan = json.loads(as_json.stdout)
    assert [(tag["key"], tag["action"], tag["before"], tag["after"]) for tag in plan["tags"]] == [
        ("priority", "unchanged", "1", "1"),
        ("stage", "create", None, "prod"),
        ("team", "update", "pricing", "search"),
        ("team/owner", "unchanged", "ana", "ana"),
    ]
    assert applied.returncode == 0, applied.stderr
    assert f"changed tag {model_id}/tags/team = search" in applied.stderr
    assert kept["added-by-hand"] == "x"  # not pruned without --prune
    assert pruned.returncode == 0, pruned.stderr
    assert f"deleted tag {model_id}/tags/added-by-hand" in pruned.stderr
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes" in again.stdout
    assert model.tags == {"team": "search", "priority": "1", "stage": "prod", "team/owner": "ana"}
    assert model.latest_version == "1"  # no version was cut


def test_tags_of_a_model_not_owned_or_without_a_tags_key_are_never_pruned(tmp_path: Path, pie: PieClient, cli):
    model_id = f"tags-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "pie.yaml"
    path.write_text(declaration(model_id, "{team: pricing}"))
    assert cli("apply", "-f", str(path)).returncode == 0
    pie.set_model_tag(model_id, "by-hand", "x")

    path.write_text(declaration(model_id, None))  # no tags: key, so the file does not manage them
    without_key = cli("apply", "-f", str(path), "--prune")
    path.write_text(declaration(model_id, "{}", owner="someone-else"))  # not the model's owner
    foreign = cli("apply", "-f", str(path), "--plan", "-o", "json")

    assert without_key.returncode == 0, without_key.stdout + without_key.stderr
    assert "No changes" in without_key.stdout
    assert json.loads(foreign.stdout)["not_in_file"] == []
    assert pie.get_model(model_id).tags == {"team": "pricing", "by-hand": "x"}


def test_a_new_slash_key_on_an_existing_model_is_a_plan_problem_and_nothing_is_applied(
    tmp_path: Path, pie: PieClient, cli
):
    model_id = f"tags-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "pie.yaml"
    path.write_text(declaration(model_id, "{team: pricing}"))
    assert cli("apply", "-f", str(path)).returncode == 0

    path.write_text(declaration(model_id, "{team: search, team/owner: ana}"))
    refused = cli("apply", "-f", str(path))

    assert refused.returncode == 1
    assert f"x tag {model_id}/tags/team/owner: a key holding '/' can be set only when its model is created" in (
        refused.stdout
    )
    assert pie.get_model(model_id).tags == {"team": "pricing"}


def test_the_schema_refuses_a_tag_key_or_value_the_server_would(tmp_path: Path):
    path = tmp_path / "pie.yaml"
    for tags in ("{'bad key': x}", "{team: [a]}", "{team: true}"):
        path.write_text(declaration("m", tags))
        with pytest.raises(declared.ApplyFileError):
            declared.load(path)
    path.write_text(declaration("m", "{team: pricing, priority: 1}"))
    assert declared.load(path).models[0].tags == {"team": "pricing", "priority": "1"}

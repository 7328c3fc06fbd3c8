"""``alias_set`` subscriptions from the client side, against a real ``pie-local serve``: the SDK
creates one and reads it back with its alias, an alias move fires its job (seen through the SDK),
the impact view of a move; ``pie subscriptions create --event alias_set --alias``, ``pie graph
--impact --event alias_set --alias`` and their usage errors; ``pie apply`` with an ``alias_set``
subscription declared in the file (planned, applied, unchanged the second time, replaced when its
alias changes, and its alias kept by --prune)."""

from __future__ import annotations

import functools
import json
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from pie_client import BadRequest, PieClient
from pie_client.models import Job
from tests.clients.handlers import WAITING, new_id
from tests.clients.test_pie_cli import assert_one_line_error
from tests.clients.test_pie_cli import pie as run_pie
from tests.clients.test_sdk_aliases_over_http import model_with_active_versions
from tests.e2e.local_server import LocalServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cli(server: LocalServer, token: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    return functools.partial(run_pie, server, PIE_TOKEN=token)


def ok(completed: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert completed.returncode == 0, (completed.stdout, completed.stderr)
    return completed


def fired(pie: PieClient, target: str) -> list[Job]:
    """The target's jobs that a subscription fired, oldest first."""
    jobs = [job for job in pie.iter_jobs(target, page_size=100) if job.trigger is not None]
    return sorted(jobs, key=lambda job: job.created_at)


# The SDK -----------------------------------------------------------------------------------------


def test_an_alias_move_fires_the_alias_set_subscription_the_sdk_created(pie: PieClient):
    source = model_with_active_versions(pie, "1", "2")
    target = model_with_active_versions(pie, "1")

    created = pie.create_subscription(
        source,
        trigger_event="alias_set",
        alias="champion",
        target_model_id=target,
        target_action="inference",
        input_source="trigger_output",
        label="redeploy",
    )
    pie.set_alias(source, "champion", "1")
    pie.set_alias(source, "champion", "2", reason="weekly release")
    pie.set_alias(source, "champion", "2", reason="same version: no move")
    pie.set_alias(source, "canary", "1")  # another alias: not followed

    assert (created.trigger_event, created.alias) == ("alias_set", "champion")
    assert pie.get_subscription(source, created.id).alias == "champion"
    assert [sub.alias for sub in pie.iter_subscriptions(source)] == ["champion"]
    jobs = fired(pie, target)
    assert [job.input for job in jobs] == [
        {"model_id": source, "alias": "champion", "version": "1", "previous_version": None},
        {"model_id": source, "alias": "champion", "version": "2", "previous_version": "1"},
    ]
    assert {(job.action, job.trigger.subscription_id, job.trigger.source_model_id) for job in jobs} == {
        ("inference", created.id, source)
    }
    # An update keeps the alias the subscription follows.
    assert pie.update_subscription(source, created.id, status="paused").alias == "champion"


def test_the_impact_of_an_alias_move_and_the_alias_rules_of_the_server_through_the_sdk(pie: PieClient):
    source = model_with_active_versions(pie, "1")
    target = model_with_active_versions(pie, "1")
    followed = pie.create_subscription(
        source,
        trigger_event="alias_set",
        alias="champion",
        target_model_id=target,
        target_action="inference",
        input_source="trigger_output",
    )
    pie.create_subscription(
        source, trigger_event="alias_set", alias="canary", target_model_id=target, target_action="inference",
        input_source="trigger_output",
    )  # fmt: skip

    impact = pie.get_impact(source, "alias_set", alias="champion")

    assert (impact.event, impact.alias) == ("alias_set", "champion")
    assert [(node.subscription_id, node.would_fire) for node in impact.children] == [(followed.id, True)]
    assert pie.get_impact(source).alias is None and pie.get_impact(source).children == []
    with pytest.raises(BadRequest, match="alias"):
        pie.get_impact(source, "alias_set")
    with pytest.raises(BadRequest, match="alias"):
        pie.create_subscription(
            source, trigger_event="alias_set", target_model_id=target, target_action="inference",
            input_source="trigger_output",
        )  # fmt: skip
    with pytest.raises(BadRequest, match="alias"):
        pie.create_subscription(
            source, trigger_event="training_complete", alias="champion", target_model_id=target,
            target_action="inference", input_source="trigger_output",
        )  # fmt: skip


# The CLI -----------------------------------------------------------------------------------------


def test_pie_creates_an_alias_set_subscription_and_shows_it_and_its_impact(pie: PieClient, cli):
    source = model_with_active_versions(pie, "1")
    target = model_with_active_versions(pie, "1")

    created = json.loads(
        ok(
            cli(
                "subscriptions", "create", source, "--event", "alias_set", "--alias", "champion",
                "--target", target, "--action", "inference", "--label", "redeploy", "-o", "json",
            )
        ).stdout
    )  # fmt: skip
    table = ok(cli("subscriptions", "list", source)).stdout
    updated = json.loads(
        ok(cli("subscriptions", "update", source, "redeploy", "--status", "paused", "-o", "json")).stdout
    )
    ok(cli("subscriptions", "update", source, "redeploy", "--status", "active"))
    impact = json.loads(
        ok(cli("graph", "--impact", source, "--event", "alias_set", "--alias", "champion", "-o", "json")).stdout
    )["impact"]
    impact_text = ok(cli("graph", "--impact", source, "--event", "alias_set", "--alias", "champion")).stdout
    graph = ok(cli("graph")).stdout
    pie.set_alias(source, "champion", "1")

    assert (created["trigger_event"], created["alias"], created["input_source"]) == (
        "alias_set",
        "champion",
        "trigger_output",
    )
    assert "alias_set @champion" in table
    assert (updated["alias"], updated["status"]) == ("champion", "paused")
    assert (impact["event"], impact["alias"]) == ("alias_set", "champion")
    assert [node["subscription_id"] for node in impact["children"]] == [created["id"]]
    assert f"alias_set @champion of {source} would fire:" in impact_text
    assert f"{source} --alias_set @champion--> {target}" in graph
    assert [job.input["version"] for job in fired(pie, target)] == ["1"]


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (
            ("subscriptions", "create", "m", "--event", "alias_set", "--target", "t", "--action", "inference"),
            "--event alias_set needs --alias",
        ),
        (
            (
                "subscriptions",
                "create",
                "m",
                "--event",
                "training_complete",
                "--alias",
                "champion",
                "--target",
                "t",
                "--action",
                "inference",
            ),
            "--alias is only for an alias event",
        ),  # fmt: skip
        (("graph", "--impact", "m", "--event", "alias_set"), "--event alias_set needs --alias"),
        (("graph", "--impact", "m", "--alias", "champion"), "not --event training_complete"),
        (("graph", "--alias", "champion"), "--alias goes with --impact"),
    ],
)
def test_a_missing_or_misplaced_alias_is_a_usage_error_before_any_request(
    arguments: tuple[str, ...], named: str, server: LocalServer
):
    # A token the server would refuse: the command must fail on its arguments first.
    completed = run_pie(server, *arguments, PIE_TOKEN="not-a-token")

    assert named in assert_one_line_error(completed, 2)


# pie apply ---------------------------------------------------------------------------------------

LAMBDA = "{type: lambda, arn: 'arn:aws:lambda:us-west-2:123456789012:function:train'}"
OUTPUT_SCHEMA = "{type: object, properties: {rows: {type: array}}}"
ANOTHER_OUTPUT_SCHEMA = "{type: object, properties: {rows: {type: array}}, description: rows out}"


def declaration(
    prefix: str, alias: str = "champion", *, aliases: str | None = None, output: str = OUTPUT_SCHEMA
) -> str:
    """A source model whose alias_set subscription ``redeploy`` runs the target's inference."""
    return f"""owner: {prefix}
models:
  - id: {prefix}-target
    name: Endpoint
    handlers:
      training: {LAMBDA}
      inference: {LAMBDA}
  - id: {prefix}-source
    name: Prices
    handlers:
      training: {LAMBDA}
      inference: {LAMBDA}
    handler_contracts: {{training: {{output_schema: {output}}}}}
    subscriptions:
      - name: redeploy
        trigger_event: alias_set
        alias: {alias}
        target_model_id: {prefix}-target
        target_action: inference
        input_source: trigger_output
""" + (f"    aliases: {aliases}\n" if aliases is not None else "")


def test_pie_apply_plans_applies_and_keeps_an_alias_set_subscription(tmp_path: Path, pie: PieClient, cli):
    prefix = f"apply-{uuid.uuid4().hex[:8]}"
    source, target = f"{prefix}-source", f"{prefix}-target"
    path = tmp_path / "pie.yaml"
    path.write_text(declaration(prefix))

    planned = cli("apply", "-f", str(path), "--plan")
    applied = cli("apply", "-f", str(path))
    again = cli("apply", "-f", str(path), "--plan")
    applied_again = cli("apply", "-f", str(path))

    assert planned.returncode == 2, planned.stdout + planned.stderr
    assert f"+ subscription {source}/redeploy: create (alias_set @champion -> {target} inference)" in planned.stdout
    ok(applied)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes" in ok(applied_again).stdout
    (subscription,) = pie.iter_subscriptions(source)
    assert (subscription.trigger_event, subscription.alias, subscription.label) == ("alias_set", "champion", "redeploy")

    # It fires: the applied subscription follows champion.
    for model_id in (source, target):
        pie.set_version_status(model_id, "1", "training")
        pie.set_version_status(model_id, "1", "active")
    pie.set_alias(source, "champion", "1")
    assert [job.input["alias"] for job in fired(pie, target)] == ["champion"]

    # A change of the source's output_schema does not make it stale (an alias move sends the
    # same document whatever the contracts), in the plan as on the server.
    path.write_text(declaration(prefix, output=ANOTHER_OUTPUT_SCHEMA))
    contract_plan = cli("apply", "-f", str(path), "--plan")
    ok(cli("apply", "-f", str(path)))
    assert contract_plan.returncode == 2 and "will become stale" not in contract_plan.stdout
    assert pie.get_subscription(source, subscription.id).status == "active"

    # The alias it follows is named by the file: --prune keeps it and deletes an alias named nowhere.
    pie.set_alias(source, "leftover", "1")
    path.write_text(declaration(prefix, output=ANOTHER_OUTPUT_SCHEMA, aliases="{}"))
    pruning = cli("apply", "-f", str(path), "--plan", "--prune")
    ok(cli("apply", "-f", str(path), "--prune"))
    assert f"- alias {source}@leftover: delete (not in the file)" in pruning.stdout
    assert f"{source}@champion" not in pruning.stdout
    assert [alias.name for alias in pie.list_aliases(source)] == ["champion"]

    # Another alias cannot be set in place: the subscription is replaced.
    path.write_text(declaration(prefix, "canary", output=ANOTHER_OUTPUT_SCHEMA, aliases="{}"))
    replacing = cli("apply", "-f", str(path), "--plan")
    ok(cli("apply", "-f", str(path)))
    assert f"-/+ subscription {source}/redeploy: replace" in replacing.stdout
    assert '    alias: "champion" => "canary"' in replacing.stdout
    (replaced,) = pie.iter_subscriptions(source)
    assert replaced.alias == "canary" and replaced.id != subscription.id


@pytest.mark.parametrize(
    ("subscription", "named"),
    [
        ("{name: s, trigger_event: alias_set, target_model_id: t, target_action: training, input_source: trigger_output}",
         "'alias' is a required property"),
        ("{name: s, trigger_event: training_complete, alias: champion, target_model_id: t, target_action: training, "
         "input_source: trigger_output}", "alias is only for trigger_event alias_set: omit it"),
    ],
)  # fmt: skip
def test_an_apply_file_with_a_missing_or_misplaced_alias_is_an_error_before_any_request(
    subscription: str, named: str, tmp_path: Path, server: LocalServer
):
    path = tmp_path / "pie.yaml"
    path.write_text(f"""models:
  - id: {new_id("apply")}
    name: M
    handlers: {json.dumps(WAITING)}
    subscriptions: [{subscription}]
""")

    applied = run_pie(server, "apply", "-f", str(path), PIE_TOKEN="not-a-token")

    assert named in assert_one_line_error(applied, 2)

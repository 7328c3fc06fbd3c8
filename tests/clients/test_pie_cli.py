"""The ``pie`` console script as a subprocess against ``pie-local serve``: a chain declared in one
YAML file, applied twice, trained with --wait, listed and graphed; and bad input."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.clients.test_apply_and_graph_rules import BILLION_LAUGHS
from tests.e2e.local_server import LocalServer

pytestmark = pytest.mark.e2e

PIE_SCRIPT = Path(sys.executable).parent / "pie"
ROOT = Path(__file__).resolve().parents[2]
CHAIN = """
models:
  - id: {p}-ingest
    name: Ingest
    handlers:
      training: {{type: in_process, implementation: echo}}
      inference: {{type: in_process, implementation: echo}}
    subscriptions:
      - name: features-after-ingest
        trigger_event: training_complete
        target_model_id: {p}-features
        target_action: training
        input_source: trigger_output
  - id: {p}-features
    name: Features
    description: {features_description}
    handlers:
      training: {{type: in_process, implementation: {features_training}}}
      inference: {{type: in_process, implementation: echo}}
    subscriptions:
      - name: forecast-after-features
        trigger_event: training_complete
        target_model_id: {p}-forecast
        target_action: training
        input_source: stored
        input: {{horizon_days: 7}}
  - id: {p}-forecast
    name: Forecast
    handlers:
      training: {{type: in_process, implementation: echo}}
      inference: {{type: in_process, implementation: echo}}
    metadata: {{team: pricing}}
"""


def chain(prefix: str, features_description: str = "Builds features", features_training: str = "echo") -> str:
    return CHAIN.format(p=prefix, features_description=features_description, features_training=features_training)


def pie(
    server: LocalServer, *arguments: str, cwd: Path | None = None, **environment: str
) -> subprocess.CompletedProcess[str]:
    """The installed ``pie`` script, configured only by the environment, like a user's shell.

    Without PIE_TOKEN, against a loopback URL, the CLI mints a token with ``pie-local token``,
    which finds the server's key through PIE_LOCAL_HOME."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PIE_")}
    env.update({"PIE_API_URL": server.url, "PIE_LOCAL_HOME": str(server.home), **environment})
    return subprocess.run(
        [str(PIE_SCRIPT), *arguments],
        env=env,
        cwd=cwd or server.home.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def cli(server: LocalServer, token: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``pie`` with a token minted once for the module (minting per call would double the processes)."""
    return functools.partial(pie, server, PIE_TOKEN=token)


def assert_one_line_error(completed: subprocess.CompletedProcess[str], exit_code: int) -> str:
    assert completed.returncode == exit_code, (completed.returncode, completed.stdout, completed.stderr)
    assert "Traceback" not in completed.stderr + completed.stdout
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), completed.stderr
    return lines[0]


@pytest.fixture
def chain_file(tmp_path: Path) -> tuple[Path, str]:
    """The chain under a prefix of the test's own, so tests share the server but not models."""
    prefix = f"cli-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "pie.yaml"
    path.write_text(chain(prefix))
    return path, prefix


def test_a_declared_chain_is_applied_then_applying_again_changes_nothing(server: LocalServer, chain_file, cli):
    path, prefix = chain_file

    planned = cli("apply", "-f", str(path), "--plan")
    after_plan = cli("models", "get", f"{prefix}-ingest")
    applied = cli("apply", "-f", str(path))
    again = cli("apply", "-f", str(path))

    assert planned.returncode == 2, planned.stderr  # --plan: 2 means changes
    assert f"+ model {prefix}-ingest: create" in planned.stdout
    assert f"+ subscription {prefix}-ingest/features-after-ingest: create" in planned.stdout
    assert "Plan: 5 to create" in planned.stdout
    assert after_plan.returncode == 1  # the plan wrote nothing
    assert applied.returncode == 0, applied.stderr
    assert "Applied: 5 created" in applied.stdout
    assert again.returncode == 0, again.stderr
    assert "No changes" in again.stdout and "+" not in again.stdout and "~" not in again.stdout


def test_training_with_wait_runs_the_whole_chain_and_the_jobs_are_listed(server: LocalServer, chain_file, cli):
    path, prefix = chain_file
    assert cli("apply", "-f", str(path)).returncode == 0
    (path.parent / "input.json").write_text(json.dumps({"day": "2026-11-30"}))

    trained = cli("train", f"{prefix}-ingest", "--input", "@input.json", "--wait", "--poll", "0.1", cwd=path.parent)

    assert trained.returncode == 0, trained.stderr
    assert "succeeded" in trained.stdout and "succeeded" in trained.stderr  # the result, and the progress
    forecast_jobs = _poll_jobs(cli, f"{prefix}-forecast")
    assert forecast_jobs[0]["status"] == "succeeded"
    assert forecast_jobs[0]["input"] == {"horizon_days": 7}
    assert forecast_jobs[0]["trigger"]["source_model_id"] == f"{prefix}-features"
    listed = cli("jobs", "list", f"{prefix}-features")
    assert listed.returncode == 0 and "succeeded" in listed.stdout and f"{prefix}-ingest" in listed.stdout


def test_the_graph_is_printed_as_text_dot_and_mermaid(server: LocalServer, chain_file, cli):
    path, prefix = chain_file
    assert cli("apply", "-f", str(path)).returncode == 0

    text = cli("graph")
    dot = cli("graph", "--format", "dot")
    mermaid = cli("graph", "--format", "mermaid")

    assert text.returncode == dot.returncode == mermaid.returncode == 0
    assert (
        f"{prefix}-ingest --training_complete--> {prefix}-features (training, trigger_output) [active]" in text.stdout
    )
    assert not [line for line in text.stdout.splitlines() if prefix in line and " -> " in line]  # no cycle
    assert dot.stdout.startswith("digraph pie {") and dot.stdout.rstrip().endswith("}")
    assert f'"{prefix}-features" -> "{prefix}-forecast" [label="training_complete → training (active)"' in dot.stdout
    assert mermaid.stdout.startswith("flowchart LR")
    assert '-->|"training_complete → training (active)"|' in mermaid.stdout


def test_a_changed_file_shows_a_field_diff_and_the_subscriptions_it_makes_stale(server: LocalServer, chain_file, cli):
    path, prefix = chain_file
    changed = path.parent / "changed.yaml"
    changed.write_text(chain(prefix, features_description="Features v2", features_training="fail"))
    assert cli("apply", "-f", str(path)).returncode == 0

    plan = cli("apply", "-f", str(changed), "--plan")
    json_plan = cli("apply", "-f", str(changed), "--plan", "--output", "json")

    assert plan.returncode == 2, plan.stderr
    assert f"~ model {prefix}-features: update" in plan.stdout
    assert 'description: "Builds features" => "Features v2"' in plan.stdout
    assert 'handlers.training.implementation: "echo" => "fail"' in plan.stdout
    assert f"! subscription {prefix}-ingest/features-after-ingest -> {prefix}-features will become stale" in plan.stdout
    document = json.loads(json_plan.stdout)
    assert [effect["label"] for effect in document["made_stale"]] == ["features-after-ingest"]
    assert document["counts"]["update"] == 1


def test_the_graph_names_cycles_and_marks_stale_edges(server: LocalServer, tmp_path: Path, cli):
    prefix = f"cyc-{uuid.uuid4().hex[:8]}"
    looped = tmp_path / "loop.yaml"
    looped.write_text(
        f"""
models:
  - id: {prefix}-a
    name: A
    handlers: {{training: {{type: lambda, arn: "arn:aws:lambda:us-west-2:123456789012:function:a"}}, inference: {{type: lambda, arn: "arn:aws:lambda:us-west-2:123456789012:function:a"}}}}
    subscriptions:
      - {{name: a-to-b, trigger_event: training_complete, target_model_id: {prefix}-b, target_action: training, input_source: trigger_output}}
  - id: {prefix}-b
    name: B
    handlers: {{training: {{type: lambda, arn: "arn:aws:lambda:us-west-2:123456789012:function:b"}}, inference: {{type: lambda, arn: "arn:aws:lambda:us-west-2:123456789012:function:b"}}}}
    subscriptions:
      - {{name: b-to-a, trigger_event: training_complete, target_model_id: {prefix}-a, target_action: training, input_source: trigger_output, status: paused}}
"""
    )
    assert cli("apply", "-f", str(looped)).returncode == 0
    looping = cli("graph").stdout
    assert cli("models", "delete", f"{prefix}-b").returncode == 0  # a -> b goes stale

    text = cli("graph").stdout

    assert f"\n  {prefix}-a -> {prefix}-b -> {prefix}-a\n" in looping + "\n"  # listed under cycles
    assert f"{prefix}-b --training_complete--> {prefix}-a (training, trigger_output) [paused]" in looping
    assert f"{prefix}-a --training_complete--> {prefix}-b (training, trigger_output) [stale]" in text
    assert f"{prefix}-b  [missing]" in text
    dot = cli("graph", "--format", "dot").stdout
    assert 'style="dashed", color="red"' in dot


def test_every_resource_command_works_and_json_output_parses(server: LocalServer, cli):
    model = f"res-{uuid.uuid4().hex[:8]}"
    handlers = json.dumps(
        {
            "training": {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:t"},
            "inference": {"type": "in_process", "implementation": "echo"},
        }
    )

    created = cli("models", "create", model, "--name", "Res", "--handlers", handlers, "-o", "json")
    updated = cli("models", "update", model, "--description", "now described", "-o", "json")
    version = cli("versions", "create", model, "2", "--description", "v2")
    moved = cli("versions", "status", model, "2", "training", "--message", "go")
    versions = cli("-o", "json", "versions", "list", model)
    latest = cli("versions", "get", model, "-o", "json")
    subscribed = cli(
        "subscriptions",
        "create",
        model,
        "--event",
        "inference_complete",
        "--target",
        model,
        "--action",
        "training",
        "--label",
        "self",
        "-o",
        "json",
    )
    tested = cli("subscriptions", "test", model, "self", "-o", "json")
    paused = cli("subscriptions", "update", model, "self", "--status", "paused", "-o", "json")
    listed_subscriptions = cli("subscriptions", "list", model)
    job = cli("train", model, "--input", '{"x": 1}', "--version", "1", "-o", "json")
    job_id = json.loads(job.stdout)["id"]
    fetched_job = cli("jobs", "get", model, job_id)
    completed = cli("jobs", "complete", model, job_id, "--status", "succeeded", "--result", '{"m": 1}', "-o", "json")
    watched = cli("jobs", "watch", model, job_id, "--timeout", "5")
    inferred = cli("infer", model, "--input", '{"y": 2}', "--wait", "--poll", "0.1", "-o", "json")
    deleted_subscription = cli("subscriptions", "delete", model, "self")
    deleted = cli("models", "delete", model)

    for completed_process in (
        created,
        updated,
        version,
        moved,
        versions,
        latest,
        subscribed,
        tested,
        paused,
        listed_subscriptions,
        job,
        fetched_job,
        completed,
        watched,
        inferred,
        deleted_subscription,
        deleted,
    ):
        assert completed_process.returncode == 0, (completed_process.args, completed_process.stderr)
    assert json.loads(created.stdout)["id"] == model
    assert json.loads(updated.stdout)["description"] == "now described"
    assert json.loads(updated.stdout)["name"] == "Res"  # untouched fields are kept
    assert [item["version"] for item in json.loads(versions.stdout)] == ["2", "1"]
    assert json.loads(latest.stdout)["status"] == "training"
    assert json.loads(tested.stdout)["subscription_id"] == json.loads(subscribed.stdout)["id"]
    assert json.loads(paused.stdout)["status"] == "paused"
    assert "self" in listed_subscriptions.stdout and "paused" in listed_subscriptions.stdout
    assert json.loads(completed.stdout)["status"] == "succeeded"
    assert "succeeded" in watched.stdout
    assert json.loads(inferred.stdout)["status"] == "succeeded" and json.loads(inferred.stdout)["output"] == {"y": 2}
    assert cli("models", "get", model).returncode == 1


def test_a_waited_for_job_that_fails_exits_1_with_its_reason(tmp_path: Path, cli):
    model = f"fails-{uuid.uuid4().hex[:8]}"
    handlers = {
        "training": {"type": "in_process", "implementation": "fail"},
        "inference": {"type": "in_process", "implementation": "echo"},
    }
    assert cli("models", "create", model, "--name", "Fails", "--handlers", json.dumps(handlers)).returncode == 0

    trained = cli("train", model, "--input", '{"message": "no data for today"}', "--wait", "--poll", "0.1")

    assert trained.returncode == 1, trained.stderr
    assert "Traceback" not in trained.stderr
    last = trained.stderr.strip().splitlines()[-1]
    assert last.startswith("error: job ") and last.endswith("failed: no data for today")


def test_an_unknown_model_is_a_one_line_api_error_with_exit_code_1(server: LocalServer):
    """Also: no PIE_TOKEN against the local server works (the CLI mints one with pie-local)."""
    completed = pie(server, "models", "get", "no-such-model")

    line = assert_one_line_error(completed, 1)
    assert "404" in line and "no-such-model" in line


def test_invalid_yaml_is_a_one_line_usage_error_with_exit_code_2(server: LocalServer, tmp_path: Path, cli):
    broken = tmp_path / "broken.yaml"
    broken.write_text("models: [\n  - id: x\n")
    off_schema = tmp_path / "off.yaml"
    off_schema.write_text(
        "models:\n  - id: x\n    name: X\n    handlers: {training: {type: in_process}}\n    colour: red\n"
    )

    line = assert_one_line_error(cli("apply", "-f", str(broken)), 2)
    schema_line = assert_one_line_error(cli("apply", "-f", str(off_schema)), 2)
    missing_line = assert_one_line_error(cli("apply", "-f", str(tmp_path / "absent.yaml")), 2)

    assert "not valid YAML" in line and "line" in line
    assert "models/0" in schema_line
    assert "cannot read" in missing_line


def test_an_alias_bomb_or_an_oversize_file_is_a_one_line_usage_error_with_exit_code_2(
    server: LocalServer, tmp_path: Path, cli
):
    """A 732-byte alias bomb grew to 3 GB and crashed; a 79 MB file ran past two minutes."""
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BILLION_LAUGHS)
    huge = tmp_path / "huge.yaml"
    huge.write_text("models:\n" + "  - {id: m, name: M, handlers: {}}\n" * 40_000)

    bomb_line = assert_one_line_error(cli("apply", "-f", str(bomb), "--plan"), 1)  # --plan: every error is 1
    huge_line = assert_one_line_error(cli("apply", "-f", str(huge)), 2)

    assert "aliases" in bomb_line
    assert "larger than 1024 KiB" in huge_line


def test_a_local_token_from_another_home_is_refused_with_a_hint(server: LocalServer, tmp_path: Path):
    """When the server did not announce itself (another user's data directory hides it here), the
    token is signed with PIE_LOCAL_HOME's key and the 401 says so."""
    completed = pie(
        server,
        "models",
        "list",
        PIE_LOCAL_HOME=str(tmp_path / "elsewhere"),
        XDG_DATA_HOME=str(tmp_path / "another-user"),
    )

    line = assert_one_line_error(completed, 1)
    assert "401" in line and str(tmp_path / "elsewhere") in line and "PIE_LOCAL_HOME" in line


def test_no_token_against_a_remote_url_is_a_one_line_usage_error(server: LocalServer):
    completed = pie(server, "models", "list", PIE_API_URL="https://pie.example.com")

    line = assert_one_line_error(completed, 2)
    assert "PIE_TOKEN" in line


def test_a_token_command_is_used_and_its_failure_reported(server: LocalServer):
    good = pie(
        server, "models", "list", PIE_TOKEN_COMMAND=f"{PIE_SCRIPT.parent / 'pie-local'} token --scope models:read"
    )
    bad = pie(server, "models", "list", PIE_TOKEN_COMMAND="echo no token here >&2; exit 3")
    expired = pie(server, "models", "list", PIE_TOKEN="not-a-jwt")

    assert good.returncode == 0, good.stderr
    assert "exited with 3: no token here" in assert_one_line_error(bad, 2)
    assert "401" in assert_one_line_error(expired, 1)


def test_bad_arguments_are_usage_errors(server: LocalServer, cli):
    assert_one_line_error(cli("train"), 2)
    assert_one_line_error(cli("train", "m", "--input", "{not json"), 2)
    assert_one_line_error(cli("models", "list", "--output", "yaml"), 2)


def _poll_jobs(
    cli: Callable[..., subprocess.CompletedProcess[str]], model_id: str, deadline_seconds: float = 60
) -> list[dict]:
    deadline = time.monotonic() + deadline_seconds
    while True:
        listed = cli("jobs", "list", model_id, "-o", "json")
        jobs = json.loads(listed.stdout) if listed.returncode == 0 else []
        if jobs and all(job["status"] in ("succeeded", "failed") for job in jobs):
            return jobs
        assert time.monotonic() < deadline, f"no finished job on {model_id}: {jobs}"
        time.sleep(0.2)


def test_a_declared_workspace_is_the_created_models_and_a_foreign_one_is_refused(tmp_path: Path, cli):
    prefix = f"cli-{uuid.uuid4().hex[:8]}"
    model = """
models:
  - id: {id}
    name: Owned
    workspace: {workspace}
    handlers:
      training: {{type: in_process, implementation: echo}}
      inference: {{type: in_process, implementation: echo}}
"""
    (tmp_path / "own.yaml").write_text(model.format(id=f"{prefix}-own", workspace="default"))
    (tmp_path / "foreign.yaml").write_text(model.format(id=f"{prefix}-foreign", workspace="someone-else"))

    assert cli("apply", "-f", str(tmp_path / "own.yaml")).returncode == 0
    shown = cli("models", "get", f"{prefix}-own", "--output", "json")
    assert json.loads(shown.stdout)["workspace"] == "default", shown.stdout
    assert "someone-else" in assert_one_line_error(cli("apply", "-f", str(tmp_path / "foreign.yaml")), 1)


def test_the_impact_of_an_event_is_printed_as_a_tree_in_every_format(server: LocalServer, chain_file, cli):
    path, prefix = chain_file
    assert cli("apply", "-f", str(path)).returncode == 0

    text = cli("graph", "--impact", f"{prefix}-ingest")
    dot = cli("graph", "--impact", f"{prefix}-ingest", "--format", "dot")
    mermaid = cli("graph", "--impact", f"{prefix}-ingest", "--format", "mermaid")
    as_json = cli("graph", "--impact", f"{prefix}-ingest", "-o", "json")
    nothing = cli("graph", "--impact", f"{prefix}-ingest", "--event", "inference_complete")
    missing = cli("graph", "--impact", f"{prefix}-nowhere")

    assert text.returncode == dot.returncode == mermaid.returncode == as_json.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == f"training_complete of {prefix}-ingest would fire:"
    assert lines[1].startswith(f"  -> {prefix}-features  training  version 1  would fire  subscription ")
    assert lines[2].startswith(f"    -> {prefix}-forecast  training  version 1  would fire  subscription ")
    assert lines[-1].startswith("total jobs: 2 (job budget ")
    assert dot.stdout.startswith("digraph impact {") and dot.stdout.rstrip().endswith("}")
    assert f'n1 [label="{prefix}-features\\ntraining v1"];' in dot.stdout
    assert 'n1 -> n2 [label="training_complete"];' in dot.stdout
    assert mermaid.stdout.startswith("flowchart LR") and '  n0 -->|"training_complete"| n1' in mermaid.stdout
    impact = json.loads(as_json.stdout)["impact"]
    assert impact["total_jobs"] == 2 and impact["children"][0]["target_model_id"] == f"{prefix}-features"
    assert nothing.returncode == 0 and "nothing" in nothing.stdout and "total jobs: 0" in nothing.stdout
    assert_one_line_error(missing, 1)


def test_the_impact_shows_the_version_a_rerun_would_cut(server: LocalServer, chain_file, cli):
    path, prefix = chain_file
    assert cli("apply", "-f", str(path)).returncode == 0
    assert cli("train", f"{prefix}-ingest", "--input", "{}", "--wait", "--poll", "0.1").returncode == 0
    _poll_jobs(cli, f"{prefix}-forecast")

    text = cli("graph", "--impact", f"{prefix}-ingest").stdout
    dot = cli("graph", "--impact", f"{prefix}-ingest", "--format", "dot").stdout

    assert f"-> {prefix}-features  training  version 2 (cut)  would fire" in text
    assert f"-> {prefix}-forecast  training  version 2 (cut)  would fire" in text
    assert f'label="{prefix}-forecast\\ntraining v2 (cut)"' in dot


def test_the_graph_is_json_with_either_output_option(server: LocalServer, chain_file, cli):
    path, prefix = chain_file
    assert cli("apply", "-f", str(path)).returncode == 0

    after = cli("graph", "-o", "json")
    before = cli("-o", "json", "graph")
    text = cli("graph")

    assert after.returncode == before.returncode == 0, after.stderr
    for document in (json.loads(after.stdout), json.loads(before.stdout)):
        assert {"id": f"{prefix}-ingest", "missing": False, "status": "pending"} in document["models"]
        edges = {(edge["source_model_id"], edge["target_model_id"]) for edge in document["subscriptions"]}
        assert (f"{prefix}-ingest", f"{prefix}-features") in edges
        assert isinstance(document["cycles"], list)
    assert text.stdout.startswith("models (")


def test_a_version_shows_its_lineage_back_to_the_root(server: LocalServer, chain_file, cli):
    path, prefix = chain_file
    assert cli("apply", "-f", str(path)).returncode == 0
    assert cli("train", f"{prefix}-ingest", "--input", "{}", "--wait", "--poll", "0.1").returncode == 0
    (forecast_job,) = _poll_jobs(cli, f"{prefix}-forecast")
    (features_job,) = _poll_jobs(cli, f"{prefix}-features")

    table = cli("versions", "get", f"{prefix}-forecast", "1")
    as_json = cli("versions", "get", f"{prefix}-forecast", "1", "-o", "json")
    untrained = cli("versions", "get", f"{prefix}-ingest", "latest", "-o", "json")

    assert table.returncode == as_json.returncode == 0, table.stderr
    assert "lineage (nearest first):" in table.stdout
    section = table.stdout.split("lineage (nearest first):")[1].splitlines()
    rows = [[cell for cell in line.split() if cell != "│"] for line in section if prefix in line]
    assert [row[:3] for row in rows] == [
        [f"{prefix}-forecast", "1", forecast_job["id"]],
        [f"{prefix}-features", "1", features_job["id"]],
        [f"{prefix}-ingest", "1", features_job["trigger"]["source_job_id"]],
    ]
    steps = json.loads(as_json.stdout)["lineage_steps"]
    assert [step["model_id"] for step in steps] == [f"{prefix}-forecast", f"{prefix}-features", f"{prefix}-ingest"]
    assert steps[0]["subscription_id"] == forecast_job["trigger"]["subscription_id"]
    assert steps[-1]["subscription_id"] is None
    assert json.loads(as_json.stdout)["lineage"]["job_id"] == forecast_job["id"]
    assert json.loads(untrained.stdout)["lineage_steps"][0]["model_id"] == f"{prefix}-ingest"

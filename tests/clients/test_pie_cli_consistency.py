"""The ``pie`` command line is consistent: -o anywhere, help everywhere, exit codes that tell a
failed job from a timed-out wait, and messages that are not wrapped off a terminal."""

from __future__ import annotations

import functools
import json
import subprocess
import uuid
from collections.abc import Callable, Iterator

import click
import pytest

from pie_client import cli as pie_cli
from tests.clients.test_pie_cli import pie
from tests.e2e.local_server import LocalServer

pytestmark = pytest.mark.e2e

LAMBDA = {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:never-runs-here"}
ECHO = {"type": "in_process", "implementation": "echo"}


@pytest.fixture(scope="module")
def cli(server: LocalServer, token: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    return functools.partial(pie, server, PIE_TOKEN=token)


def _paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from _paths(command, (*prefix, name))


COMMANDS = list(_paths(pie_cli.cli))


def test_every_command_and_group_has_help():
    missing = [" ".join(path) for path, command in COMMANDS if not (command.help or command.short_help)]

    assert missing == []


@pytest.mark.parametrize("path", [" ".join(path) for path, _ in COMMANDS])
def test_every_command_accepts_output_after_its_name(path: str, cli):
    shown = cli(*path.split(), "-o", "json", "--help")

    assert shown.returncode == 0, shown.stderr
    assert "-o, --output" in shown.stdout


def test_output_is_taken_before_or_after_any_name(cli):
    model = f"out-{uuid.uuid4().hex[:8]}"
    handlers = json.dumps({"training": ECHO, "inference": ECHO})
    assert cli("models", "create", model, "--name", "Out", "--handlers", handlers).returncode == 0

    forms = [
        cli("-o", "json", "models", "get", model),
        cli("models", "-o", "json", "get", model),
        cli("models", "get", model, "-o", "json"),
        cli("models", "get", "--output", "json", model),
    ]
    deleted = cli("models", "delete", model, "-o", "json")

    for form in forms:
        assert form.returncode == 0, form.stderr
        assert json.loads(form.stdout)["id"] == model
    assert deleted.returncode == 0 and json.loads(deleted.stdout) == {"deleted": "model", "id": model}


def test_jobs_complete_takes_the_jobs_output_as_result_and_output_as_the_format(cli):
    model = f"done-{uuid.uuid4().hex[:8]}"
    handlers = json.dumps({"training": LAMBDA, "inference": ECHO})
    assert cli("models", "create", model, "--name", "Done", "--handlers", handlers).returncode == 0
    job_id = json.loads(cli("train", model, "--input", "{}", "-o", "json").stdout)["id"]

    old_spelling = cli("jobs", "complete", model, job_id, "--status", "succeeded", "--output", '{"m": 1}')
    completed = cli(
        "jobs", "complete", model, job_id, "--status", "succeeded", "--result", '{"m": 1}', "--output", "json"
    )

    assert old_spelling.returncode == 2 and "--output" in old_spelling.stderr  # refused, never taken as a format
    assert completed.returncode == 0, completed.stderr
    job = json.loads(completed.stdout)
    assert (job["status"], job["output"]) == ("succeeded", {"m": 1})


def test_a_timed_out_wait_exits_3_and_a_failed_job_1(cli):
    model = f"slow-{uuid.uuid4().hex[:8]}"
    handlers = json.dumps({"training": LAMBDA, "inference": {"type": "in_process", "implementation": "fail"}})
    assert cli("models", "create", model, "--name", "Slow", "--handlers", handlers).returncode == 0

    timed_out = cli("train", model, "--input", "{}", "--wait", "--timeout", "0.5", "--poll", "0.1")
    job_id = json.loads(cli("jobs", "list", model, "-o", "json").stdout)[0]["id"]
    watched = cli("jobs", "watch", model, job_id, "--timeout", "0.3", "--poll", "0.1")
    failed = cli("infer", model, "--input", '{"message": "broken"}', "--version", "1", "--wait", "--poll", "0.1")

    assert timed_out.returncode == 3, timed_out.stderr
    assert timed_out.stderr.strip().splitlines()[-1].startswith("timed out: ")
    assert watched.returncode == 3, watched.stderr
    assert failed.returncode == 1, failed.stderr


def test_messages_are_not_wrapped_when_stderr_is_not_a_terminal(cli):
    model = f"a-model-with-a-long-enough-identifier-{uuid.uuid4().hex[:16]}"
    handlers = json.dumps({"training": ECHO, "inference": ECHO})
    assert cli("models", "create", model, "--name", "Long", "--handlers", handlers).returncode == 0

    trained = cli("train", model, "--input", "{}", "--wait", "--poll", "0.1", COLUMNS="40")

    assert trained.returncode == 0, trained.stderr
    queued = [line for line in trained.stderr.splitlines() if "queued on" in line]
    assert len(queued) == 1 and queued[0].endswith(f"queued on {model} version 1"), trained.stderr

"""``make smoke``'s run (tools/smoke.py) against a pie-local started here: it passes, and it leaves
nothing behind, also when a step fails."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.client import Api, mint
from tests.e2e.documents import model_document
from tests.e2e.local_server import LocalServer, serving

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with serving(tmp_path_factory.mktemp("smoke") / ".pie-local", "--ephemeral") as running:
        yield running


def smoke(server: LocalServer, token: str, *options: str) -> subprocess.CompletedProcess[str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PIE_")}
    return subprocess.run(
        [sys.executable, "-m", "tools.smoke", "--api", server.url, "--token", token, "--timeout", "60", *options],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def models_under(server: LocalServer, prefix: str) -> list[str]:
    reply = Api(server.url, mint(server.home)).get("/v2/models?limit=100")
    assert reply.status == 200, reply.body
    return [model["id"] for model in reply.json["models"] if model["id"].startswith(prefix)]


def smoke_webhooks(server: LocalServer) -> list[dict]:
    reply = Api(server.url, mint(server.home)).get("/v2/webhooks?limit=100")
    assert reply.status == 200, reply.body
    return [hook for hook in reply.json["webhooks"] if (hook.get("description") or "").startswith("pie.smoke")]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prefix_of(completed: subprocess.CompletedProcess[str]) -> str:
    found = re.search(r"under the prefix (smoke-[0-9a-f]{8})", completed.stdout)
    assert found, completed.stdout + completed.stderr
    return found[1]


def test_the_smoke_run_passes_against_pie_local_and_leaves_nothing_behind(server: LocalServer):
    completed = smoke(server, mint(server.home))

    assert completed.returncode == 0, completed.stdout + completed.stderr
    steps = (
        "create two models",
        "the chain trains B",
        "move an alias from version 1 to 2",
        "ping a webhook",
        "cleanup",
    )
    for step in steps:
        assert re.search(rf"^  ok   .*{re.escape(step)}", completed.stdout, re.MULTILINE), completed.stdout
    assert completed.stdout.rstrip().endswith("passed")
    assert models_under(server, prefix_of(completed)) == []
    assert smoke_webhooks(server) == []


def test_a_webhook_url_that_cannot_be_reached_fails_the_ping_at_once_and_the_webhook_is_deleted(
    server: LocalServer,
):
    url = f"http://127.0.0.1:{closed_port()}/hook"

    completed = smoke(server, mint(server.home), "--webhook-url", url)

    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert re.search(r"^  FAIL ping a webhook: the endpoint was not reached", completed.stdout, re.MULTILINE), (
        completed.stdout
    )
    assert "Traceback" not in completed.stderr
    assert models_under(server, prefix_of(completed)) == []
    assert smoke_webhooks(server) == []


def test_against_a_remote_pie_without_a_webhook_url_the_ping_is_skipped_and_said_so():
    from tools.smoke import Smoke, StepSkipped

    run = Smoke("https://pie.example.com", "token")
    try:
        with pytest.raises(StepSkipped, match="--webhook-url"):
            run.ping_webhook()
    finally:
        run.pie.close()
        run.http.close()
    assert run.webhooks == []  # nothing was created


def test_a_failing_step_fails_the_run_and_cleans_up_only_what_it_created(server: LocalServer):
    """B's id is taken before the run: creating it is refused (409) after A was created."""
    prefix = f"smoke-taken-{uuid.uuid4().hex[:6]}"
    api = Api(server.url, mint(server.home))
    assert api.post("/v2/models", model_document(f"{prefix}-b")).status == 201

    completed = smoke(server, mint(server.home), "--prefix", prefix)

    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert re.search(r"^  FAIL create two models: .*", completed.stdout, re.MULTILINE), completed.stdout
    assert "Traceback" not in completed.stderr
    assert "ok   cleanup (1 models deleted)" in completed.stdout
    assert models_under(server, prefix) == [f"{prefix}-b"]  # A is gone; the B that was there is kept


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_smoke_runs_it_with_the_api_and_token_given():
    completed = subprocess.run(
        ["make", "--dry-run", "--no-print-directory", "smoke", "API=https://pie.example.com", "TOKEN=t0k3n"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )

    assert "-m tools.smoke --api 'https://pie.example.com' --token 't0k3n'" in completed.stdout

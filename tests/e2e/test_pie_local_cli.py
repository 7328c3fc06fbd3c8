"""The ``pie-local`` command line: token, invoke, and serve's clean shutdown."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import jwt
import pytest

from shared.routes import ALL_SCOPES
from tests.e2e.client import run_pie_local
from tests.e2e.local_server import start_server

pytestmark = pytest.mark.e2e

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_token_defaults_to_every_scope_for_the_local_developer_for_an_hour(tmp_path: Path):
    completed = run_pie_local(tmp_path / ".pie-local", "token")

    assert completed.returncode == 0, completed.stderr
    token = completed.stdout.strip()
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == "pie-local"
    assert claims["aud"] == "pie-api"
    assert claims["sub"] == "local-developer"
    assert claims["scope"].split() == list(ALL_SCOPES)
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["nbf"] <= claims["iat"] + 1
    assert (tmp_path / ".pie-local" / "jwt-signing-key.pem").exists()


def test_token_takes_scopes_subject_and_lifetime(tmp_path: Path):
    completed = run_pie_local(
        tmp_path / ".pie-local",
        "token",
        "--scope",
        "models:read",
        "--scope",
        "jobs:write",
        "--sub",
        "ci",
        "--expires-in",
        "60",
    )

    claims = jwt.decode(completed.stdout.strip(), options={"verify_signature": False})
    assert claims["scope"] == "models:read jobs:write"
    assert claims["sub"] == "ci"
    assert claims["exp"] - claims["iat"] == 60


def test_token_refuses_an_unknown_scope(tmp_path: Path):
    completed = run_pie_local(tmp_path / ".pie-local", "token", "--scope", "admin")

    assert completed.returncode == 2
    assert "invalid choice" in completed.stderr


def test_invoke_runs_a_function_on_an_event_and_prints_its_response(tmp_path: Path):
    completed = run_pie_local(tmp_path / ".pie-local", "invoke", "create_model", str(EVENTS / "create_model.json"))

    assert completed.returncode == 0, completed.stderr
    response = json.loads(completed.stdout)
    assert response["statusCode"] == 201
    assert response["headers"]["ETag"] == '"1"'
    body = json.loads(response["body"])
    assert body["model"]["id"] == "model_price_reco_v1"
    assert body["version"]["version"] == "1"


def test_invoke_starts_from_an_empty_table(tmp_path: Path):
    event = EVENTS / "get_model.json"

    completed = run_pie_local(tmp_path / ".pie-local", "invoke", "get_model", str(event))

    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["statusCode"] == 404


@pytest.mark.parametrize("function", ["get_model", "dispatch_jobs"])
def test_invoke_prints_only_the_response_on_stdout_so_it_can_be_piped_to_jq(tmp_path: Path, function: str):
    completed = run_pie_local(tmp_path / ".pie-local", "invoke", function, str(EVENTS / f"{function}.json"))

    assert completed.returncode == 0, completed.stderr
    assert isinstance(json.loads(completed.stdout), dict), completed.stdout
    if function == "dispatch_jobs":
        assert '"CloudWatchMetrics"' in completed.stderr  # the function's metrics, with its logs


def test_invoke_of_an_unknown_function_exits_2_naming_the_known_ones(tmp_path: Path):
    completed = run_pie_local(tmp_path / ".pie-local", "invoke", "launch_rockets", str(EVENTS / "create_model.json"))

    assert completed.returncode == 2
    assert "unknown function 'launch_rockets'" in completed.stderr
    assert "create_model" in completed.stderr
    assert completed.stdout == ""


def test_invoke_of_a_missing_event_file_exits_2(tmp_path: Path):
    completed = run_pie_local(tmp_path / ".pie-local", "invoke", "create_model", str(tmp_path / "nope.json"))

    assert completed.returncode == 2
    assert "cannot read" in completed.stderr


def test_serve_stops_cleanly_on_ctrl_c(tmp_path: Path):
    home = tmp_path / ".pie-local"
    server = start_server(home, tmp_path / "serve.log")

    server.process.send_signal(signal.SIGINT)
    returncode = server.process.wait(timeout=10)

    assert returncode == 0, server.log.read_text()
    log = server.log.read_text()
    assert "stopping" in log
    assert "Traceback" not in log

"""Local tokens from any directory: ``pie`` run outside the checkout, with no ``PIE_LOCAL_HOME``,
gets a token the running ``pie-local serve`` accepts, and the server's banner prints a token
command that works as printed in a fresh shell."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.client import Api, pie_local_command
from tests.e2e.local_server import LocalServer, serving

pytestmark = pytest.mark.e2e

PIE_SCRIPT = Path(sys.executable).parent / "pie"


@pytest.fixture(scope="module")
def user_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A per-user data directory of the module's own (where servers announce themselves)."""
    data = tmp_path_factory.mktemp("xdg-data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_DATA_HOME", str(data))
        yield data


@pytest.fixture(scope="module")
def server(user_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with serving(tmp_path_factory.mktemp("checkout") / ".pie-local") as running:
        yield running


def fresh_environment(user_data: Path, **extra: str) -> dict[str, str]:
    """A new shell's: no PIE_* variables, no virtualenv on PATH."""
    environment = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "XDG_DATA_HOME": str(user_data),
        **extra,
    }
    if "PYTHONPATH" in os.environ:  # the code under test, not an installed copy
        environment["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return environment


def test_pie_from_another_directory_gets_a_token_the_server_accepts(
    server: LocalServer, user_data: Path, tmp_path: Path
):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    completed = subprocess.run(
        [str(PIE_SCRIPT), "-o", "json", "models", "list"],
        env=fresh_environment(user_data, PIE_API_URL=server.url),
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert completed.returncode == 0, completed.stderr
    assert isinstance(json.loads(completed.stdout), list)
    assert not (elsewhere / ".pie-local").exists()  # no new signing key where it happened to run


def test_the_banners_token_command_works_as_printed_in_a_fresh_shell(
    server: LocalServer, user_data: Path, tmp_path: Path
):
    printed = re.search(r"^  token +(.+)$", server.log.read_text(), re.MULTILINE)
    assert printed is not None, server.log.read_text()

    completed = subprocess.run(
        ["/bin/sh", "-c", printed[1]],
        env=fresh_environment(user_data),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert completed.returncode == 0, (printed[1], completed.stderr)
    assert Api(server.url, completed.stdout.strip()).get("/v2/models").status == 200


def test_without_a_home_the_keys_go_to_the_per_user_home_not_the_working_directory(user_data: Path, tmp_path: Path):
    completed = subprocess.run(
        pie_local_command("token"),
        env=fresh_environment(user_data),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert completed.returncode == 0, completed.stderr
    assert (user_data / "pie-local" / "jwt-signing-key.pem").exists()
    assert not (tmp_path / ".pie-local").exists()


def test_an_announcement_left_by_a_killed_server_is_ignored(user_data: Path, tmp_path: Path):
    announcements = user_data / "pie-local" / "servers"
    announcements.mkdir(parents=True, exist_ok=True)
    home = tmp_path / "own-home"
    (announcements / "1.json").write_text(
        json.dumps({"url": "http://127.0.0.1:1", "home": str(tmp_path / "gone"), "pid": _ended_pid()})
    )

    completed = subprocess.run(
        pie_local_command("token", "--server", "http://127.0.0.1:1"),
        env=fresh_environment(user_data, PIE_LOCAL_HOME=str(home)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert completed.returncode == 0, completed.stderr
    assert (home / "jwt-signing-key.pem").exists()
    assert not (tmp_path / "gone").exists()


def _ended_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid

"""``pie-local serve`` as a subprocess: started on a port the OS picks, stopped at the end.

The server runs from a given ``PIE_LOCAL_HOME`` with ``--port 0``; its address is read from the
startup log line, and its log is shown when it fails to start.
"""

from __future__ import annotations

import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.client import pie_local_command, pie_local_environment

STARTUP_TIMEOUT_SECONDS = 30
_LISTENING = re.compile(r"PIE local API on (http://\S+)")


@dataclass
class LocalServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    home: Path


def start_server(home: Path, log: Path, *options: str) -> LocalServer:
    """``pie-local serve --port 0 [options]`` as a subprocess; returns once it answers HTTP."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            pie_local_command("serve", "--port", "0", *options),
            env=pie_local_environment(home),
            cwd=home.parent,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"pie-local serve exited with {process.returncode}:\n{log.read_text()}")
        found = _LISTENING.search(log.read_text())
        if found and _answers(found[1]):
            return LocalServer(found[1], process, log, home)
        time.sleep(0.05)
    process.kill()
    process.wait()
    pytest.fail(f"pie-local serve did not answer within {STARTUP_TIMEOUT_SECONDS} s:\n{log.read_text()}")


@contextmanager
def serving(home: Path, *options: str) -> Iterator[LocalServer]:
    """A server for a fixture's lifetime, logging to ``serve.log`` beside ``home``."""
    running = start_server(home, home.parent / "serve.log", *options)
    try:
        yield running
    finally:
        stop_server(running)


def stop_server(server: LocalServer) -> int:
    server.process.terminate()
    try:
        return server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        return server.process.wait()


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(f"{url}/v2/models", timeout=1).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class Tokens:
    """Bearer tokens for the suite's callers."""

    admin: str
    reader: str
    writer: str
    jobs: str
    expired: str
    forged: str


def forged_token() -> str:
    """Well-formed, with the right claims, but signed by a key the server has never seen."""
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {
        "iss": "pie-local",
        "aud": "pie-api",
        "sub": "mallory",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "scope": "models:read models:write jobs:write",
    }
    return jwt.encode(claims, stranger, algorithm="RS256")

"""A small HTTP client for the end-to-end suite (urllib only) and the ``pie-local`` command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

PIE_LOCAL_SCRIPT = Path(sys.executable).parent / "pie-local"


def pie_local_command(*arguments: str) -> list[str]:
    """``pie-local ...`` through the installed console script (``python -m`` if it is missing)."""
    if PIE_LOCAL_SCRIPT.exists():
        return [str(PIE_LOCAL_SCRIPT), *arguments]
    return [sys.executable, "-m", "pie_local.cli", *arguments]


def pie_local_environment(home: Path) -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PIE_")}
    environment["PIE_LOCAL_HOME"] = str(home)
    # The servers resolve webhook hosts from this table, never through DNS (tests stay on loopback).
    environment["PIE_WEBHOOK_HOSTS"] = "localhost=127.0.0.1"
    return environment


def run_pie_local(home: Path, *arguments: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        pie_local_command(*arguments),
        env=pie_local_environment(home),
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def mint(home: Path, *arguments: str) -> str:
    """A token from ``pie-local token`` (same home as the server, so the server trusts it)."""
    completed = run_pie_local(home, "token", *arguments)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip()


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Message
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Api:
    """Requests to the local server, authenticated with ``token`` unless told otherwise."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.token = token

    def as_caller(self, token: str | None) -> Api:
        return Api(self.base_url, token)

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        all_headers = {"Accept": "application/json", **(headers or {})}
        if self.token is not None:
            all_headers.setdefault("Authorization", f"Bearer {self.token}")
        if json_body is not None:
            body = json.dumps(json_body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        request = urllib.request.Request(self.base_url + path, data=body, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                return Reply(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            with error:
                return Reply(error.code, error.headers, error.read())

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json_body: Any = None, **kwargs: Any) -> Reply:
        return self.request("POST", path, json_body=json_body, **kwargs)

    def put(self, path: str, json_body: Any = None, **kwargs: Any) -> Reply:
        return self.request("PUT", path, json_body=json_body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Reply:
        return self.request("DELETE", path, **kwargs)


def assert_error(reply: Reply, status: int) -> str:
    """The reply is ``status`` with exactly ``{success: false, message}``; returns the message."""
    assert reply.status == status, (reply.status, reply.body)
    body = reply.json
    assert set(body) == {"success", "message"}, body
    assert body["success"] is False
    assert isinstance(body["message"], str) and body["message"]
    return body["message"]

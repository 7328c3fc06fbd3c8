"""Local API throughput: ``GET /v2/models/{id}`` through ``pie-local serve`` with 8 concurrent
clients, against a trivial standard-library HTTP server answering a body of the same size.

Both servers run as subprocesses on 127.0.0.1 and are driven by the same urllib clients (one
connection per request, as urllib makes them) for the same time, so the ratio says what PIE's
local stack — gateway, JWT check, route function, embedded DynamoDB — costs over bare HTTP.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.load import concurrently
from bench.report import Figure, ratio
from bench.world import SOURCE_MODEL, load_event
from pie_local.gateway.tokens import SigningKeys, mint_token

SECTION = "local API"
CLIENTS = 8
SECONDS = 5.0
WARM_UP_REQUESTS = 20
STARTUP_SECONDS = 30
ROOT = Path(__file__).resolve().parent.parent
_PIE_LISTENING = re.compile(r"PIE local API on (http://\S+)")
_TRIVIAL_LISTENING = re.compile(r"listening on (http://\S+)")


def measure(seconds: float = SECONDS) -> tuple[list[Figure], dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="pie-bench-") as directory:
        home = Path(directory) / ".pie-local"
        with _server(_pie_local_command(), _environment(home), Path(directory) / "serve.log", _PIE_LISTENING) as url:
            token = mint_token(SigningKeys.load_or_create(home))
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            _create_model(url, headers)
            target = f"{url}/v2/models/{SOURCE_MODEL}"
            body_bytes = len(_get(target, headers))
            pie = _load(target, headers, seconds)
        trivial_command = [sys.executable, "-m", "bench.trivial_server", str(body_bytes)]
        with _server(trivial_command, dict(os.environ), Path(directory) / "trivial.log", _TRIVIAL_LISTENING) as url:
            trivial = _load(f"{url}/v2/models/{SOURCE_MODEL}", headers, seconds)
    details = {
        "clients": CLIENTS,
        "seconds": seconds,
        "response_bytes": body_bytes,
        "pie_local": pie,
        "trivial_http_server": trivial,
    }
    figures = [
        Figure(
            SECTION,
            f"GET /v2/models/{{id}} through pie-local serve, {CLIENTS} clients",
            f"{pie['requests_per_second']:.0f} req/s, p50 {pie['p50_ms']:.1f} ms, p99 {pie['p99_ms']:.1f} ms "
            f"({pie['requests']} requests, {pie['errors']} errors)",
            data=pie,
        ),
        Figure(
            SECTION,
            f"trivial stdlib http.server, same body, {CLIENTS} clients (baseline)",
            f"{trivial['requests_per_second']:.0f} req/s, p50 {trivial['p50_ms']:.1f} ms, p99 {trivial['p99_ms']:.1f} ms",
            data=trivial,
        ),
        Figure(
            SECTION,
            "pie-local throughput / baseline",
            f"{ratio(pie['requests_per_second'] / trivial['requests_per_second'])} "
            f"(p99 {ratio(pie['p99_ms'] / trivial['p99_ms'])} the baseline's)",
            "— (no budget)",
        ),
    ]
    return figures, details


def _pie_local_command() -> list[str]:
    script = Path(sys.executable).parent / "pie-local"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "pie_local.cli"]
    return [*command, "serve", "--host", "127.0.0.1", "--port", "0"]


def _environment(home: Path) -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PIE_")}
    environment["PIE_LOCAL_HOME"] = str(home)
    return environment


@contextmanager
def _server(command: list[str], environment: dict[str, str], log: Path, listening: re.Pattern[str]) -> Iterator[str]:
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=environment, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            found = listening.search(log.read_text(errors="replace"))
            if found:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.05)
        yield found[1]
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _create_model(url: str, headers: dict[str, str]) -> None:
    body = load_event("create_model")["body"].encode()
    request = urllib.request.Request(
        f"{url}/v2/models", data=body, method="POST", headers={**headers, "Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        json.loads(response.read())


def _get(url: str, headers: dict[str, str]) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
        return response.read()


def _load(url: str, headers: dict[str, str], seconds: float) -> dict[str, Any]:
    for _ in range(WARM_UP_REQUESTS):
        _get(url, headers)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def client(running: Callable[[], bool]) -> None:
        mine: list[float] = []
        failed = 0
        while running():
            began = time.perf_counter()
            try:
                _get(url, headers)
            except OSError:
                failed += 1
                continue
            mine.append((time.perf_counter() - began) * 1000)
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    elapsed = concurrently(CLIENTS, seconds, client)
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "requests": len(latencies),
        "errors": errors[0],
        "requests_per_second": len(latencies) / elapsed,
        "p50_ms": quantiles[49],
        "p99_ms": quantiles[98],
    }

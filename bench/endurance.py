"""Local stack endurance: does ``pie-local serve`` cost the same after a working day's writes?

One ``pie-local serve`` subprocess with a data directory of its own. Filler writes (new models
and versions) bring it to ``WRITES``; then a fresh ``--ephemeral`` server starts beside it, and
both move fresh models pending→training→active, taking turns call by call so that both see the
same load from the machine: the worked server's p50s against the fresh one's (its first 100
writes). Then the worked server's peak RSS, and the time a restart takes on the data directory it
left (``kill -9``, start, first answer), next to the fresh server's start (the part of a restart
that is not the data).
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.load import concurrently
from bench.local_api import ROOT, STARTUP_SECONDS, _environment, _pie_local_command
from bench.report import Figure, ratio
from bench.world import load_event
from pie_local.gateway.tokens import SigningKeys, mint_token

SECTION = "local stack endurance"
WRITES = 2_000
ROUND_MODELS = 40
GROWTH_BUDGET = 1.3
RSS_BUDGET_MB = 400
RESTART_BUDGET_SECONDS = 5.0
CONCURRENT_CLIENTS = 50
CONCURRENT_SECONDS = 5.0
_LISTENING = re.compile(r"PIE local API on (http://\S+)")


def measure(writes: int = WRITES) -> tuple[list[Figure], dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="pie-bench-endurance-") as directory:
        root = Path(directory)
        home = root / ".pie-local"
        data = root / "data"
        command = [*_pie_local_command(), "--data-dir", str(data)]
        with _server(command, home, root / "serve.log") as (url, process):
            worked = _Client(url, mint_token(SigningKeys.load_or_create(home)))
            _round([worked], count=3)  # warm-up: each route's function is imported on its first call
            while worked.writes < writes - 3 * ROUND_MODELS:
                _filler(worked)
            began = time.perf_counter()
            with _server([*_pie_local_command(), "--ephemeral"], home, root / "fresh.log") as (fresh_url, _):
                fresh = _Client(fresh_url, worked.token)
                fresh.get("/v2/models?limit=1")
                empty_start_seconds = time.perf_counter() - began
                _round([fresh], count=3)
                # Alternating between the two servers, both see the same load from the machine.
                last, first = _round([worked, fresh])
            throughput, errors = _concurrent_gets(worked, f"/v2/models/{worked.new_model()}")
            peak_rss_mb = _peak_rss_mb(process.pid)
            total_writes, fresh_writes = worked.writes, fresh.writes
            process.kill()
            process.wait()
        restart_seconds = _time_to_answer(command, home, root / "restart.log")
        items = sum(1 for line in (data / "table.jsonl").open() if line.startswith('{"item"'))
    growth = {name: last[name] / first[name] for name in first}
    details = {
        "writes": total_writes,
        "fresh_server_writes": fresh_writes,
        "fresh_server_ms": first,
        "after_writes_ms": last,
        "growth": growth,
        "peak_rss_mb": peak_rss_mb,
        "concurrent_clients": CONCURRENT_CLIENTS,
        "concurrent_get_per_second": throughput,
        "concurrent_get_errors": errors,
        "items_at_restart": items,
        "restart_seconds": restart_seconds,
        "empty_start_seconds": empty_start_seconds,
    }
    figures = [
        Figure(
            SECTION,
            f"training→active p50 after {total_writes} writes / a fresh server's first 100",
            _growth(growth, first, last, "training_to_active"),
            f"≤ {GROWTH_BUDGET}×",
            growth["training_to_active"] <= GROWTH_BUDGET,
            data=details,
        ),
        Figure(
            SECTION,
            f"pending→training p50 after {total_writes} writes / a fresh server's first 100",
            _growth(growth, first, last, "pending_to_training"),
            f"≤ {GROWTH_BUDGET}×",
            growth["pending_to_training"] <= GROWTH_BUDGET,
        ),
        Figure(
            SECTION,
            f"peak RSS of pie-local serve after {total_writes} writes",
            f"{peak_rss_mb:.0f} MB",
            f"< {RSS_BUDGET_MB} MB",
            peak_rss_mb < RSS_BUDGET_MB,
        ),
        Figure(
            SECTION,
            f"{CONCURRENT_CLIENTS} clients at once, GET /v2/models/{{id}} for {CONCURRENT_SECONDS:.0f} s, after the writes",
            f"{throughput:.0f} req/s, {errors} errors",
            "0 errors",
            errors == 0,
        ),
        Figure(
            SECTION,
            f"restart (kill -9, start, first answer) with {items} items",
            f"{restart_seconds:.2f} s",
            f"< {RESTART_BUDGET_SECONDS:.0f} s",
            restart_seconds < RESTART_BUDGET_SECONDS,
        ),
        Figure(
            SECTION,
            "start of a fresh --ephemeral server, empty table (baseline)",
            f"{empty_start_seconds:.2f} s (the data's share of the restart: "
            f"{restart_seconds - empty_start_seconds:.2f} s)",
        ),
    ]
    return figures, details


class _Client:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.writes = 0
        self._models = 0

    def get(self, path: str) -> Any:
        return self._send("GET", path, None)

    def post(self, path: str, body: Any) -> float:
        began = time.perf_counter()
        self._send("POST", path, body)
        self.writes += 1
        return (time.perf_counter() - began) * 1000

    def new_model(self) -> str:
        self._models += 1
        model_id = f"endurance-{self._models}"
        document = {**json.loads(load_event("create_model")["body"]), "id": model_id}
        self.post("/v2/models", document)
        return model_id

    def _send(self, method: str, path: str, body: Any) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"{method} {path}: {error.code} {error.read()[:300]!r}") from None


def _growth(growth: dict[str, float], first: dict[str, float], last: dict[str, float], name: str) -> str:
    return f"{ratio(growth[name])} ({first[name]:.1f} → {last[name]:.1f} ms)"


def _time_to_answer(command: list[str], home: Path, log: Path) -> float:
    began = time.perf_counter()
    with _server(command, home, log) as (url, _):
        _Client(url, mint_token(SigningKeys.load_or_create(home))).get("/v2/models?limit=1")
        return time.perf_counter() - began


def _round(clients: list[_Client], count: int = ROUND_MODELS) -> list[dict[str, float]]:
    """p50s of each transition on each client's server; the servers take turns, call by call."""
    models = [[client.new_model() for client in clients] for _ in range(count)]
    timings: list[dict[str, list[float]]] = [{} for _ in clients]
    for status, transition in (("training", "pending_to_training"), ("active", "training_to_active")):
        for index, row in enumerate(models):
            turns = list(zip(clients, row, timings, strict=True))
            # Which server goes first alternates too, so an order effect cannot fall on one side only.
            for client, model, timing in turns if index % 2 == 0 else reversed(turns):
                elapsed = client.post(f"/v2/models/{model}/versions/1/new_status", {"status": status})
                timing.setdefault(transition, []).append(elapsed)
    return [{name: statistics.median(values) for name, values in timing.items()} for timing in timings]


def _concurrent_gets(client: _Client, path: str) -> tuple[float, int]:
    """Requests per second and failed requests (refused, reset, timed out or not 200) of
    ``CONCURRENT_CLIENTS`` threads, each on its own connection, for ``CONCURRENT_SECONDS``."""
    counts = {"answered": 0, "errors": 0}
    lock = threading.Lock()

    def one_client(running: Callable[[], bool]) -> None:
        while running():
            try:
                client.get(path)
                outcome = "answered"
            except (OSError, RuntimeError):
                outcome = "errors"
            with lock:
                counts[outcome] += 1

    elapsed = concurrently(CONCURRENT_CLIENTS, CONCURRENT_SECONDS, one_client)
    return counts["answered"] / elapsed, counts["errors"]


def _filler(client: _Client) -> None:
    model = client.new_model()
    client.post(f"/v2/models/{model}/new_version", {"version": "2", "metadata": {"filler": True}})


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def _server(command: list[str], home: Path, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=_environment(home), cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not (found := _LISTENING.search(log.read_text(errors="replace"))):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pie-local serve did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.01)
        yield found[1], process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

"""Peer benchmark: ``pie-local serve`` against MLflow's model registry (``mlflow server``, sqlite,
its default workers; one worker as a second line), the same workload through each one's REST API,
alternating between them.

    make bench-mlflow                                           # MLflow in bench/.mlflow-venv
    python -m bench.mlflow_peer --mlflow bench/.mlflow-venv/bin/mlflow [--quick]

Both servers run on 127.0.0.1 from a temporary directory and are stopped at the end. Each client
keeps its connection alive, as any SDK does. Sequential operations alternate one PIE call and one
MLflow call (which goes first alternates too), so load on the machine falls on both alike. Every
phase is bounded: a server whose process tree passes ``RSS_CAP_BYTES`` or a phase that passes its
deadline stops that phase, and the figure says how far it got.

Mapping of operations: create model = ``POST /v2/models`` / ``registered-models/create``; get =
``GET /v2/models/{id}`` / ``registered-models/get``; create version = ``new_version`` /
``model-versions/create``; status step 1 = ``new_status`` pending→training /
``model-versions/transition-stage`` None→Staging; status step 2 = training→active (PIE's
transaction with the outbox) / Staging→Production; paging = ``GET /v2/models?limit=50`` /
``registered-models/search?max_results=50`` following the page tokens.

Both sides keep their data durable by default: PIE forces each write to disk before answering it
(fsync, concurrent writers sharing one), MLflow's sqlite runs with SQLite's defaults (a rollback
journal, ``synchronous=FULL``: fsyncs at every commit). The run states both.

Every percentile comes from at least 200 samples: 200 calls of each sequential operation, 8
clients creating 40 models each at once, and 3,000 timed writes in the growth phase (their p99.9
and slowest). Growth (create version p50 after the writes over before) is printed with a 95%
bootstrap interval: its noise.

Last, webhook delivery after a 30 s receiver outage (``bench.webhook_outage``): 10 events sent to
each while its receiver is down, counted once it is back (``--outage-only`` runs this phase alone).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from bench import webhook_outage
from bench.load import concurrently

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MLFLOW = ROOT / "bench" / ".mlflow-venv" / "bin" / "mlflow"
RESULTS = ROOT / "bench" / "mlflow_peer_results.json"
HOST = "127.0.0.1"
STARTUP_SECONDS = 180
RSS_CAP_BYTES = 6 * 1024**3  # MLflow starts at ~3 GB with its default 4 workers
PHASE_SECONDS = 900
PAGE_SIZE = 50
SETTLE_SECONDS = 90
WARM_UP_CALLS = 10
CLIENTS = 8
CREATES_PER_CLIENT = 40
BOOTSTRAP_ROUNDS = 2000
# Search over the same data on both: the growth phase's models (page-00000 ...), some tagged.
SEARCH_TAGGED = 100
SEARCH_TAG_EVERY = 3
SEARCH_SHAPES = (
    ("by name prefix", "name LIKE 'page-001%'"),
    ("by tag", "tags.team = 'pricing'"),
    ("by name prefix and tag", "name LIKE 'page-00%' AND tags.team = 'pricing'"),
)
_PIE_LISTENING = re.compile(r"PIE local API on (http://\S+)")


@dataclass
class Workload:
    sequential: int = 200
    """Calls of each sequential operation."""
    writes: int = 3000
    """The growth phase's writes (model creates, each timed); paging then reads every model."""
    concurrent_seconds: float = 5.0
    creates_per_client: int = CREATES_PER_CLIENT
    paging_rounds: int = 3


QUICK = Workload(sequential=30, writes=300, concurrent_seconds=3.0, creates_per_client=10, paging_rounds=2)


# Process trees -------------------------------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending += children.get(current, [])
    return found


def tree_rss_bytes(pid: int) -> int:
    total = 0
    for member in _tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def tree_cpu_seconds(pid: int) -> float:
    total = 0.0
    for member in _tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


# The two servers -----------------------------------------------------------------------------------


class Peer:
    """One server, its process and its REST calls. ``call`` answers (status, parsed body)."""

    name = ""

    def __init__(self, url: str, process: subprocess.Popen[bytes], started_seconds: float) -> None:
        self.url = url
        self.process = process
        self.started_seconds = started_seconds
        self.peak_rss = tree_rss_bytes(process.pid)
        self._local = threading.local()

    def connection(self) -> http.client.HTTPConnection:
        """This thread's kept-alive connection."""
        if getattr(self._local, "connection", None) is None:
            parts = urlsplit(self.url)
            self._local.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        return self._local.connection

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json", **self.headers()}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            connection = self.connection()
            try:
                connection.request(method, path, body=payload, headers=headers)
                response = connection.getresponse()
                data = response.read()
                break
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                self._local.connection = None
                # A server may close a kept-alive connection that sat idle (uvicorn after 5 s)
                # before the request reached it: send it once more on a new connection.
                stale = isinstance(error, (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected))
                if attempt == 2 or not stale:
                    raise
        return response.status, json.loads(data) if data else None

    def expect(self, status: int, method: str, path: str, body: Any = None) -> Any:
        answered, document = self.call(method, path, body)
        if answered != status:
            raise RuntimeError(f"{self.name}: {method} {path} answered {answered}: {document}")
        return document

    def sample_rss(self) -> int:
        rss = tree_rss_bytes(self.process.pid)
        self.peak_rss = max(self.peak_rss, rss)
        return rss

    def headers(self) -> dict[str, str]:
        return {}

    # The workload's operations, one call each; every peer implements them.
    def create_model(self, name: str) -> None:
        raise NotImplementedError

    def get_model(self, name: str) -> None:
        raise NotImplementedError

    def create_version(self, name: str, version: int) -> None:
        raise NotImplementedError

    def change_status(self, name: str, version: int, step: int = 1) -> None:
        """Step 1: the first status change of a new version; step 2: the next one."""
        raise NotImplementedError

    def page(self, token: str | None) -> tuple[int, str | None]:
        """One page of models after ``token``: how many it held, and the next page's token."""
        raise NotImplementedError

    def tag(self, name: str, key: str, value: str) -> None:
        raise NotImplementedError

    def search(self, filter: str) -> int:
        """The first page (50) of models matching an MLflow-syntax ``filter``: how many it held."""
        raise NotImplementedError


class Pie(Peer):
    name = "PIE"
    token = ""
    log: Path | None = None

    def durability(self) -> str:
        """What its start-up banner says (``pie-local serve`` fsyncs by default)."""
        text = self.log.read_text(errors="replace") if self.log is not None else ""
        found = re.search(r"^  durability +(.+)$", text, re.MULTILINE)
        return found[1].strip() if found else "not stated (before --no-fsync existed: flushed, no fsync)"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def create_model(self, name: str) -> None:
        document = {
            "id": name,
            "name": name,
            "handlers": {
                "training": {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:train"},
                "inference": {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:infer"},
            },
        }
        self.expect(201, "POST", "/v2/models", document)

    def get_model(self, name: str) -> None:
        self.expect(200, "GET", f"/v2/models/{name}")

    def create_version(self, name: str, version: int) -> None:
        self.expect(201, "POST", f"/v2/models/{name}/new_version", {"version": str(version)})

    def change_status(self, name: str, version: int, step: int = 1) -> None:
        status = "training" if step == 1 else "active"
        self.expect(200, "POST", f"/v2/models/{name}/versions/{version}/new_status", {"status": status})

    def page(self, token: str | None) -> tuple[int, str | None]:
        path = f"/v2/models?limit={PAGE_SIZE}" + (f"&next_token={quote(token)}" if token else "")
        document = self.expect(200, "GET", path)
        return len(document["models"]), document.get("next_token")

    def tag(self, name: str, key: str, value: str) -> None:
        self.expect(200, "PUT", f"/v2/models/{name}/tags/{key}", {"value": value})

    def search(self, filter: str) -> int:
        document = self.expect(200, "GET", f"/v2/models?limit={PAGE_SIZE}&filter={quote(filter)}")
        return len(document["models"])


class MlFlow(Peer):
    name = "MLflow"
    _api = "/api/2.0/mlflow"
    database: Path | None = None

    def durability(self) -> str:
        """How MLflow's sqlite keeps a commit: the journal mode of its file and SQLite's default
        synchronous level (MLflow's engine sets neither: ``mlflow/store/db/utils.py``)."""
        if self.database is None or not self.database.exists():
            return "sqlite (not found)"
        with sqlite3.connect(self.database) as connection:
            journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
            synchronous = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[
                connection.execute("PRAGMA synchronous").fetchone()[0]
            ]
        return (
            f"sqlite, journal_mode={journal}, synchronous={synchronous} "
            "(SQLite's defaults, MLflow sets neither: fsync at each commit)"
        )

    def create_model(self, name: str) -> None:
        self.expect(200, "POST", f"{self._api}/registered-models/create", {"name": name})

    def get_model(self, name: str) -> None:
        self.expect(200, "GET", f"{self._api}/registered-models/get?name={quote(name)}")

    def create_version(self, name: str, version: int) -> None:
        # MLflow numbers versions itself, in the order they are created, as PIE's callers do here.
        body = {"name": name, "source": f"s3://bench/{name}/{version}"}
        self.expect(200, "POST", f"{self._api}/model-versions/create", body)

    def change_status(self, name: str, version: int, step: int = 1) -> None:
        stage = "Staging" if step == 1 else "Production"
        body = {"name": name, "version": str(version), "stage": stage, "archive_existing_versions": False}
        self.expect(200, "POST", f"{self._api}/model-versions/transition-stage", body)

    def page(self, token: str | None) -> tuple[int, str | None]:
        path = f"{self._api}/registered-models/search?max_results={PAGE_SIZE}"
        if token:
            path += f"&page_token={quote(token)}"
        document = self.expect(200, "GET", path)
        return len(document.get("registered_models", [])), document.get("next_page_token")

    def tag(self, name: str, key: str, value: str) -> None:
        body = {"name": name, "key": key, "value": value}
        self.expect(200, "POST", f"{self._api}/registered-models/set-tag", body)

    def search(self, filter: str) -> int:
        path = f"{self._api}/registered-models/search?max_results={PAGE_SIZE}&filter={quote(filter)}"
        return len(self.expect(200, "GET", path).get("registered_models", []))


def _wait_until_answering(url: str, path: str, process: subprocess.Popen[bytes], log: Path, began: float) -> float:
    parts = urlsplit(url)
    deadline = began + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=2)
            connection.request("GET", path)
            connection.getresponse().read()
            connection.close()
            return time.monotonic() - began
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {STARTUP_SECONDS} s:\n{log.read_text(errors='replace')[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> float:
    """SIGTERM to the server's process group; seconds until its main process exits."""
    began = time.monotonic()
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return 0.0
    elapsed = time.monotonic() - began
    try:
        os.killpg(process.pid, signal.SIGKILL)  # anything of the group still running
    except ProcessLookupError:
        pass
    process.wait()
    return elapsed


@contextmanager
def pie_server(directory: Path) -> Iterator[Pie]:
    from pie_local.gateway.tokens import SigningKeys, mint_token

    home = directory / ".pie-local"
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PIE_")}
    environment["PIE_LOCAL_HOME"] = str(home)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environment.get("PYTHONPATH")]))
    log = directory / "pie.log"
    command = [sys.executable, "-m", "pie_local.cli", "serve", "--host", HOST, "--port", "0"]
    began = time.monotonic()
    with log.open("wb") as output:
        # Its own working directory: whatever pie-local keeps by default stays in the temporary one.
        process = subprocess.Popen(
            command, env=environment, cwd=directory, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        while not (found := _PIE_LISTENING.search(log.read_text(errors="replace"))):
            if process.poll() is not None or time.monotonic() > began + STARTUP_SECONDS:
                raise RuntimeError(f"pie-local serve did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.02)
        started = _wait_until_answering(found[1], "/v2/models", process, log, began)
        pie = Pie(found[1], process, started)
        pie.log = log
        pie.token = mint_token(SigningKeys.load_or_create(home), expires_in=6 * 3600)
        yield pie
    finally:
        if process.poll() is None:
            _stop(process)


@contextmanager
def mlflow_server(directory: Path, mlflow: Path, workers: int | None = None) -> Iterator[MlFlow]:
    """``mlflow server`` on sqlite; with its default workers unless ``workers`` is given."""
    port = _free_port()
    url = f"http://{HOST}:{port}"
    log = directory / "mlflow.log"
    command = [
        str(mlflow), "server",
        "--backend-store-uri", f"sqlite:///{directory / 'mlflow.db'}",
        "--default-artifact-root", str(directory / "mlflow-artifacts"),
        *(["--workers", str(workers)] if workers is not None else []),
        "--host", HOST, "--port", str(port),
    ]  # fmt: skip
    began = time.monotonic()
    with log.open("wb") as output:
        # Webhooks to http on loopback allowed (the outage phase's receiver), as pie-local allows them.
        environment = {**os.environ, **webhook_outage.MLFLOW_ENVIRONMENT}
        process = subprocess.Popen(
            command, cwd=directory, env=environment, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        started = _wait_until_answering(url, "/health", process, log, began)
        peer = MlFlow(url, process, started)
        peer.database = directory / "mlflow.db"
        yield peer
    finally:
        if process.poll() is None:
            _stop(process)


# Measuring -----------------------------------------------------------------------------------------


@dataclass
class Result:
    figure: str
    pie: float | None
    mlflow: float | None
    unit: str
    better: str  # "lower" or "higher"
    note: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    mlflow_one_worker: float | None = None


def _p50(samples: list[float]) -> float:
    return statistics.median(samples)


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98] if len(samples) > 1 else samples[0]


def _p999(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=1000, method="inclusive")[998] if len(samples) > 1 else samples[0]


def growth_interval(before: list[float], after: list[float], rounds: int = BOOTSTRAP_ROUNDS) -> tuple[float, float]:
    """A 95% bootstrap interval of p50(after) / p50(before): how far the ratio moves by chance."""
    draw = random.Random(0)
    ratios = sorted(
        _p50(draw.choices(after, k=len(after))) / _p50(draw.choices(before, k=len(before))) for _ in range(rounds)
    )
    return ratios[int(0.025 * rounds)], ratios[int(0.975 * rounds) - 1]


def alternate(peers: list[Peer], count: int, operation: Callable[[Peer, int], None]) -> dict[str, list[float]]:
    """``count`` calls of ``operation`` on each peer, one peer then the other (order alternating);
    milliseconds per call, by peer."""
    timings: dict[str, list[float]] = {peer.name: [] for peer in peers}
    for index in range(count):
        for peer in peers if index % 2 == 0 else peers[::-1]:
            began = time.perf_counter()
            operation(peer, index)
            timings[peer.name].append((time.perf_counter() - began) * 1000)
    return timings


def concurrent_gets(peer: Peer, model: str, seconds: float) -> dict[str, float]:
    counts: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(running: Callable[[], bool]) -> None:
        done = 0
        while running():
            try:
                peer.get_model(model)
                done += 1
            except (OSError, http.client.HTTPException, RuntimeError) as error:
                with lock:
                    errors.append(str(error))
        with lock:
            counts.append(done)

    elapsed = concurrently(CLIENTS, seconds, client)
    return {"requests_per_second": sum(counts) / elapsed, "requests": sum(counts), "errors": len(errors)}


def concurrent_creates(peer: Peer, per_client: int, prefix: str) -> dict[str, Any]:
    """``CLIENTS`` clients creating ``per_client`` models each, all at once; each call timed."""
    timings: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def client(index: int) -> None:
        start.wait()
        for number in range(per_client):
            began = time.perf_counter()
            try:
                peer.create_model(f"{prefix}-{index}-{number:04d}")
            except (OSError, http.client.HTTPException, RuntimeError) as error:
                with lock:
                    errors.append(str(error))
                continue
            with lock:
                timings.append((time.perf_counter() - began) * 1000)

    threads = [threading.Thread(target=client, args=(index,), daemon=True) for index in range(CLIENTS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return {
        "p50_ms": _p50(timings),
        # With every client sending its next request as soon as it has an answer, the mean is
        # clients / throughput whatever the order requests are served in (Little's law); the p50
        # also shows how evenly a server shares its time between them.
        "mean_ms": statistics.fmean(timings),
        "p99_ms": _p99(timings),
        "samples": len(timings),
        "creates_per_second": len(timings) / elapsed,
        "errors": len(errors),
    }


def page_all(peer: Peer) -> tuple[float, int, int]:
    """Seconds to read every model a page at a time; models and pages read."""
    began = time.perf_counter()
    seen, pages, token = 0, 0, None
    while True:
        count, token = peer.page(token)
        seen, pages = seen + count, pages + 1
        if not token:
            return time.perf_counter() - began, seen, pages


def settle(peer: Peer, limit: float = SETTLE_SECONDS) -> float:
    """Wait until the server's process tree is idle (MLflow starts background workers after it
    first answers); seconds waited."""
    began = time.monotonic()
    while time.monotonic() - began < limit:
        before = tree_cpu_seconds(peer.process.pid)
        time.sleep(1)
        if tree_cpu_seconds(peer.process.pid) - before < 0.15:
            break
    return round(time.monotonic() - began, 1)


def idle_cpu(peers: list[Peer], seconds: float = 5.0) -> dict[str, float]:
    before = {peer.name: tree_cpu_seconds(peer.process.pid) for peer in peers}
    time.sleep(seconds)  # measuring idleness itself
    return {peer.name: (tree_cpu_seconds(peer.process.pid) - before[peer.name]) / seconds for peer in peers}


def fill_to(peers: list[Peer], count: int, log: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """Create ``count`` more models on each peer (the growth phase's writes, each timed),
    alternating in chunks; a peer past the RSS cap or the phase deadline stops where it is."""
    reached = {peer.name: 0 for peer in peers}
    timings: dict[str, list[float]] = {peer.name: [] for peer in peers}
    stopped: dict[str, str] = {}
    deadline = time.monotonic() + PHASE_SECONDS
    chunk = 50
    while any(reached[peer.name] < count and peer.name not in stopped for peer in peers):
        for peer in peers:
            if peer.name in stopped:
                continue
            for index in range(reached[peer.name], min(count, reached[peer.name] + chunk)):
                began = time.perf_counter()
                peer.create_model(f"page-{index:05d}")
                timings[peer.name].append((time.perf_counter() - began) * 1000)
                reached[peer.name] = index + 1
            if peer.sample_rss() > RSS_CAP_BYTES:
                stopped[peer.name] = f"stopped at {reached[peer.name]} models: RSS over {RSS_CAP_BYTES >> 30} GiB"
            elif time.monotonic() > deadline:
                stopped[peer.name] = f"stopped at {reached[peer.name]} models: phase over {PHASE_SECONDS} s"
        if any(reached[name] % 500 == 0 for name in reached):
            log(", ".join(f"{name} {count}" for name, count in reached.items()))
    return {
        peer.name: {"models": reached[peer.name], "stopped": stopped.get(peer.name, ""), "timings": timings[peer.name]}
        for peer in peers
    }


def run(workload: Workload, mlflow: Path, log: Callable[[str], None]) -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="pie-mlflow-peer-") as temporary, ExitStack() as servers:
        directory = Path(temporary)
        for name in ("pie", "mlflow", "mlflow-one-worker"):
            (directory / name).mkdir()
        log("starting MLflow (its default workers) ...")
        ml = servers.enter_context(mlflow_server(directory / "mlflow", mlflow))
        log(f"MLflow answered after {ml.started_seconds:.1f} s; starting PIE ...")
        pie = servers.enter_context(pie_server(directory / "pie"))
        log(f"PIE answered after {pie.started_seconds:.1f} s")
        peers: list[Peer] = [pie, ml]
        results.append(Result("start: spawn to first answer", pie.started_seconds, ml.started_seconds, "s", "lower"))
        settled = {peer.name: settle(peer) for peer in peers}
        log(f"settled (seconds until idle): {settled}")
        rss_start = {peer.name: peer.sample_rss() / 2**20 for peer in peers}
        results.append(
            Result("memory at start (RSS of the process tree)", rss_start["PIE"], rss_start["MLflow"], "MB", "lower")
        )
        cpu = idle_cpu(peers)
        results.append(Result("idle CPU (cores, 5 s)", cpu["PIE"], cpu["MLflow"], "cores", "lower"))

        n = workload.sequential
        # PIE's model starts at version 1; MLflow's first created version is 1.
        first = {"PIE": 2, "MLflow": 1}
        log(f"sequential operations, {n} each ...")
        for peer in peers:  # warm each route, outside the figures
            peer.create_model("warm-up")
            for version in range(WARM_UP_CALLS):
                peer.get_model("warm-up")
                peer.create_version("warm-up", first[peer.name] + version)
                peer.change_status("warm-up", first[peer.name] + version, step=1)
                peer.change_status("warm-up", first[peer.name] + version, step=2)
        creates = alternate(peers, n, lambda peer, i: peer.create_model(f"seq-{i:04d}"))
        gets = alternate(peers, n, lambda peer, i: peer.get_model(f"seq-{i % n:04d}"))
        for peer in peers:
            peer.create_model("versions")
        versions = alternate(peers, n, lambda peer, i: peer.create_version("versions", first[peer.name] + i))
        step_1 = alternate(peers, n, lambda peer, i: peer.change_status("versions", first[peer.name] + i, step=1))
        step_2 = alternate(peers, n, lambda peer, i: peer.change_status("versions", first[peer.name] + i, step=2))
        for label, timings in [
            ("create model", creates),
            ("get model", gets),
            ("create version", versions),
            ("status step 1 (→training / →Staging)", step_1),
            ("status step 2 (→active / →Production)", step_2),
        ]:
            results.append(Result(f"{label}: p50", _p50(timings["PIE"]), _p50(timings["MLflow"]), "ms", "lower"))
            results.append(Result(f"{label}: p99", _p99(timings["PIE"]), _p99(timings["MLflow"]), "ms", "lower"))

        log(f"{CLIENTS} concurrent clients reading, {workload.concurrent_seconds:.0f} s each ...")
        throughput = {peer.name: concurrent_gets(peer, "seq-0000", workload.concurrent_seconds) for peer in peers}
        results.append(
            Result(
                f"{CLIENTS}-client GET model throughput",
                throughput["PIE"]["requests_per_second"],
                throughput["MLflow"]["requests_per_second"],
                "req/s",
                "higher",
                note=f"errors: PIE {throughput['PIE']['errors']}, MLflow {throughput['MLflow']['errors']}",
                data=throughput,
            )
        )
        log(f"{CLIENTS} concurrent clients creating {workload.creates_per_client} models each ...")
        at_once = {}
        for index, peer in enumerate(peers):
            at_once[peer.name] = concurrent_creates(peer, workload.creates_per_client, f"at-once-{index}")
        samples = ", ".join(f"{name} {figures['samples']}" for name, figures in at_once.items())
        errors = ", ".join(f"{name} {figures['errors']}" for name, figures in at_once.items())
        for label, figure in (("p50", "p50_ms"), ("mean", "mean_ms"), ("p99", "p99_ms")):
            results.append(
                Result(
                    f"{CLIENTS}-client create model: {label}",
                    at_once["PIE"][figure],
                    at_once["MLflow"][figure],
                    "ms",
                    "lower",
                    note=f"samples: {samples}; errors: {errors}",
                    data=at_once,
                )
            )
        results.append(
            Result(
                f"{CLIENTS}-client create model throughput",
                at_once["PIE"]["creates_per_second"],
                at_once["MLflow"]["creates_per_second"],
                "req/s",
                "higher",
            )
        )

        log(f"{workload.writes} timed writes (the growth phase) ...")
        filled = fill_to(peers, workload.writes, log)
        writes = {name: filled[name]["models"] for name in filled}
        stopped = "; ".join(f"{name}: {value['stopped']}" for name, value in filled.items() if value["stopped"])
        written = {name: filled[name]["timings"] for name in filled}
        count_note = f"of {writes['PIE']} / {writes['MLflow']} writes" + (f"; {stopped}" if stopped else "")
        results.append(
            Result("growth writes: p99.9", _p999(written["PIE"]), _p999(written["MLflow"]), "ms", "lower", count_note)
        )
        results.append(
            Result("growth writes: slowest", max(written["PIE"]), max(written["MLflow"]), "ms", "lower", count_note)
        )
        log("create version after the writes ...")
        later = alternate(peers, n, lambda peer, i: peer.create_version("versions", first[peer.name] + n + i))
        intervals = {name: growth_interval(versions[name], later[name]) for name in ("PIE", "MLflow")}
        results.append(
            Result(
                "growth: create version p50, after the writes / before",
                _p50(later["PIE"]) / _p50(versions["PIE"]),
                _p50(later["MLflow"]) / _p50(versions["MLflow"]),
                "×",
                "lower",
                note="; ".join(
                    f"{name}: {_p50(versions[name]):.1f} → {_p50(later[name]):.1f} ms, 95% interval "
                    f"{intervals[name][0]:.2f}–{intervals[name][1]:.2f}×"
                    for name in ("PIE", "MLflow")
                ),
                data={"intervals": intervals},
            )
        )
        results.append(
            Result("create version p50 after the writes", _p50(later["PIE"]), _p50(later["MLflow"]), "ms", "lower")
        )

        log("paging every model, 50 a page ...")
        pages: dict[str, list[float]] = {peer.name: [] for peer in peers}
        counted: dict[str, tuple[int, int]] = {}
        for round_index in range(workload.paging_rounds):
            for peer in peers if round_index % 2 == 0 else peers[::-1]:
                seconds, seen, read = page_all(peer)
                pages[peer.name].append(seconds)
                counted[peer.name] = (seen, read)
        results.append(
            Result(
                "paging all models, 50 a page",
                _p50(pages["PIE"]),
                _p50(pages["MLflow"]),
                "s",
                "lower",
                note=f"models: PIE {counted['PIE'][0]}, MLflow {counted['MLflow'][0]}",
            )
        )
        per_page = {name: _p50(pages[name]) * 1000 / counted[name][1] for name in pages}
        results.append(Result("paging: time per page of 50", per_page["PIE"], per_page["MLflow"], "ms", "lower"))

        log(f"search: {SEARCH_TAGGED} models tagged, then {n} searches of each shape ...")
        for peer in peers:
            for index in range(0, SEARCH_TAGGED * SEARCH_TAG_EVERY, SEARCH_TAG_EVERY):
                peer.tag(f"page-{index:05d}", "team", "pricing")
        for label, expression in SEARCH_SHAPES:
            found: dict[str, int] = {}

            def search(peer: Peer, i: int, expression: str = expression, found: dict[str, int] = found) -> None:
                found[peer.name] = peer.search(expression)

            timings = alternate(peers, n, search)
            results.append(
                Result(
                    f"search {label}: p50",
                    _p50(timings["PIE"]),
                    _p50(timings["MLflow"]),
                    "ms",
                    "lower",
                    note=f"{expression!r}; first page held: PIE {found['PIE']}, MLflow {found['MLflow']}",
                )
            )
        rss_end = {peer.name: peer.sample_rss() / 2**20 for peer in peers}
        results.append(Result("memory after the workload", rss_end["PIE"], rss_end["MLflow"], "MB", "lower"))
        results.append(Result("peak memory seen", pie.peak_rss / 2**20, ml.peak_rss / 2**20, "MB", "lower"))
        durability = {"PIE": pie.durability(), "MLflow": ml.durability()}

        results.append(outage_result(pie, ml, log))
        log("stopping both (SIGTERM) ...")
        results.append(Result("exit after SIGTERM", _stop(pie.process), _stop(ml.process), "s", "lower"))
        one_worker(directory / "mlflow-one-worker", mlflow, workload, results, log)
        results.append(
            Result(
                "durability",
                None,
                None,
                "",
                "",
                note=f"PIE: {durability['PIE']}; MLflow: {durability['MLflow']}",
            )
        )
    return results


def one_worker(
    directory: Path, mlflow: Path, workload: Workload, results: list[Result], log: Callable[[str], None]
) -> None:
    """The second line: ``mlflow server --workers 1``, alone, on the figures workers change."""
    log("starting MLflow with one worker (the second line) ...")
    with mlflow_server(directory, mlflow, workers=1) as single:
        settle(single)
        figures: dict[str, float] = {
            "start: spawn to first answer": single.started_seconds,
            "memory at start (RSS of the process tree)": single.sample_rss() / 2**20,
        }
        single.create_model("warm-up")
        for _ in range(WARM_UP_CALLS):
            single.get_model("warm-up")
        creates = alternate([single], workload.sequential, lambda peer, i: peer.create_model(f"seq-{i:04d}"))["MLflow"]
        gets = alternate([single], workload.sequential, lambda peer, i: peer.get_model(f"seq-{i:04d}"))["MLflow"]
        figures.update(
            {
                "create model: p50": _p50(creates),
                "create model: p99": _p99(creates),
                "get model: p50": _p50(gets),
                "get model: p99": _p99(gets),
                f"{CLIENTS}-client GET model throughput": concurrent_gets(
                    single, "seq-0000", workload.concurrent_seconds
                )["requests_per_second"],
            }
        )
        at_once = concurrent_creates(single, workload.creates_per_client, "at-once")
        figures[f"{CLIENTS}-client create model: p50"] = at_once["p50_ms"]
        figures[f"{CLIENTS}-client create model: mean"] = at_once["mean_ms"]
        figures[f"{CLIENTS}-client create model: p99"] = at_once["p99_ms"]
        figures[f"{CLIENTS}-client create model throughput"] = at_once["creates_per_second"]
    for result in results:
        result.mlflow_one_worker = figures.get(result.figure, result.mlflow_one_worker)


def outage_result(pie: Pie, ml: MlFlow, log: Callable[[str], None]) -> Result:
    log(
        f"webhooks: {webhook_outage.EVENTS} events each with the receiver down for "
        f"{webhook_outage.OUTAGE_SECONDS:.0f} s, then up to {webhook_outage.WAIT_SECONDS:.0f} s for them ..."
    )
    found = webhook_outage.side_by_side(pie, ml, _free_port, HOST, log)
    return Result(
        f"webhook events delivered after a {webhook_outage.OUTAGE_SECONDS:.0f} s receiver outage "
        f"(of {webhook_outage.EVENTS})",
        found["PIE"]["delivered"],
        found["MLflow"]["delivered"],
        "events",
        "higher",
        note=f"PIE all in {found['PIE']['all_delivered_after_seconds']} s after it came back; "
        f"waited {found['MLflow']['waited_seconds']:.0f} s for MLflow",
        data=found,
    )


def run_outage(mlflow: Path, log: Callable[[str], None]) -> list[Result]:
    """The webhook outage phase alone, on fresh servers."""
    with tempfile.TemporaryDirectory(prefix="pie-mlflow-peer-") as temporary, ExitStack() as servers:
        directory = Path(temporary)
        (directory / "pie").mkdir()
        (directory / "mlflow").mkdir()
        ml = servers.enter_context(mlflow_server(directory / "mlflow", mlflow))
        pie = servers.enter_context(pie_server(directory / "pie"))
        return [outage_result(pie, ml, log)]


# Reporting -----------------------------------------------------------------------------------------


def _format(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "MB":
        return f"{value:.0f} MB"
    if unit == "cores":
        return f"{value:.3f}"
    if unit == "×":
        return f"{value:.2f}×"
    return f"{value:.0f} {unit}"


def print_results(results: list[Result], stream: Any = sys.stdout) -> None:
    header = ("figure", "PIE", "MLflow (default workers)", "PIE/MLflow", "MLflow, 1 worker", "PIE/1 worker", "note")
    rows = []
    for result in results:
        rows.append(
            (
                result.figure,
                _format(result.pie, result.unit),
                _format(result.mlflow, result.unit),
                _ratio(result.pie, result.mlflow),
                _format(result.mlflow_one_worker, result.unit),
                _ratio(result.pie, result.mlflow_one_worker),
                result.note,
            )
        )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * width for width in widths), *rows]:
        stream.write("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |\n")
    stream.write("PIE/MLflow: below 1 is PIE ahead for times and memory; above 1 for throughput.\n")
    behind = [
        result.figure
        for result in results
        if result.pie is not None
        and result.mlflow
        and (result.pie > result.mlflow if result.better == "lower" else result.pie < result.mlflow)
    ]
    stream.write(
        f"PIE is behind MLflow's defaults on: {', '.join(behind)}.\n"
        if behind
        else "PIE is ahead of or level with MLflow's defaults on every figure.\n"
    )


def _ratio(pie: float | None, other: float | None) -> str:
    return f"{pie / other:.2f}×" if pie is not None and other else "—"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mlflow_peer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--mlflow", type=Path, default=DEFAULT_MLFLOW, help="the mlflow command (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help=f"a smaller workload ({QUICK})")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write the JSON (default: %(default)s)")
    parser.add_argument("--outage-only", action="store_true", help="only the webhook delivery after a receiver outage")
    arguments = parser.parse_args(argv)
    if not arguments.mlflow.exists():
        parser.error(f"{arguments.mlflow} does not exist; `make bench-mlflow` installs MLflow into bench/.mlflow-venv")
    workload = QUICK if arguments.quick else Workload()
    began = time.monotonic()

    def progress(message: str) -> None:
        sys.stderr.write(f"bench-mlflow {time.monotonic() - began:6.0f} s: {message}\n")
        sys.stderr.flush()

    if arguments.outage_only:
        results = run_outage(arguments.mlflow.absolute(), progress)
    else:
        results = run(workload, arguments.mlflow.absolute(), progress)  # the servers start in their own directories
    print_results(results)
    document = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "workload": workload.__dict__,
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
        "duration_seconds": round(time.monotonic() - began, 1),
        "results": [result.__dict__ for result in results],
    }
    arguments.results.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Peer benchmark: ``pie-local serve`` against MLflow's model registry (``mlflow server``, sqlite,
one worker), the same workload through each one's REST API, alternating between them.

    make bench-mlflow                                           # MLflow in bench/.mlflow-venv
    python -m bench.mlflow_peer --mlflow bench/.mlflow-venv/bin/mlflow [--quick]

Both servers run on 127.0.0.1 from a temporary directory and are stopped at the end. Each client
keeps its connection alive, as any SDK does. Sequential operations alternate one PIE call and one
MLflow call (which goes first alternates too), so load on the machine falls on both alike. Every
phase is bounded: a server whose process tree passes ``RSS_CAP_BYTES`` or a phase that passes its
deadline stops that phase, and the figure says how far it got.

Mapping of operations: create model = ``POST /v2/models`` / ``registered-models/create``; get =
``GET /v2/models/{id}`` / ``registered-models/get``; create version = ``new_version`` /
``model-versions/create``; status change = ``new_status`` pending→training /
``model-versions/transition-stage`` None→Staging; paging = ``GET /v2/models?limit=50`` /
``registered-models/search?max_results=50`` following the page tokens.

Last, webhook delivery after a 30 s receiver outage (``bench.webhook_outage``): 10 events sent to
each while its receiver is down, counted once it is back (``--outage-only`` runs this phase alone).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
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
RSS_CAP_BYTES = 3 * 1024**3
PHASE_SECONDS = 900
PAGE_SIZE = 50
SETTLE_SECONDS = 90
WARM_UP_CALLS = 10
CLIENTS = 8
_PIE_LISTENING = re.compile(r"PIE local API on (http://\S+)")


@dataclass
class Workload:
    sequential: int = 50
    """Calls of each sequential operation."""
    models: int = 1000
    """Models in the registry when paging; creating them is the growth's writes."""
    concurrent_seconds: float = 5.0
    paging_rounds: int = 3


QUICK = Workload(sequential=15, models=200, concurrent_seconds=3.0, paging_rounds=2)


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

    def change_status(self, name: str, version: int) -> None:
        raise NotImplementedError

    def page(self, token: str | None) -> tuple[int, str | None]:
        """One page of models after ``token``: how many it held, and the next page's token."""
        raise NotImplementedError


class Pie(Peer):
    name = "PIE"
    token = ""

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

    def change_status(self, name: str, version: int) -> None:
        self.expect(200, "POST", f"/v2/models/{name}/versions/{version}/new_status", {"status": "training"})

    def page(self, token: str | None) -> tuple[int, str | None]:
        path = f"/v2/models?limit={PAGE_SIZE}" + (f"&next_token={quote(token)}" if token else "")
        document = self.expect(200, "GET", path)
        return len(document["models"]), document.get("next_token")


class MlFlow(Peer):
    name = "MLflow"
    _api = "/api/2.0/mlflow"

    def create_model(self, name: str) -> None:
        self.expect(200, "POST", f"{self._api}/registered-models/create", {"name": name})

    def get_model(self, name: str) -> None:
        self.expect(200, "GET", f"{self._api}/registered-models/get?name={quote(name)}")

    def create_version(self, name: str, version: int) -> None:
        # MLflow numbers versions itself, in the order they are created, as PIE's callers do here.
        body = {"name": name, "source": f"s3://bench/{name}/{version}"}
        self.expect(200, "POST", f"{self._api}/model-versions/create", body)

    def change_status(self, name: str, version: int) -> None:
        body = {"name": name, "version": str(version), "stage": "Staging", "archive_existing_versions": False}
        self.expect(200, "POST", f"{self._api}/model-versions/transition-stage", body)

    def page(self, token: str | None) -> tuple[int, str | None]:
        path = f"{self._api}/registered-models/search?max_results={PAGE_SIZE}"
        if token:
            path += f"&page_token={quote(token)}"
        document = self.expect(200, "GET", path)
        return len(document.get("registered_models", [])), document.get("next_page_token")


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
        pie.token = mint_token(SigningKeys.load_or_create(home), expires_in=6 * 3600)
        yield pie
    finally:
        if process.poll() is None:
            _stop(process)


@contextmanager
def mlflow_server(directory: Path, mlflow: Path) -> Iterator[MlFlow]:
    port = _free_port()
    url = f"http://{HOST}:{port}"
    log = directory / "mlflow.log"
    command = [
        str(mlflow), "server",
        "--backend-store-uri", f"sqlite:///{directory / 'mlflow.db'}",
        "--default-artifact-root", str(directory / "mlflow-artifacts"),
        "--workers", "1", "--host", HOST, "--port", str(port),
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
        yield MlFlow(url, process, started)
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


def _p50(samples: list[float]) -> float:
    return statistics.median(samples)


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98] if len(samples) > 1 else samples[0]


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
    """Create ``count`` more models on each peer (the growth phase's writes), alternating in chunks;
    a peer past the RSS cap or the phase deadline stops where it is."""
    reached = {peer.name: 0 for peer in peers}
    stopped: dict[str, str] = {}
    deadline = time.monotonic() + PHASE_SECONDS
    chunk = 50
    while any(reached[peer.name] < count and peer.name not in stopped for peer in peers):
        for peer in peers:
            if peer.name in stopped:
                continue
            for index in range(reached[peer.name], min(count, reached[peer.name] + chunk)):
                peer.create_model(f"page-{index:05d}")
                reached[peer.name] = index + 1
            if peer.sample_rss() > RSS_CAP_BYTES:
                stopped[peer.name] = f"stopped at {reached[peer.name]} models: RSS over {RSS_CAP_BYTES >> 30} GiB"
            elif time.monotonic() > deadline:
                stopped[peer.name] = f"stopped at {reached[peer.name]} models: phase over {PHASE_SECONDS} s"
        log(", ".join(f"{name} {count}" for name, count in reached.items()))
    return {peer.name: {"models": reached[peer.name], "stopped": stopped.get(peer.name, "")} for peer in peers}


def run(workload: Workload, mlflow: Path, log: Callable[[str], None]) -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="pie-mlflow-peer-") as temporary, ExitStack() as servers:
        directory = Path(temporary)
        (directory / "pie").mkdir()
        (directory / "mlflow").mkdir()
        log("starting MLflow ...")
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
                peer.change_status("warm-up", first[peer.name] + version)
        creates = alternate(peers, n, lambda peer, i: peer.create_model(f"seq-{i:04d}"))
        gets = alternate(peers, n, lambda peer, i: peer.get_model(f"seq-{i % n:04d}"))
        for peer in peers:
            peer.create_model("versions")
        versions = alternate(peers, n, lambda peer, i: peer.create_version("versions", first[peer.name] + i))
        statuses = alternate(peers, n, lambda peer, i: peer.change_status("versions", first[peer.name] + i))
        for label, timings in [
            ("create model", creates),
            ("get model", gets),
            ("create version", versions),
            ("status change", statuses),
        ]:
            results.append(Result(f"{label}: p50", _p50(timings["PIE"]), _p50(timings["MLflow"]), "ms", "lower"))
            results.append(Result(f"{label}: p99", _p99(timings["PIE"]), _p99(timings["MLflow"]), "ms", "lower"))

        log(f"{CLIENTS} concurrent clients, {workload.concurrent_seconds:.0f} s each ...")
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

        log(f"writing up to {workload.models} models (the growth phase's writes) ...")
        already = n + 2  # the sequential models, "warm-up" and "versions"
        filled = fill_to(peers, workload.models - already, log)
        writes = {name: filled[name]["models"] for name in filled}
        stopped = "; ".join(f"{name}: {value['stopped']}" for name, value in filled.items() if value["stopped"])
        log("create version after the writes ...")
        later = alternate(peers, n, lambda peer, i: peer.create_version("versions", first[peer.name] + n + i))
        results.append(
            Result(
                "growth: create version p50, after the writes / before",
                _p50(later["PIE"]) / _p50(versions["PIE"]),
                _p50(later["MLflow"]) / _p50(versions["MLflow"]),
                "×",
                "lower",
                note="; ".join(
                    f"{name}: {_p50(versions[name]):.1f} → {_p50(later[name]):.1f} ms after {writes[name]} writes"
                    for name in ("PIE", "MLflow")
                )
                + (f"; {stopped}" if stopped else ""),
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
        rss_end = {peer.name: peer.sample_rss() / 2**20 for peer in peers}
        results.append(Result("memory after the workload", rss_end["PIE"], rss_end["MLflow"], "MB", "lower"))
        results.append(Result("peak memory seen", pie.peak_rss / 2**20, ml.peak_rss / 2**20, "MB", "lower"))
        results.append(outage_result(pie, ml, log))
        log("stopping both (SIGTERM) ...")
        results.append(Result("exit after SIGTERM", _stop(pie.process), _stop(ml.process), "s", "lower"))
    return results


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
    header = ("figure", "PIE", "MLflow", "PIE/MLflow", "note")
    rows = []
    for result in results:
        ratio = "—"
        if result.pie is not None and result.mlflow:
            ratio = f"{result.pie / result.mlflow:.2f}×"
        rows.append(
            (result.figure, _format(result.pie, result.unit), _format(result.mlflow, result.unit), ratio, result.note)
        )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * width for width in widths), *rows]:
        stream.write("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |\n")
    stream.write("PIE/MLflow: below 1 is PIE ahead for times and memory; above 1 for throughput.\n")


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

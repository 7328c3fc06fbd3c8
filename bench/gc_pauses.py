"""Collection pauses in the write path: 3,000 model creates through ``pie-local serve``, with a
``gc.callbacks`` probe in the server process timing every collection.

    python -m bench.gc_pauses [--writes 3000] [-- <extra pie-local serve arguments>]

The server runs as a subprocess (its own data directory, fsync as its default) whose every
collection is logged (generation, start, duration); the client times each write. Printed: the
slowest write and p99.9, the collections of each generation (count, slowest, total), and which of
the slowest writes overlapped a collection (generation, pause). Pauses are given in wall-clock
time and in the collecting thread's CPU time (which a busy machine does not inflate).
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
_LISTENING = re.compile(r"PIE local API on http://([\d.]+):(\d+)")
GC_LOG_VARIABLE = "PIE_BENCH_GC_LOG"


def _probe(path: str) -> None:
    """In the server: log each collection's generation, start and duration (wall clock)."""
    output = open(path, "a", buffering=1)
    started: list[float] = [0.0, 0.0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[:] = [time.time(), time.thread_time()]
        else:
            wall, cpu = (time.time() - started[0]) * 1000, (time.thread_time() - started[1]) * 1000
            output.write(f"{info['generation']} {started[0]:.6f} {wall:.3f} {cpu:.3f}\n")

    gc.callbacks.append(callback)


def serve_with_probe(argv: list[str]) -> None:
    _probe(os.environ[GC_LOG_VARIABLE])
    from pie_local.cli import main

    sys.exit(main(argv))


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def measure(writes: int, serve_arguments: list[str]) -> dict[str, Any]:
    from pie_local.gateway.tokens import SigningKeys, mint_token

    with tempfile.TemporaryDirectory(prefix="pie-gc-") as temporary:
        directory = Path(temporary)
        home = directory / ".pie-local"
        gc_log = directory / "gc.log"
        environment = {name: value for name, value in os.environ.items() if not name.startswith("PIE_")}
        environment.update(PIE_LOCAL_HOME=str(home), **{GC_LOG_VARIABLE: str(gc_log)})
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environment.get("PYTHONPATH")]))
        log = directory / "serve.log"
        command = [sys.executable, "-m", "bench.gc_pauses", "--serve", "serve", "--port", "0", *serve_arguments]
        with log.open("wb") as output:
            process = subprocess.Popen(command, env=environment, cwd=directory, stdout=output, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while not (found := _LISTENING.search(log.read_text(errors="replace"))):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"pie-local serve did not start:\n{log.read_text(errors='replace')[-3000:]}")
                time.sleep(0.05)
            token = mint_token(SigningKeys.load_or_create(home), expires_in=3600)
            connection = http.client.HTTPConnection(found[1], int(found[2]), timeout=60)
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            timings: list[tuple[float, float]] = []
            for index in range(writes):
                document = {
                    "id": f"gc-{index:05d}",
                    "name": f"gc-{index:05d}",
                    "handlers": {
                        "training": {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:train"},
                        "inference": {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:infer"},
                    },
                }
                began_wall, began = time.time(), time.perf_counter()
                connection.request("POST", "/v2/models", body=json.dumps(document), headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status != 201:
                    raise RuntimeError(f"create answered {response.status}")
                timings.append((began_wall, (time.perf_counter() - began) * 1000))
        finally:
            process.terminate()
            process.wait(timeout=60)
        collections = [line.split() for line in gc_log.read_text().splitlines()] if gc_log.exists() else []
    first, last = timings[0][0], timings[-1][0] + timings[-1][1] / 1000
    # Only the collections during the writes: the start's own (imports, loading) are not in a request.
    events = [
        (int(generation), float(start), float(ms), float(cpu))
        for generation, start, ms, cpu in collections
        if first <= float(start) <= last
    ]
    durations = [ms for _, ms in timings]
    by_generation = {}
    for generation in (0, 1, 2):
        pauses = [ms for g, _, ms, _ in events if g == generation]
        cpu = [ms for g, _, _, ms in events if g == generation]
        by_generation[generation] = {
            "count": len(pauses),
            "max_ms": round(max(pauses, default=0.0), 1),
            "total_ms": round(sum(pauses), 1),
            "max_cpu_ms": round(max(cpu, default=0.0), 1),
            "total_cpu_ms": round(sum(cpu), 1),
        }
    slowest = sorted(timings, key=lambda timing: timing[1], reverse=True)[:5]
    matched = []
    for began, ms in slowest:
        overlapping = [
            (g, round(pause, 1)) for g, start, pause, _ in events if began - 0.001 <= start <= began + ms / 1000
        ]
        matched.append({"write_ms": round(ms, 1), "collections_ms": overlapping})
    return {
        "writes": writes,
        "serve_arguments": serve_arguments,
        "p50_ms": round(statistics.median(durations), 2),
        "p99_ms": round(_percentile(durations, 0.99), 2),
        "p99_9_ms": round(_percentile(durations, 0.999), 2),
        "slowest_ms": round(max(durations), 1),
        "collections": by_generation,
        "slowest_writes": matched,
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve"]:
        serve_with_probe(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench.gc_pauses", description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=3000)
    parser.add_argument("serve_arguments", nargs="*", help="passed to pie-local serve (after --)")
    arguments = parser.parse_args(argv)
    print(json.dumps(measure(arguments.writes, arguments.serve_arguments), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

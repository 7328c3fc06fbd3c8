"""Cold starts: every function in fresh interpreters, against the floor every DynamoDB Lambda pays.

Each run is a new ``python -m bench.cold_start_child`` process: the function's handler module is
imported and timed, then its first invocation serves its sample on an embedded table. The floor is
``import boto3`` plus creating the DynamoDB client, measured in the same rounds; rounds visit the
functions in a shuffled order with a floor run every few functions, so that the machine's noise
falls on both. The budgeted ratio is of CPU time (medians), which a busy machine disturbs far less
than wall time; wall time is reported beside it. Children see
the environment of a deployed, traced function (``deployed_function_environment``).
"""

from __future__ import annotations

import compileall
import json
import os
import random
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.cold_start_child import RESULT_MARKER
from bench.environment import deployed_function_environment
from bench.report import Figure, ratio
from bench.world import NON_ROUTE_FUNCTIONS
from shared.routes import ROUTES

SECTION = "cold start"
ROOT = Path(__file__).resolve().parent.parent
RUNS = 7
SEGMENT = 6  # a floor run before every this many functions
# What PIE's own modules may add to a route's import, in floors, over the framework alone: the
# framework (boto3, pydantic, Powertools) is itself about 1.5 floors, so the budget is relative to it.
PIE_BUDGET = 0.10
# PIE's own packages, compiled to bytecode before any child runs (see ``compile_project``).
PROJECT_PACKAGES = ("shared", "functions", "bench")
# Where the import time beyond the floor goes, for a typical route and the stream consumer.
BREAKDOWN_FUNCTIONS = ("get_model", "dispatch_jobs")
BREAKDOWN_RUNS = 3
BREAKDOWN_SHOWN = 6
# Routes that check payloads against handler contracts, so may load jsonschema (lazily).
CHECK_CONTRACTS = {
    "create_model",
    "update_model",
    "create_subscription",
    "update_subscription",
    "test_subscription",
    "set_version_status",
    "start_inference",
    "start_training",
    "complete_job",
    "complete_job_events",
    "dispatch_jobs",
}


def functions() -> list[str]:
    return [route.function for route in ROUTES] + list(NON_ROUTE_FUNCTIONS)


def measure(
    runs: int = RUNS, workers: int | None = None, only: list[str] | None = None
) -> tuple[list[Figure], dict[str, Any]]:
    names = [name for name in functions() if only is None or name in only]
    compile_project()
    plan: list[str] = []
    for _ in range(runs):
        # The framework reference (bench/framework_function.py) runs once a round, like a function.
        order = [*names, "framework"]
        random.shuffle(order)
        for start in range(0, len(order), SEGMENT):
            plan += ["floor", *order[start : start + SEGMENT]]
    workers = workers or int(os.environ.get("BENCH_COLD_START_WORKERS", min(2, os.cpu_count() or 1)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda target: (target, _run_child([target], target)), plan))

    by_target: dict[str, list[dict[str, Any]]] = {}
    for target, result in results:
        by_target.setdefault(target, []).append(result)
    floors = by_target["floor"]
    floor_ms = statistics.median(r["import_ms"] for r in floors)
    floor_cpu_ms = statistics.median(r["import_cpu_ms"] for r in floors)
    floor_rss_mb = statistics.median(r["peak_rss_kb"] for r in floors) / 1024
    details: dict[str, Any] = {
        "runs": runs,
        "workers": workers,
        "floor": {
            "import_ms": floor_ms,
            "import_cpu_ms": floor_cpu_ms,
            "peak_rss_mb": floor_rss_mb,
            "samples_ms": [r["import_ms"] for r in floors],
            "samples_cpu_ms": [r["import_cpu_ms"] for r in floors],
        },
        "functions": {},
    }
    figures = [
        Figure(
            SECTION,
            "floor: import boto3 + DynamoDB client",
            f"{floor_cpu_ms:.0f} ms CPU ({floor_ms:.0f} ms wall), peak RSS {floor_rss_mb:.0f} MB (median of {len(floors)})",
            data=details["floor"],
        )
    ]
    frameworks = by_target["framework"]
    framework_cpu_ms = statistics.median(r["import_cpu_ms"] for r in frameworks)
    details["framework"] = {
        "import_cpu_ms": framework_cpu_ms,
        "import_ms": statistics.median(r["import_ms"] for r in frameworks),
        "import_ratio": framework_cpu_ms / floor_cpu_ms,
        "samples_cpu_ms": [r["import_cpu_ms"] for r in frameworks],
    }
    figures.append(
        Figure(
            SECTION,
            "framework alone / floor (boto3, pydantic, Powertools resolver + Logger/Tracer/Metrics; no PIE code)",
            f"{ratio(framework_cpu_ms / floor_cpu_ms)} ({framework_cpu_ms:.0f} ms CPU, median of {len(frameworks)})",
            data=details["framework"],
        )
    )
    framework_ratio = details["framework"]["import_ratio"]
    unneeded: dict[str, list[str]] = {}
    for name in names:
        samples = by_target[name]
        import_ms = statistics.median(r["import_ms"] for r in samples)
        import_cpu_ms = statistics.median(r["import_cpu_ms"] for r in samples)
        first_ms = statistics.median(r["first_invoke_ms"] for r in samples)
        rss_mb = statistics.median(r["peak_rss_kb"] for r in samples) / 1024
        at_init = sorted({module for r in samples for module in r["watched_at_init"]})
        after_first = sorted({module for r in samples for module in r["watched_after_first_invoke"]})
        outcomes = sorted({r["outcome"] for r in samples})
        allowed = {"jsonschema"} if name in CHECK_CONTRACTS else set()
        unneeded_here = [m for m in at_init if m not in allowed] + [
            m for m in after_first if m not in allowed and m not in at_init
        ]
        if unneeded_here:
            unneeded[name] = unneeded_here
        result = {
            "import_ms": import_ms,
            "import_cpu_ms": import_cpu_ms,
            "import_ratio": import_cpu_ms / floor_cpu_ms,
            "import_wall_ratio": import_ms / floor_ms,
            "first_invoke_ms": first_ms,
            "peak_rss_mb_after_init": rss_mb,
            "modules_at_init": statistics.median(r["modules_at_init"] for r in samples),
            "watched_modules_at_init": at_init,
            "watched_modules_after_first_invoke": after_first,
            "first_invoke_outcomes": outcomes,
            "samples_import_ms": [r["import_ms"] for r in samples],
            "samples_import_cpu_ms": [r["import_cpu_ms"] for r in samples],
        }
        details["functions"][name] = result
        figures.append(
            Figure(
                SECTION,
                f"{name} import / floor",
                f"{ratio(result['import_ratio'])} ({import_cpu_ms:.0f} ms CPU, {import_ms:.0f} ms wall; first invoke "
                f"{first_ms:.0f} ms → {'/'.join(outcomes)}; RSS {rss_mb:.0f} MB)",
                f"≤ framework + {PIE_BUDGET:.2f} = {framework_ratio + PIE_BUDGET:.2f}×",
                result["import_ratio"] <= framework_ratio + PIE_BUDGET and all(_served(o) for o in outcomes),
                result,
            )
        )
    for name in [name for name in BREAKDOWN_FUNCTIONS if name in names]:
        breakdown = _import_breakdown(name)
        details.setdefault("import_beyond_floor_ms", {})[name] = breakdown
        shown = list(breakdown.items())[:BREAKDOWN_SHOWN]
        rest = sum(ms for _, ms in list(breakdown.items())[BREAKDOWN_SHOWN:])
        figures.append(
            Figure(
                SECTION,
                f"{name} import beyond the floor, by package (-X importtime self time)",
                ", ".join(f"{package} {ms:.0f}" for package, ms in shown) + f", other {rest:.0f} ms",
                data=breakdown,
            )
        )
    figures.append(
        Figure(
            SECTION,
            "modules a function does not use (moto, Swagger UI; jsonschema outside contract routes)",
            "none" if not unneeded else "; ".join(f"{name}: {', '.join(mods)}" for name, mods in unneeded.items()),
            "none",
            not unneeded,
            {"unneeded": unneeded, "check_contracts": sorted(CHECK_CONTRACTS)},
        )
    )
    return figures, details


def compile_project() -> None:
    """Give PIE's modules the bytecode pip gave the libraries when it installed them.

    The floor and the framework import libraries from their bytecode; without this, PIE's modules
    were compiled from source in every child whenever the checkout had no fresh ``__pycache__``
    (a fresh clone, any edit, or ``PYTHONDONTWRITEBYTECODE`` set), which put compiling (about half
    of what PIE added, 2026-12-07) on PIE's side of the ratio only, and made it depend on the
    checkout's state. Deployed, neither side has bytecode (docs/performance.md, section 1).
    """
    for package in PROJECT_PACKAGES:
        compileall.compile_dir(ROOT / package, quiet=1)


def _served(outcome: str) -> bool:
    """The first invocation succeeded (a 2xx, a batch with no failed record, a completed job)."""
    return outcome.startswith("2") or outcome in ("0 failed records", "succeeded")


def _import_breakdown(function: str) -> dict[str, float]:
    """Median self time (ms) per top-level package of the modules ``function`` imports and the
    floor does not; the standard library counts as one package."""
    per_package: dict[str, list[float]] = {}
    for _ in range(BREAKDOWN_RUNS):
        floor = _self_times(["floor"], "floor")
        imported = _self_times([function, "import-only"], function)
        totals: dict[str, float] = {}
        for module, microseconds in imported.items():
            if module not in floor:
                package = _package(module)
                totals[package] = totals.get(package, 0.0) + microseconds / 1000
        for package, ms in totals.items():
            per_package.setdefault(package, []).append(ms)
    medians = {
        package: statistics.median(samples + [0.0] * (BREAKDOWN_RUNS - len(samples)))
        for package, samples in per_package.items()
    }
    return {package: ms for package, ms in sorted(medians.items(), key=lambda item: -item[1]) if ms >= 0.5}


def _self_times(arguments: list[str], function: str) -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bench.cold_start_child", *arguments],
        cwd=ROOT,
        env=deployed_function_environment(function),
        capture_output=True,
        text=True,
        timeout=120,
    )
    times: dict[str, float] = {}
    for line in completed.stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        self_us, _, module = line.removeprefix("import time:").split("|")
        times[module.strip()] = float(self_us)
    return times


def _package(module: str) -> str:
    top = module.split(".")[0]
    if top in sys.stdlib_module_names or top.startswith("_"):
        return "stdlib"
    return top


def _run_child(arguments: list[str], function: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.cold_start_child", *arguments],
        cwd=ROOT,
        env=deployed_function_environment(function),
        capture_output=True,
        text=True,
        timeout=120,
    )
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER) :])
    raise RuntimeError(f"cold start of {function} failed (exit {completed.returncode}):\n{completed.stderr[-3000:]}")

"""``python -m bench`` (``make bench``): run every benchmark, print one table, write results.json.

    python -m bench                        # everything (a few minutes)
    python -m bench --only round_trips,fanout
    python -m bench --quick                # fewer runs and calls: for working on the bench itself
    python -m bench --only cold_start --functions get_model,dispatch_jobs   # some functions' cold starts

Progress goes to stderr; what the functions themselves print (EMF metrics) is discarded.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.environment import discard_function_logs, use_function_environment
from bench.report import Figure, print_table, write_results

RESULTS = Path(__file__).resolve().parent / "results.json"
SECTIONS = (
    "cold_start",
    "round_trips",
    "warm",
    "fanout",
    "dispatch",
    "supervision",
    "local_api",
    "hostile_input",
    "search",
    "webhooks",
    "endurance",
    "install",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help=f"comma-separated sections: {', '.join(SECTIONS)}")
    parser.add_argument("--quick", action="store_true", help="fewer runs and calls (figures are rougher)")
    parser.add_argument("--functions", help="comma-separated functions whose cold start to measure (default: all)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write the JSON (default: %(default)s)")
    arguments = parser.parse_args(argv)
    chosen = arguments.only.split(",") if arguments.only else list(SECTIONS)
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")

    use_function_environment()
    discard_function_logs()
    runners = _runners(arguments.quick, arguments.functions.split(",") if arguments.functions else None)
    figures: list[Figure] = []
    details: dict[str, Any] = {}
    began = time.perf_counter()
    for section in SECTIONS:
        if section not in chosen:
            continue
        sys.stderr.write(f"bench: {section} ...")
        sys.stderr.flush()
        started = time.perf_counter()
        with open(os.devnull, "w") as discarded, contextlib.redirect_stdout(discarded):
            section_figures, section_details = runners[section]()
        sys.stderr.write(f" {time.perf_counter() - started:.0f} s\n")
        figures += section_figures
        details[section] = section_details
    elapsed = time.perf_counter() - began
    print_table(figures)
    write_results(arguments.results, figures, details, elapsed)
    print(f"\n{elapsed:.0f} s; results in {arguments.results}")
    return 0


def _runners(
    quick: bool, cold_start_functions: list[str] | None = None
) -> dict[str, Callable[[], tuple[list[Figure], dict[str, Any]]]]:
    from bench import (
        cold_start,
        dispatch,
        endurance,
        fanout,
        hostile_input,
        install,
        local_api,
        round_trips,
        search,
        supervision,
        warm,
        webhooks,
    )

    return {
        "cold_start": lambda: cold_start.measure(runs=2 if quick else cold_start.RUNS, only=cold_start_functions),
        "round_trips": round_trips.measure,
        "warm": lambda: warm.measure(calls=100 if quick else warm.CALLS),
        "fanout": lambda: fanout.measure(repeats=1 if quick else fanout.REPEATS),
        "dispatch": lambda: dispatch.measure(rounds=1 if quick else dispatch.ROUNDS),
        "supervision": lambda: supervision.measure(sizes=(0, 100, 250) if quick else supervision.SIZES),
        "local_api": lambda: local_api.measure(seconds=2 if quick else local_api.SECONDS),
        "hostile_input": lambda: hostile_input.measure(runs=2 if quick else hostile_input.RUNS),
        "search": lambda: search.measure(
            sizes=(200, 2_000) if quick else search.SIZES, runs=3 if quick else search.RUNS
        ),
        "webhooks": lambda: webhooks.measure(
            events_count=60 if quick else webhooks.EVENTS, writes=15 if quick else webhooks.WRITES
        ),
        "endurance": lambda: endurance.measure(writes=500 if quick else endurance.WRITES),
        "install": install.figures,
    }


if __name__ == "__main__":
    sys.exit(main())

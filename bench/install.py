"""``python -m bench.install``: what ``make dev`` costs from a clean clone (docs/performance.md, "Install").

    python -m bench.install              # clone HEAD, time `make install-local`, size the virtualenv
    python -m bench.install --full       # the same for `make install` (what `make test` installs)
    python -m bench.install --no-cache   # without pip's download/wheel cache
    python -m bench.install --check      # exit 1 above the budgets (30 s, 250 MB for the slim install)

The clone is of the committed HEAD, in a temporary directory that is removed afterwards; the
virtualenv is made by the Makefile itself, with this interpreter as PYTHON. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 30.0
BUDGET_MEGABYTES = 250.0


def measure(target: str, *, cache: bool) -> dict[str, float | str | bool]:
    with tempfile.TemporaryDirectory(prefix="pie-install-") as scratch:
        clone = Path(scratch) / "pie"
        subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], check=True)
        environment = dict(os.environ)
        if not cache:
            environment["PIP_NO_CACHE_DIR"] = "1"
        began, children = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(
            ["make", "--no-print-directory", "-C", str(clone), target, f"PYTHON={sys.executable}"],
            check=True,
            env=environment,
            stdout=subprocess.DEVNULL,
        )
        seconds = time.monotonic() - began
        served = _first_answer(clone) if target == "install-local" else None
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
        return {
            "target": target,
            "seconds": round(seconds, 1),
            # make dev's whole path: the install, then the first start (which also compiles what it
            # imports) until the API answers; the CPU time below covers both.
            "seconds_to_served": round(seconds + served, 1) if served is not None else None,
            # On a shared machine the wall time is mostly waiting for a core; the CPU time is not.
            "cpu_seconds": round(cpu, 1),
            "load_average": round(os.getloadavg()[0], 1),
            "megabytes": round(_size(clone / ".venv") / 1e6, 1),
            "pip_cache": cache,
        }


def figures() -> tuple[list[Any], dict[str, Any]]:
    """``make bench``'s section: the slim install from a clean clone, against its budgets. The CPU
    time is printed beside the wall time: on a shared machine the wall time is mostly waiting."""
    from bench.report import Figure

    found = measure("install-local", cache=True)
    seconds, megabytes = float(found["seconds_to_served"]), float(found["megabytes"])
    note = (
        f"{seconds:.1f} s wall to a served API ({found['seconds']} s installing), {found['cpu_seconds']} s CPU, "
        f"load {found['load_average']}"
    )
    return [
        Figure(
            "install",
            "make dev from a clean clone: time",
            note,
            f"<= {BUDGET_SECONDS:.0f} s",
            seconds <= BUDGET_SECONDS,
        ),
        Figure(
            "install",
            "make dev from a clean clone: .venv size",
            f"{megabytes:.1f} MB",
            f"<= {BUDGET_MEGABYTES:.0f} MB",
            megabytes <= BUDGET_MEGABYTES,
        ),
    ], found


def _first_answer(clone: Path) -> float:
    """Seconds from starting ``pie-local serve`` in the fresh virtualenv to its first HTTP answer."""
    home = clone / ".pie-local-bench"
    began = time.monotonic()
    server = subprocess.Popen(
        [str(clone / ".venv" / "bin" / "pie-local"), "serve", "--port", "0", "--ephemeral", "--home", str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        for line in server.stdout:
            found = re.search(r"PIE local API on (http://\S+)", line)
            if found:
                with urllib.request.urlopen(f"{found[1]}/v2/openapi.json", timeout=30) as answer:
                    answer.read()
                return time.monotonic() - began
        raise RuntimeError(f"pie-local serve exited with {server.wait()} before it served")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _size(directory: Path) -> int:
    total = 0
    for path in directory.rglob("*"):
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.install", description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="measure `make install` (the [dev] extra) instead")
    parser.add_argument("--no-cache", action="store_true", help="install without pip's cache")
    parser.add_argument("--check", action="store_true", help="exit 1 when the slim install is over budget")
    arguments = parser.parse_args(argv)
    figures = measure("install" if arguments.full else "install-local", cache=not arguments.no_cache)
    print(json.dumps(figures))
    seconds = figures["seconds_to_served"] or figures["seconds"]
    over = seconds > BUDGET_SECONDS or figures["megabytes"] > BUDGET_MEGABYTES
    return 1 if arguments.check and not arguments.full and over else 0


if __name__ == "__main__":
    sys.exit(main())

"""One row per figure: what was measured, its value, its budget and whether the budget holds."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass
class Figure:
    section: str
    name: str
    value: str
    budget: str = "—"
    holds: bool | None = None  # None: informational, no budget
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return {True: "yes", False: "NO", None: "—"}[self.holds]


def print_table(figures: list[Figure], stream: Any = sys.stdout) -> None:
    header = ("figure", "value", "budget", "holds")
    rows = [(f"{f.section}: {f.name}", f.value, f.budget, f.verdict) for f in figures]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"

    stream.write(line(header) + "\n")
    stream.write("|" + "|".join("-" * (width + 2) for width in widths) + "|\n")
    for row in rows:
        stream.write(line(row) + "\n")
    held = [f for f in figures if f.holds is not None]
    missed = [f for f in held if not f.holds]
    if not held:
        return
    stream.write(f"\n{len(held) - len(missed)} of {len(held)} budgets hold")
    stream.write(":" + "".join(f"\n  over budget: {f.section}: {f.name}" for f in missed) + "\n" if missed else ".\n")


def write_results(path: Path, figures: list[Figure], details: dict[str, Any], seconds: float) -> None:
    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        },
        "duration_seconds": round(seconds, 1),
        "budgets_held": sum(1 for f in figures if f.holds),
        "budgets_total": sum(1 for f in figures if f.holds is not None),
        "figures": [asdict(f) for f in figures],
        "details": details,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")


def ratio(value: float) -> str:
    return f"{value:.2f}×"

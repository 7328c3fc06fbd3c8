"""Lambda handlers that go wrong in each way a job must survive."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any


def raises(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise ValueError(f"no features in {sorted(event['input'])}")


def hangs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    Path(event["input"]["pid_file"]).write_text(str(os.getpid()))
    time.sleep(600)
    return {}


def returns_a_set(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"labels": {"cat", "dog"}}


def returns_too_much(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"blob": "x" * 300_000}


def exits(event: dict[str, Any], context: Any) -> dict[str, Any]:
    os._exit(7)

"""Stand-in Lambda clients for the dispatcher (``shared.runtime.use_stand_in``)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any


class InstantLambda:
    """Accepts every asynchronous Invoke at once."""

    def invoke(self, **request: Any) -> dict[str, Any]:
        return {"StatusCode": 202}


class SlowLambda:
    """Accepts every Invoke after ``latency_seconds`` (a network round trip), counting the job ids
    it was asked to start."""

    def __init__(self, latency_seconds: float) -> None:
        self._latency = latency_seconds
        self._lock = threading.Lock()
        self.started: Counter[str] = Counter()

    def invoke(self, **request: Any) -> dict[str, Any]:
        time.sleep(self._latency)
        job_id = json.loads(request["Payload"])["job_id"]
        with self._lock:
            self.started[job_id] += 1
        return {"StatusCode": 202}

"""Concurrent load for a fixed time: the client threads the load benchmarks run."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def concurrently(clients: int, seconds: float, client: Callable[[Callable[[], bool]], None]) -> float:
    """Run ``client(running)`` on ``clients`` threads released together, where ``running()`` stays
    true for ``seconds`` from the release; the seconds from the release until the last one ended."""
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def running() -> bool:
        return time.perf_counter() < deadline[0]

    def run() -> None:
        start.wait()
        client(running)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began

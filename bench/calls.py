"""Counting (and timing) the DynamoDB calls a piece of code makes, with botocore's event hooks."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CallLog:
    """API calls seen on one client: how many of each operation, and the time spent inside them."""

    operations: Counter[str] = field(default_factory=Counter)
    seconds_inside: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.operations.values())

    def summary(self) -> str:
        return ", ".join(f"{name} {count}" for name, count in sorted(self.operations.items())) or "none"


@contextmanager
def counted_calls(client: Any) -> Iterator[CallLog]:
    """Every call ``client`` makes inside the block (one per API call, retries not counted).

    ``before-call``/``after-call`` bracket the whole call, so ``seconds_inside`` is the time spent
    in the (embedded) DynamoDB and botocore, per thread, summed.
    """
    log = CallLog()
    lock = threading.Lock()
    started = threading.local()

    def before(model: Any, **_: Any) -> None:
        with lock:
            log.operations[model.name] += 1
        started.at = time.perf_counter()

    def after(**_: Any) -> None:
        elapsed = time.perf_counter() - getattr(started, "at", time.perf_counter())
        with lock:
            log.seconds_inside += elapsed

    events = client.meta.events
    # First: the embedded table answers a call at ``before-call`` (pie_local.table.direct_calls),
    # which ends the event for every handler after it.
    events.register_first("before-call.dynamodb", before, unique_id="bench-count-before")
    events.register("after-call.dynamodb", after, unique_id="bench-count-after")
    try:
        yield log
    finally:
        events.unregister("before-call.dynamodb", unique_id="bench-count-before")
        events.unregister("after-call.dynamodb", unique_id="bench-count-after")


@contextmanager
def added_latency(client: Any, seconds: float) -> Iterator[None]:
    """Every call ``client`` makes inside the block waits ``seconds`` first, as a call to DynamoDB
    over the network would (``time.sleep`` lets other threads run meanwhile, as network I/O does)."""

    def wait(**_: Any) -> None:
        time.sleep(seconds)

    events = client.meta.events
    events.register_first("before-call.dynamodb", wait)  # before the embedded table answers
    try:
        yield
    finally:
        events.unregister("before-call.dynamodb", wait)

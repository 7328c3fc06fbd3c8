"""Fan-out: a training→active transition of a model with 1, 10, 100 and 250 active subscriptions.

Each subscription targets a model of its own (an active one, so every subscription fires a job):
the transition reads the targets (BatchGetItem, 100 keys a call) and writes the version, the model
and one job per subscription through the outbox (transactions of 100 items). A second run at the
largest size has every subscription target one shared model, which isolates the writes.

DynamoDB calls are counted on the runtime's client and the time spent inside them is measured
apart, so time per subscription is given both as wall time and as PIE's own time (outside the
calls); the budget applies to both. The embedded table keeps a transaction's cost to what it
touches (``shared.local.dynamodb``), as DynamoDB does, rather than copying the table.
"""

from __future__ import annotations

import importlib
import math
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from bench.calls import counted_calls
from bench.environment import LambdaContext
from bench.report import Figure, ratio
from bench.world import model_items, route_event, subscription, write_items
from shared import runtime
from shared.data.entities import SUBSCRIPTIONS
from shared.data.items import TRANSACTION_ITEM_LIMIT
from shared.local.dynamodb import embedded_dynamodb
from shared.local.settings import LOCAL_TABLE_NAME

SECTION = "fan-out"
SIZES = (1, 10, 100, 250)
REPEATS = 3
SOURCE = "fanout-source"
# The transition's own writes (version update, model put) share its transaction with the jobs.
GUARDED_WRITES = 2
TIME_BUDGET = 1.5


def measure(sizes: tuple[int, ...] = SIZES, repeats: int = REPEATS) -> tuple[list[Figure], dict[str, Any]]:
    handler = importlib.import_module("functions.set_version_status.handler").lambda_handler
    details: dict[str, Any] = {}
    for size in sizes:
        runs = [_transition(handler, size, shared_target=False) for _ in range(repeats)]
        details[str(size)] = {
            "subscriptions": size,
            "calls": runs[0]["calls"],
            "operations": runs[0]["operations"],
            "wall_ms": statistics.median(r["wall_ms"] for r in runs),
            "inside_dynamodb_ms": statistics.median(r["inside_ms"] for r in runs),
            "own_ms": statistics.median(r["own_ms"] for r in runs),
        }
        details[str(size)]["wall_ms_per_subscription"] = details[str(size)]["wall_ms"] / size
        details[str(size)]["own_ms_per_subscription"] = details[str(size)]["own_ms"] / size
    largest = max(sizes)
    shared = _transition(handler, largest, shared_target=True)
    details[f"{largest} (one shared target)"] = {
        "subscriptions": largest,
        "calls": shared["calls"],
        "operations": shared["operations"],
    }

    base = details[str(min(sizes))]["calls"]
    figures: list[Figure] = []
    for size in sizes:
        row = details[str(size)]
        allowed = base + _extra_transactions(size)
        row["calls_allowed"] = allowed
        figures.append(
            Figure(
                SECTION,
                f"{_subscriptions(size)}: DynamoDB calls",
                f"{row['calls']} ({_summary(row['operations'])})",
                f"≤ {allowed}",
                row["calls"] <= allowed,
                row,
            )
        )
    shared_row = details[f"{largest} (one shared target)"]
    shared_allowed = base + _extra_transactions(largest)
    figures.append(
        Figure(
            SECTION,
            f"{largest} subscriptions, one shared target: DynamoDB calls",
            f"{shared_row['calls']} ({_summary(shared_row['operations'])})",
            f"≤ {shared_allowed}",
            shared_row["calls"] <= shared_allowed,
            shared_row,
        )
    )
    for size in sizes:
        row = details[str(size)]
        figures.append(
            Figure(
                SECTION,
                f"{_subscriptions(size)}: time per subscription",
                f"{row['wall_ms_per_subscription']:.2f} ms wall, {row['own_ms_per_subscription']:.2f} ms "
                f"outside DynamoDB calls (median of {repeats})",
                data=row,
            )
        )
    if "10" in details and str(largest) in details:
        growth = details[str(largest)]["own_ms_per_subscription"] / details["10"]["own_ms_per_subscription"]
        wall_growth = details[str(largest)]["wall_ms_per_subscription"] / details["10"]["wall_ms_per_subscription"]
        figures.append(
            Figure(
                SECTION,
                f"time per subscription, {largest} vs 10",
                f"{ratio(wall_growth)} wall, {ratio(growth)} PIE's own time",
                f"≤ {TIME_BUDGET}× (both)",
                growth <= TIME_BUDGET and wall_growth <= TIME_BUDGET,
                {"own_growth": growth, "wall_growth": wall_growth},
            )
        )
    return figures, details


def _subscriptions(size: int) -> str:
    return f"{size} subscription{'' if size == 1 else 's'}"


def _extra_transactions(size: int) -> int:
    """One more call per 100 jobs beyond those the transition's own transaction holds."""
    room = TRANSACTION_ITEM_LIMIT - GUARDED_WRITES
    return math.ceil(max(0, size - room) / TRANSACTION_ITEM_LIMIT)


def _summary(operations: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(operations.items()))


def _transition(handler: Any, size: int, shared_target: bool) -> dict[str, Any]:
    with embedded_dynamodb(LOCAL_TABLE_NAME) as setup:
        runtime.reset()
        now = datetime.now(UTC)
        targets = ["fanout-target"] if shared_target else [f"fanout-target-{index:04d}" for index in range(size)]
        items = model_items(SOURCE, "training", now)
        for target in targets:
            items += model_items(target, "active", now)
        for index in range(size):
            target = targets[0] if shared_target else targets[index]
            items.append(SUBSCRIPTIONS.encode(subscription(SOURCE, target, str(uuid.uuid4()), now)))
        write_items(setup, LOCAL_TABLE_NAME, items)
        event = route_event("set_version_status", body={"status": "active"}, model_id=SOURCE, model_version="1")
        client = runtime.dynamodb_client()
        context = LambdaContext()
        with counted_calls(client) as log:
            started = time.perf_counter()
            response = handler(event, context)
            wall = time.perf_counter() - started
        _check_every_subscription_fired(response, size)
    return {
        "calls": log.total,
        "operations": dict(log.operations),
        "wall_ms": wall * 1000,
        "inside_ms": log.seconds_inside * 1000,
        "own_ms": (wall - log.seconds_inside) * 1000,
    }


def _check_every_subscription_fired(response: dict[str, Any], size: int) -> None:
    import json

    if response["statusCode"] != 200:
        raise AssertionError(f"the transition answered {response['statusCode']}: {response.get('body')}")
    events = json.loads(response["body"])["triggered_events"]
    fired = [event for event in events if event.get("job_id")]
    if len(fired) != size:
        raise AssertionError(f"{len(fired)} of {size} subscriptions fired: {events[:3]}")

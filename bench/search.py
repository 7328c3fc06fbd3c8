"""Search: the read cost and p50 of each query shape at 1,000 and at 10,000 models.

Each registry is written straight into a fresh embedded table (the data layer's own item builders:
models, their version "1", tag index items). Twenty ``price-<n>`` models are tagged
``team=pricing`` at every size; the rest are spread over 50 team tags, two statuses and four
workspaces, so the answer of each shape has the same size at both sizes while the partitions it
reads grow tenfold. Each shape's first page (``limit=50``) goes through the list route function;
the DynamoDB calls and the items they return are counted on the runtime's client, and the budget
is that neither the calls, the items read nor the p50 grow past 1.2x from 1,000 to 10,000 models.

Both registries are held at once, in two tables of one embedded DynamoDB, and the runs alternate
between them (the functions' runtime is pointed at one table, then the other, round after round):
measured one size after the other, whichever came first was up to 2x slower or faster on this
machine, which no budget on a ratio can survive.
"""

from __future__ import annotations

import importlib
import os
import statistics
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.environment import LambdaContext
from bench.report import Figure
from bench.world import ACTOR, route_event, sample_handlers, write_items
from pie_local.settings import LOCAL_TABLE_NAME
from pie_local.table.dynamodb import embedded_dynamodb
from shared import runtime
from shared.data.entities import MODEL_TAGS, MODELS, VERSION_TAGS, VERSIONS, VersionRecord, model_tags, version_tags
from shared.domain.entities import Model, StatusChange, Version
from shared.domain.records import ModelRecord

SECTION = "search"
SIZES = (1_000, 10_000)
RUNS = 15
GROWTH_BUDGET = 1.2
PRICED = 20
WORKSPACES = ("default", "pricing", "risk", "ops")
VERSIONED_MODEL = "price-00"
VERSIONS_OF_IT = 30

# (label, function, query parameters)
SHAPES: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("name = (exact)", "list_models", {"filter": "name = 'price-07'"}),
    ("name LIKE prefix", "list_models", {"filter": "name LIKE 'price%'"}),
    ("tags.team =", "list_models", {"filter": "tags.team = 'pricing'"}),
    ("name LIKE + tags (MLflow's example)", "list_models", {"filter": "name LIKE 'price%' AND tags.team = 'pricing'"}),
    ("status = (first page)", "list_models", {"filter": "status = 'active'"}),
    ("workspace = (first page)", "list_models", {"filter": "workspace = 'risk'"}),
    ("status + tags", "list_models", {"filter": "status = 'active' AND tags.team = 'pricing'"}),
    (
        "tags, order_by created_at DESC",
        "list_models",
        {"filter": "tags.team = 'pricing'", "order_by": "created_at DESC"},
    ),
    ("order_by name (first page)", "list_models", {"order_by": "name"}),
    ("versions: tags.stage =", "list_versions", {"filter": "tags.stage = 'prod'"}),
    ("versions: status =", "list_versions", {"filter": "status = 'active'"}),
)


def measure(sizes: tuple[int, ...] = SIZES, runs: int = RUNS) -> tuple[list[Figure], dict[str, Any]]:
    results = _measure_sizes(sizes, runs)
    small, large = min(sizes), max(sizes)
    figures = []
    for label, _, _ in SHAPES:
        before, after = results[small][label], results[large][label]
        holds = all(
            after[metric] <= max(before[metric] * GROWTH_BUDGET, before[metric] + _slack(metric))
            for metric in ("calls", "items", "p50_ms")
        )
        figures.append(
            Figure(
                SECTION,
                label,
                f"{before['calls']} calls, {before['items']} items, p50 {before['p50_ms']:.1f} ms at {small:,}; "
                f"{after['calls']} calls, {after['items']} items, p50 {after['p50_ms']:.1f} ms at {large:,}",
                f"<= {GROWTH_BUDGET}x from {small:,} to {large:,} models",
                holds and after["status"] == 200,
                {"small": before, "large": after},
            )
        )
    return figures, {str(size): found for size, found in results.items()}


def _slack(metric: str) -> float:
    """Timer noise a p50 of a few milliseconds cannot be held to 20% of."""
    return 0.5 if metric == "p50_ms" else 0


def _measure_sizes(sizes: tuple[int, ...], runs: int) -> dict[int, dict[str, dict[str, Any]]]:
    """Each shape's calls, items and p50 at each size, the sizes' runs alternating."""
    timings: dict[int, dict[str, list[float]]] = {size: {label: [] for label, _, _ in SHAPES} for size in sizes}
    counted: dict[int, dict[str, dict[str, Any]]] = {size: {} for size in sizes}
    handlers = {function: importlib.import_module(f"functions.{function}.handler") for _, function, _ in SHAPES}
    chosen_table = os.environ.get("PIE_TABLE_NAME")
    with ExitStack() as stack:
        tables = {size: f"{LOCAL_TABLE_NAME}-{size}" for size in sizes}
        for size, table in tables.items():
            client = stack.enter_context(embedded_dynamodb(table))
            write_items(client, table, _registry(size))
        try:
            for run in range(runs + 1):
                for size in sizes if run % 2 == 0 else tuple(reversed(sizes)):
                    _use_table(tables[size])
                    _warm(handlers)
                    for label, function, query in SHAPES:
                        path = {"model_id": VERSIONED_MODEL} if function == "list_versions" else {}
                        event = _event(function, query, path)
                        with _counted(runtime.dynamodb_client()) as counts:
                            started = time.perf_counter()
                            response = handlers[function].lambda_handler(event, LambdaContext())
                            elapsed = (time.perf_counter() - started) * 1000
                        if run:  # the first round warms the functions and the clients
                            timings[size][label].append(elapsed)
                        counted[size][label] = {**counts, "status": response["statusCode"]}
        finally:
            _use_table(chosen_table)
    return {
        size: {
            label: {**counted[size][label], "p50_ms": round(statistics.median(timings[size][label]), 2)}
            for label, _, _ in SHAPES
        }
        for size in sizes
    }


def _warm(handlers: dict[str, Any]) -> None:
    """One untimed request per function, so the runtime's clients are built before the timed ones."""
    for function, handler in handlers.items():
        path = {"model_id": VERSIONED_MODEL} if function == "list_versions" else {}
        handler.lambda_handler(_event(function, {}, path), LambdaContext())


def _use_table(table: str | None) -> None:
    """Point the functions' runtime at ``table`` (its settings and clients are built again)."""
    if table is None:
        os.environ.pop("PIE_TABLE_NAME", None)
    else:
        os.environ["PIE_TABLE_NAME"] = table
    runtime.reset()


def _event(function: str, query: dict[str, str], path: dict[str, str]) -> dict[str, Any]:
    from urllib.parse import urlencode

    event = route_event(function, **path)
    parameters = {**query, "limit": "50"}
    event["rawQueryString"] = urlencode(parameters)
    event["queryStringParameters"] = parameters
    return event


class _counted:
    """DynamoDB calls and the items they return, on one client, inside the block."""

    def __init__(self, client: Any) -> None:
        self._events = client.meta.events
        self.counts = {"calls": 0, "items": 0}

    def __enter__(self) -> dict[str, int]:
        self._events.register("after-call.dynamodb", self._after, unique_id="bench-search-count")
        return self.counts

    def __exit__(self, *_: Any) -> None:
        self._events.unregister("after-call.dynamodb", unique_id="bench-search-count")

    def _after(self, parsed: dict[str, Any], **_: Any) -> None:
        self.counts["calls"] += 1
        self.counts["items"] += len(parsed.get("Items", [])) + len(parsed.get("Item", {}) and [1])
        self.counts["items"] += sum(len(items) for items in parsed.get("Responses", {}).values())


def _registry(size: int) -> list[dict[str, Any]]:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    handlers = sample_handlers()
    items: list[dict[str, Any]] = []
    for index in range(size):
        priced = index < PRICED
        model_id = f"price-{index:02d}" if priced else f"model-{index:05d}"
        at = now + timedelta(seconds=index)
        model = Model(
            id=model_id,
            workspace=WORKSPACES[index % len(WORKSPACES)],
            name=model_id,
            description="",
            handlers=handlers,
            handler_contracts=None,
            metadata={},
            tags={"team": "pricing" if priced else f"team-{index % 50}"},
            status="active" if index % 2 else "pending",
            latest_version="1",
            active_version=None,
            entity_version=1,
            created_at=at,
            updated_at=at,
            created_by=ACTOR,
        )
        count = VERSIONS_OF_IT if model_id == VERSIONED_MODEL else 1
        items.append(MODELS.encode(ModelRecord(model, count, count)))
        items += [MODEL_TAGS.encode(tag) for tag in model_tags(model)]
        for number in range(1, count + 1):
            record = VersionRecord(_version(model, str(number), number, at), number)
            items.append(VERSIONS.encode(record))
            items += [VERSION_TAGS.encode(tag) for tag in version_tags(record)]
    return items


def _version(model: Model, number: str, sequence: int, at: datetime) -> Version:
    status = "active" if sequence % 3 == 0 else "failed"
    return Version(
        model_id=model.id,
        workspace=model.workspace,
        version=number,
        description="",
        metadata={},
        tags={"stage": "prod"} if sequence % 5 == 0 else {},
        status=status,
        status_message=None,
        status_history=[StatusChange(status=status, status_message=None, at=at, by=ACTOR)],
        handlers=model.handlers,
        handler_contracts=None,
        entity_version=1,
        created_at=at + timedelta(seconds=sequence),
        updated_at=at + timedelta(seconds=sequence),
        created_by=ACTOR,
    )

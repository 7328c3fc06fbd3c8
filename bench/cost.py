"""``python -m bench.cost`` (``make cost``): what a stated workload costs a month on AWS, from measured calls.

Every figure that can be measured here is: each function's DynamoDB calls and the items they read
and write (so its request units), and the time PIE's own code spends per request outside those
calls. What cannot be measured without an AWS account is stated as an assumption beside it: the
latency of one DynamoDB call from Lambda, and the price list (``PRICES``, dated). The result is
set beside an always-on MLflow tracking server sized for the same load.

    python -m bench.cost                 # the stated workload
    python -m bench.cost --reads-per-second 50 --versions-per-day 2000 --fan-out 5
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench.environment import LambdaContext, discard_function_logs, use_function_environment
from bench.round_trips import _lambda_job_batch
from bench.stand_ins import InstantLambda
from bench.world import sample_event, seed
from infra.function_profiles import DISPATCHER, JOB_COMPLETION, route_profile
from pie_local.settings import LOCAL_TABLE_NAME
from pie_local.table.dynamodb import embedded_dynamodb
from shared import runtime
from shared.routes import route_for

SECONDS_PER_MONTH = 30 * 24 * 3600
RUNS = 7  # per function; the median of the function's own time is used

# us-east-1, on-demand list prices as AWS publishes them (DynamoDB after its November 2024 cut).
# Dated: re-check https://aws.amazon.com/pricing before quoting a bill.
PRICES_AS_OF = "2025 list prices, us-east-1 (checked 2026-12-07)"
PRICES = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm": 0.0000133334,
    "http_api_request": 1.00 / 1e6,
    "dynamodb_wru": 0.625 / 1e6,
    "dynamodb_rru": 0.125 / 1e6,
    "cloudwatch_logs_gb": 0.50,
    "ec2_t4g_small_hour": 0.0168,
    "rds_t4g_micro_postgres_hour": 0.016,
    "rds_gp3_gb_month": 0.115,
    "ebs_gp3_gb_month": 0.08,
}
HOURS_PER_MONTH = 730

# Assumptions (not measurable offline), stated with the result.
DYNAMODB_CALL_MS = 6.0  # one DynamoDB call from Lambda in the same region, p50
LOG_BYTES_PER_INVOCATION = 1200  # one structured request line plus the platform's START/END/REPORT lines
MLFLOW_DISK_GB = {"rds": 20, "ebs": 8}


@dataclass
class Workload:
    reads_per_second: float = 5.0
    versions_per_day: float = 200.0
    fan_out: float = 3.0  # downstream trainings fired by each training that completes
    models_created_per_day: float = 10.0
    model_updates_per_day: float = 20.0
    sweeps_per_hour: float = 60.0

    def monthly_calls(self) -> dict[str, float]:
        """Invocations a month per function: reads split over the read routes; each version is cut,
        trained (dispatch, completion) and moved twice (to staging, to active); each training that
        completes fires ``fan_out`` downstream trainings, each dispatched and completed."""
        days = 30
        reads = self.reads_per_second * SECONDS_PER_MONTH
        trainings = self.versions_per_day * days
        downstream = trainings * self.fan_out
        return {
            "get_model": reads * 0.40,
            "get_version": reads * 0.30,
            "list_models": reads * 0.15,
            "get_job": reads * 0.15,
            "create_model": self.models_created_per_day * days,
            "update_model": self.model_updates_per_day * days,
            "create_version": trainings,
            "start_training": trainings,
            "set_version_status": trainings * 2,
            "dispatch_jobs": trainings + downstream,
            "complete_job_events": trainings + downstream,
            "sweep_jobs": self.sweeps_per_hour * HOURS_PER_MONTH,
        }


@dataclass
class Measured:
    function: str
    calls: float
    read_units: float
    write_units: float
    own_ms: float  # the function's own time per request, outside its DynamoDB calls
    operations: dict[str, int] = field(default_factory=dict)


def item_size(item: dict[str, Any]) -> int:
    """An item's size by DynamoDB's rules: attribute names plus values (numbers roughly half their digits)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    kind, inner = next(iter(value.items()))
    if kind in ("S", "B"):
        return len(inner.encode() if isinstance(inner, str) else inner)
    if kind == "N":
        return len(inner.lstrip("-").replace(".", "")) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + item_size(inner)
    if kind == "L":
        return 3 + sum(1 + _value_size(element) for element in inner)
    if kind in ("SS", "NS", "BS"):
        return sum(len(str(element)) for element in inner)
    return len(json.dumps(inner))


def _read_units(items: list[dict[str, Any]], consistent: bool, per_item: bool) -> float:
    factor = 1.0 if consistent else 0.5
    if per_item:
        return sum(max(1, math.ceil(item_size(item) / 4096)) * factor for item in items) or factor
    return max(1, math.ceil(sum(item_size(item) for item in items) / 4096)) * factor


# Each secondary index an item is in costs a write of its own; an item is in an index when it has its keys.
_INDEX_KEYS = ("GSI1PK", "GSI2PK", "GSI3PK", "LSI1SK")
_UNSEEN_WRITE_UNITS = 2  # an update or delete rewrites an item we do not see: 1 KB plus one index, assumed


def _put_units(item: dict[str, Any]) -> float:
    base = max(1, math.ceil(item_size(item) / 1024))
    return base * (1 + sum(1 for attribute in _INDEX_KEYS if attribute in item))


def request_units(operation: str, params: dict[str, Any], response: dict[str, Any]) -> tuple[float, float]:
    """(read units, write units) of one call, by DynamoDB's published rules for on-demand tables."""
    consistent = bool(params.get("ConsistentRead"))
    if operation == "GetItem":
        return _read_units([response["Item"]] if "Item" in response else [], consistent, per_item=True), 0.0
    if operation == "BatchGetItem":
        items = [item for table in response.get("Responses", {}).values() for item in table]
        return _read_units(items, consistent, per_item=True), 0.0
    if operation in ("Query", "Scan"):
        return _read_units(response.get("Items", []), consistent, per_item=False), 0.0
    if operation == "TransactGetItems":
        items = [entry["Item"] for entry in response.get("Responses", []) if "Item" in entry]
        return 2 * _read_units(items, True, per_item=True), 0.0
    if operation == "PutItem":
        return 0.0, _put_units(params["Item"])
    if operation in ("UpdateItem", "DeleteItem"):
        return 0.0, _UNSEEN_WRITE_UNITS
    if operation == "BatchWriteItem":
        writes = [request for requests in params["RequestItems"].values() for request in requests]
        return 0.0, sum(
            _put_units(w["PutRequest"]["Item"]) if "PutRequest" in w else _UNSEEN_WRITE_UNITS for w in writes
        )
    if operation == "TransactWriteItems":
        units = 0.0
        for entry in params["TransactItems"]:
            units += _put_units(entry["Put"]["Item"]) if "Put" in entry else _UNSEEN_WRITE_UNITS
        return 0.0, 2 * units  # transactions cost two units per item
    return 0.0, 0.0


@dataclass
class _Tally:
    operations: dict[str, int] = field(default_factory=dict)
    read_units: float = 0.0
    write_units: float = 0.0
    seconds_inside: float = 0.0


@contextmanager
def _tallied(client: Any) -> Iterator[_Tally]:
    tally = _Tally()
    state = threading.local()

    def parameters(params: dict[str, Any], **_: Any) -> None:
        state.params = params  # the call's API parameters, before they are serialized

    def before(**_: Any) -> None:
        state.at = time.perf_counter()

    def after(model: Any, parsed: dict[str, Any], **_: Any) -> None:
        tally.seconds_inside += time.perf_counter() - state.at
        tally.operations[model.name] = tally.operations.get(model.name, 0) + 1
        read, write = request_units(model.name, state.params, parsed)
        tally.read_units += read
        tally.write_units += write

    events = client.meta.events
    events.register("before-parameter-build.dynamodb", parameters)
    events.register_first("before-call.dynamodb", before)  # before the embedded table answers
    events.register("after-call.dynamodb", after)
    try:
        yield tally
    finally:
        events.unregister("before-parameter-build.dynamodb", parameters)
        events.unregister("before-call.dynamodb", before)
        events.unregister("after-call.dynamodb", after)


def measure(function: str, runs: int = RUNS) -> Measured:
    handler = importlib.import_module(f"functions.{function}.handler")
    own: list[float] = []
    last = _Tally()
    for _ in range(runs):
        with embedded_dynamodb(LOCAL_TABLE_NAME) as setup:
            runtime.reset()
            seed(setup, LOCAL_TABLE_NAME, function)
            event = sample_event(function)
            if function == "dispatch_jobs":
                event = _lambda_job_batch(setup, event)
            with _tallied(runtime.dynamodb_client()) as tally:
                started = time.perf_counter()
                handler.lambda_handler(event, LambdaContext())
                elapsed = time.perf_counter() - started
        own.append(max(0.0, elapsed - tally.seconds_inside) * 1000)
        last = tally
    return Measured(
        function,
        sum(last.operations.values()),
        last.read_units,
        last.write_units,
        statistics.median(own[1:] if len(own) > 1 else own),  # the first run imports and warms
        last.operations,
    )


def _memory_mb(function: str) -> int:
    if function == "dispatch_jobs":
        return DISPATCHER.memory_mb
    if function == "complete_job_events":
        return JOB_COMPLETION.memory_mb
    if function == "sweep_jobs":
        return 512
    return route_profile(route_for(function)).memory_mb


def pie_monthly(workload: Workload, measured: dict[str, Measured]) -> tuple[dict[str, float], list[dict[str, Any]]]:
    totals = {"lambda": 0.0, "api": 0.0, "dynamodb": 0.0, "logs": 0.0}
    rows = []
    for function, invocations in workload.monthly_calls().items():
        m = measured[function]
        billed_ms = math.ceil(m.own_ms + m.calls * DYNAMODB_CALL_MS)
        gb_seconds = invocations * billed_ms / 1000 * _memory_mb(function) / 1024
        lambda_cost = invocations * PRICES["lambda_request"] + gb_seconds * PRICES["lambda_gb_second_arm"]
        is_route = function not in ("dispatch_jobs", "complete_job_events", "sweep_jobs")
        api_cost = invocations * PRICES["http_api_request"] if is_route else 0.0
        dynamodb_cost = invocations * (m.read_units * PRICES["dynamodb_rru"] + m.write_units * PRICES["dynamodb_wru"])
        logs_cost = invocations * LOG_BYTES_PER_INVOCATION / 1e9 * PRICES["cloudwatch_logs_gb"]
        totals["lambda"] += lambda_cost
        totals["api"] += api_cost
        totals["dynamodb"] += dynamodb_cost
        totals["logs"] += logs_cost
        rows.append(
            {
                "function": function,
                "per_month": invocations,
                "dynamodb_calls": m.calls,
                "rru": m.read_units,
                "wru": m.write_units,
                "own_ms": round(m.own_ms, 2),
                "billed_ms": billed_ms,
                "memory_mb": _memory_mb(function),
                "usd": round(lambda_cost + api_cost + dynamodb_cost + logs_cost, 2),
            }
        )
    return totals, rows


def mlflow_monthly() -> dict[str, float]:
    """The smallest always-on MLflow tracking server with a managed database: a t4g.small (2 vCPU,
    2 GiB: MLflow's four gunicorn workers need more than a t4g.micro's 1 GiB) and an RDS PostgreSQL
    db.t4g.micro, single-AZ, without a load balancer or backups (both cost extra)."""
    return {
        "ec2": PRICES["ec2_t4g_small_hour"] * HOURS_PER_MONTH + PRICES["ebs_gp3_gb_month"] * MLFLOW_DISK_GB["ebs"],
        "rds": PRICES["rds_t4g_micro_postgres_hour"] * HOURS_PER_MONTH
        + PRICES["rds_gp3_gb_month"] * MLFLOW_DISK_GB["rds"],
    }


def report(workload: Workload, measured: dict[str, Measured], stream: Any = sys.stdout) -> dict[str, Any]:
    totals, rows = pie_monthly(workload, measured)
    mlflow = mlflow_monthly()
    write = stream.write
    write(f"Workload: {workload.reads_per_second:g} reads/s, {workload.versions_per_day:g} versions/day trained, ")
    write(f"fan-out {workload.fan_out:g}, {workload.models_created_per_day:g} models created and ")
    write(f"{workload.model_updates_per_day:g} updated a day, a sweep {workload.sweeps_per_hour:g}×/h\n")
    write(f"Prices: {PRICES_AS_OF}; assumed {DYNAMODB_CALL_MS:g} ms per DynamoDB call from Lambda (arm64)\n\n")
    header = ("function", "calls/month", "DynamoDB calls", "RRU", "WRU", "own ms", "billed ms", "MB", "USD/month")
    table = [header] + [
        (
            r["function"],
            f"{r['per_month']:,.0f}",
            f"{r['dynamodb_calls']:g}",
            f"{r['rru']:g}",
            f"{r['wru']:g}",
            f"{r['own_ms']:.2f}",
            str(r["billed_ms"]),
            str(r["memory_mb"]),
            f"{r['usd']:.2f}",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for index, row in enumerate(table):
        write("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |\n")
        if index == 0:
            write("|" + "|".join("-" * (width + 2) for width in widths) + "|\n")
    pie_total = sum(totals.values())
    mlflow_total = sum(mlflow.values())
    write("\nPIE: " + ", ".join(f"{name} ${cost:.2f}" for name, cost in totals.items()))
    write(f" = ${pie_total:.2f}/month\n")
    write("MLflow (t4g.small + RDS db.t4g.micro): " + ", ".join(f"{n} ${c:.2f}" for n, c in mlflow.items()))
    write(f" = ${mlflow_total:.2f}/month, whatever the load\n")
    return {"workload": workload.__dict__, "rows": rows, "pie": totals, "mlflow": mlflow}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cost", description=__doc__.split("\n\n")[0])
    defaults = Workload()
    for name, value in defaults.__dict__.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=value)
    parser.add_argument("--runs", type=int, default=RUNS, help="runs per function (median)")
    arguments = parser.parse_args(argv)
    workload = Workload(**{name: getattr(arguments, name) for name in defaults.__dict__})
    use_function_environment()
    discard_function_logs()
    runtime.use_stand_in("lambda", InstantLambda())  # a Lambda job's Invoke answers at once
    with open(os.devnull, "w") as discarded, contextlib.redirect_stdout(discarded):  # the functions' EMF lines
        measured = {function: measure(function, arguments.runs) for function in workload.monthly_calls()}
    report(workload, measured)
    return 0


if __name__ == "__main__":
    sys.exit(main())

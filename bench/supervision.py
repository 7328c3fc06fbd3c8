"""Job supervision: what a sweeper run costs against the number of overdue jobs, and what one page
of the delivery log costs.

The sweeper's reads must grow only with pages of 100 (one Query per page per due shard, never a
scan); its writes are one conditional put per overdue job (inference jobs: no version to move).
The delivery log reads one Query per log shard per page (docs/jobs.md explains why not one).
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.calls import counted_calls
from bench.report import Figure
from bench.world import sample_handlers, write_items
from pie_local.settings import LOCAL_TABLE_NAME
from pie_local.table.dynamodb import embedded_dynamodb
from shared import runtime
from shared.data.entities import JOBS
from shared.data.keys import DUE_SHARDS, LOG_SHARDS
from shared.domain.access import Access
from shared.domain.entities import Job

SECTION = "supervision"
SIZES = (0, 100, 500, 1000)
LOG_JOBS = 500
PAGE = 100


def measure(sizes: tuple[int, ...] = SIZES) -> tuple[list[Figure], dict[str, Any]]:
    figures: list[Figure] = []
    details: dict[str, Any] = {}
    for size in sizes:
        with embedded_dynamodb(LOCAL_TABLE_NAME) as client:
            runtime.reset()
            write_items(client, LOCAL_TABLE_NAME, [JOBS.encode(job) for job in _overdue_jobs(size)])
            sweeper = runtime.sweeper()
            with counted_calls(runtime.dynamodb_client()) as calls:
                report = sweeper.sweep()
        queries = calls.operations.get("Query", 0)
        allowed = 2 * DUE_SHARDS + math.ceil(size / PAGE)
        details[str(size)] = {"operations": dict(calls.operations), "timed_out": report.count("timed_out")}
        figures.append(
            Figure(
                SECTION,
                f"sweeper run, {size} overdue jobs: Query calls",
                f"{queries} ({calls.summary()})",
                f"≤ {allowed} (2×{DUE_SHARDS} shards + pages of {PAGE})",
                queries <= allowed and report.count("timed_out") == size,
                details[str(size)],
            )
        )
    with embedded_dynamodb(LOCAL_TABLE_NAME) as client:
        runtime.reset()
        write_items(client, LOCAL_TABLE_NAME, [JOBS.encode(job) for job in _overdue_jobs(LOG_JOBS, models=20)])
        pages, token = [], None
        while True:
            with counted_calls(runtime.dynamodb_client()) as calls:
                page = runtime.job_service().log(PAGE, token, None, None, None, Access.service("bench"))
            pages.append(calls.operations.get("Query", 0))
            token = page.next_token
            if token is None:
                break
    details["delivery_log"] = {"jobs": LOG_JOBS, "queries_per_page": pages}
    figures.append(
        Figure(
            SECTION,
            f"delivery log, {LOG_JOBS} jobs in pages of {PAGE}: Query calls per page",
            f"{max(pages)} ({len(pages)} pages)",
            f"= {LOG_SHARDS} log shards (1 would mean one hot partition)",
            max(pages) == LOG_SHARDS,
            details["delivery_log"],
        )
    )
    return figures, details


def _overdue_jobs(count: int, models: int = 10) -> list[Job]:
    """Inference jobs dispatched two hours ago whose handler never answered."""
    started = datetime.now(UTC) - timedelta(hours=2)
    handler = sample_handlers().inference
    return [
        Job(
            id=str(uuid.uuid4()),
            model_id=f"bench-model-{n % models}",
            version="1",
            action="inference",
            status="dispatched",
            input={},
            handler=handler,
            trigger=None,
            created_at=started + timedelta(milliseconds=n),
            updated_at=started + timedelta(milliseconds=n),
            dispatched_at=started,
            started_at=started,
            deadline_at=started + timedelta(hours=1),
        )
        for n in range(count)
    ]

"""What each kind of function may do and how it is sized: the one place that decides a function's
table permissions, secrets, timeout and memory.

A route's kind comes from its row in the route table: a ``GET`` only reads, and so does a route
marked ``writes=False`` (the dry run); every other route writes (writes include Powertools idempotency records, which live in the same table), and a
``GET`` whose path does not end in a ``{parameter}`` is a list, which alone reads the page-token
signing key. A public route (no token) gets no access to the table or the key at all. The job
functions and the webhook delivery function, which are not routes, have their own profiles.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.routes import Route

DISPATCHER_FUNCTION = "dispatch_jobs"
JOB_COMPLETION_FUNCTION = "complete_job_events"
SWEEPER_FUNCTION = "sweep_jobs"
WEBHOOK_DELIVERY_FUNCTION = "deliver_webhooks"

# Transactions need no actions of their own: IAM checks each item of a TransactWriteItems against
# PutItem/UpdateItem/DeleteItem/ConditionCheckItem and each of a TransactGetItems against GetItem.
TABLE_READ_ACTIONS: tuple[str, ...] = (
    "dynamodb:BatchGetItem",
    "dynamodb:GetItem",
    "dynamodb:Query",
)
TABLE_WRITE_ACTIONS: tuple[str, ...] = (
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)


@dataclass(frozen=True)
class FunctionProfile:
    kind: str
    memory_mb: int
    timeout_seconds: int
    writes_table: bool
    reads_page_token_key: bool = False
    reads_table: bool = True
    # The indexes it may query; None: all of them.
    read_indexes: tuple[str, ...] | None = None

    @property
    def table_read_actions(self) -> tuple[str, ...]:
        return TABLE_READ_ACTIONS if self.reads_table else ()

    @property
    def table_write_actions(self) -> tuple[str, ...]:
        return TABLE_WRITE_ACTIONS if self.writes_table else ()


# HTTP API integrations time out after 30 s; route functions answer well within it.
READ_ROUTE = FunctionProfile("read", memory_mb=512, timeout_seconds=10, writes_table=False)
LIST_ROUTE = FunctionProfile("list", memory_mb=512, timeout_seconds=10, writes_table=False, reads_page_token_key=True)
# Anyone may call a public route, so its function can reach nothing a token protects.
PUBLIC_ROUTE = FunctionProfile("public", memory_mb=256, timeout_seconds=5, writes_table=False, reads_table=False)
WRITE_ROUTE = FunctionProfile("write", memory_mb=1024, timeout_seconds=20, writes_table=True)
# The dispatcher runs in-process implementations and retries throttled starts with backoff.
DISPATCHER = FunctionProfile("dispatcher", memory_mb=1024, timeout_seconds=120, writes_table=True)
JOB_COMPLETION = FunctionProfile("job_completion", memory_mb=512, timeout_seconds=30, writes_table=True)
# The sweeper reads the due index only (plus the items it moves: versions and models of training
# jobs, by key) and finishes a run of a few pages well inside a minute, before the next one.
SWEEPER = FunctionProfile("sweeper", memory_mb=512, timeout_seconds=50, writes_table=True, read_indexes=("GSI3",))
# Webhook delivery reads the endpoints of a workspace (GSI1) and the due deliveries (GSI3). An
# attempt may wait its receiver's timeout (10 s), so a batch or a sweep of many slow receivers runs
# long; overlapping runs are safe (each attempt claims its delivery first).
WEBHOOK_DELIVERY = FunctionProfile(
    "webhook_delivery", memory_mb=512, timeout_seconds=300, writes_table=True, read_indexes=("GSI1", "GSI3")
)


def is_list_route(route: Route) -> bool:
    return not route.public and route.method == "GET" and not route.path.endswith("}")


def route_profile(route: Route) -> FunctionProfile:
    if route.public:
        return PUBLIC_ROUTE
    if not route.read_only:
        return WRITE_ROUTE
    return LIST_ROUTE if is_list_route(route) else READ_ROUTE

"""PIE's own functions, found through the route table: the one place the local stack imports one.

A route's function is ``functions/<route.function>/handler.py`` (``shared.routes.ROUTES``); the
functions no route serves are the stream's dispatcher, the sweep schedule and the rule for AWS job
results, named here as infra names them (``infra/function_profiles.py``; a test holds the two
lists to the ``functions/`` folders).
"""

from __future__ import annotations

import importlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pie_local.settings import LOCAL_ACCOUNT_ID
from pie_local.table.dynamodb import LOCAL_REGION
from shared.routes import ROUTES

DISPATCHER_FUNCTION = "dispatch_jobs"
SWEEPER_FUNCTION = "sweep_jobs"
JOB_COMPLETION_FUNCTION = "complete_job_events"
WEBHOOK_DELIVERY_FUNCTION = "deliver_webhooks"
EVENT_FUNCTIONS = (DISPATCHER_FUNCTION, SWEEPER_FUNCTION, JOB_COMPLETION_FUNCTION, WEBHOOK_DELIVERY_FUNCTION)

LAMBDA_TIMEOUT_SECONDS = 30
LAMBDA_MEMORY_MB = 256

LambdaHandler = Callable[[dict[str, Any], Any], Any]


def function_names() -> list[str]:
    """Every function of PIE: one per route of the route table, and the event functions."""
    return sorted({route.function for route in ROUTES} | set(EVENT_FUNCTIONS))


def load_handler(function: str) -> LambdaHandler:
    """``functions/<function>/handler.py``'s ``lambda_handler``; a KeyError names an unknown function."""
    if function not in function_names():
        raise KeyError(function)
    return importlib.import_module(f"functions.{function}.handler").lambda_handler


def local_function_name(function: str) -> str:
    return f"pie-local-{function}"


@dataclass
class LocalLambdaContext:
    """The parts of Lambda's context object that PIE and Powertools read."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = LAMBDA_MEMORY_MB
    function_version: str = "$LATEST"
    timeout_seconds: float = LAMBDA_TIMEOUT_SECONDS
    _deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"{time.strftime('%Y/%m/%d')}/[$LATEST]{self.aws_request_id.replace('-', '')}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

"""The environment every benchmark gives PIE's functions: the local stack's, with fake credentials."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from pie_local.settings import local_environment
from pie_local.table.dynamodb import LOCAL_REGION
from shared.settings import LIBRARY_ENVIRONMENT

ROOT = Path(__file__).resolve().parent.parent


def function_environment(base: Mapping[str, str] = os.environ) -> dict[str, str]:
    """``base`` without PIE settings, plus the local stack's settings and moto's fake credentials."""
    environment = {name: value for name, value in base.items() if not name.startswith(("PIE_", "AWS_"))}
    environment.update(local_environment())
    environment.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_REGION": LOCAL_REGION,
            # As pie_local.table.dynamodb sets it: the endpoint moto serves.
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        }
    )
    return environment


def deployed_function_environment(function: str) -> dict[str, str]:
    """``function_environment`` as a deployed function sees it: inside Lambda, traced (the stack
    sets Tracing.ACTIVE) and inside a sampled trace, with the libraries' settings the stack gives
    every function (``LIBRARY_ENVIRONMENT``).

    It matters for cold starts: outside Lambda the X-Ray SDK builds two X-Ray clients for
    centralized sampling when Powertools' Tracer imports it, which Lambda never does; inside
    Lambda, with tracing on, the Tracer patches the AWS SDK at import instead.
    """
    environment = function_environment()
    environment.pop("POWERTOOLS_TRACE_DISABLED", None)
    environment.update(
        {
            "LAMBDA_TASK_ROOT": str(ROOT),
            "AWS_LAMBDA_FUNCTION_NAME": f"pie-{function}",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "_X_AMZN_TRACE_ID": "Root=1-6776a5e4-3c4f1e0b2d9a8c7f6e5d4c3b;Parent=53995c3f42cd8ad8;Sampled=1",
            # Segments go to the daemon's address by UDP; nothing listens there, nothing leaves the host.
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
            **LIBRARY_ENVIRONMENT,
        }
    )
    return environment


def use_function_environment() -> None:
    """Give this process the functions' environment (in-process benchmarks)."""
    environment = function_environment()
    os.environ.clear()
    os.environ.update(environment)


def discard_function_logs() -> None:
    """Keep formatting every log record (that cost is real) but write them nowhere."""
    from shared.observability import logger

    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(open(os.devnull, "w"))  # open for the life of the process


class LambdaContext:
    function_name = "pie-bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:pie-bench"
    aws_request_id = "bench-request-id"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000

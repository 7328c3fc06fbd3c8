"""Logger, Tracer and Metrics for every function, from one place."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.lambda_context import build_lambda_context_model
from aws_lambda_powertools.utilities import jmespath_utils

SERVICE = "pie"
# PIE's only outbound calls are AWS SDK calls. Patching every library the X-Ray SDK supports
# would import each one found (sqlite3, http.client's patch, ...) at every cold start for calls
# PIE never makes; botocore's patch records the same subsegments as before.
TRACED_LIBRARIES = ("botocore",)

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE, patch_modules=TRACED_LIBRARIES)
metrics = Metrics(namespace="PIE", service=SERVICE)

Handler = TypeVar("Handler", bound=Callable[..., Any])


def log_invocations(correlation_id_path: str | None = None) -> Callable[[Handler], Handler]:
    """``logger.inject_lambda_context`` for a handler that may run on several threads at once.

    Powertools' decorator appends the invocation's keys (the function, its request id, the
    correlation id) to the logger every function shares, so two invocations at once would log
    under each other's ids. These keys are the invocation's own (Powertools' thread-safe keys,
    held in a context variable) and are removed when it ends. Without ``correlation_id_path`` (the
    event functions: a stream batch or a schedule has no request id of a caller) none is logged.
    """

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def invoke(event: dict[str, Any], context: Any) -> Any:
            keys = {"cold_start": _cold_start(), **build_lambda_context_model(context).__dict__}
            if correlation_id_path is not None:
                keys["correlation_id"] = jmespath_utils.query(envelope=correlation_id_path, data=event)
            logger.thread_safe_append_keys(**keys)
            try:
                return handler(event, context)
            finally:
                logger.thread_safe_remove_keys(keys)

        return invoke  # type: ignore[return-value]

    return decorate


_started: list[bool] = []


def _cold_start() -> bool:
    """True for the process's first invocation, as Powertools counts a cold start."""
    if _started:
        return False
    _started.append(True)
    return True

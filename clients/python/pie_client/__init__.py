"""The PIE SDK: ``PieClient`` and ``AsyncPieClient``, their wire types (``pie_client.models``) and typed errors."""

from pie_client import webhooks
from pie_client._transport import NO_RETRIES, RetryPolicy
from pie_client.client import AUTO, DEFAULT_URL, AsyncPieClient, PieClient, __version__
from pie_client.errors import (
    BadRequest,
    Conflict,
    ConnectionFailed,
    Forbidden,
    InvalidRequest,
    NotFound,
    PieError,
    ServerError,
    TooManyRequests,
    Unauthorized,
    UnexpectedResponse,
    Unprocessable,
    WaitTimeout,
)

__all__ = [
    "webhooks",
    "AUTO",
    "DEFAULT_URL",
    "NO_RETRIES",
    "AsyncPieClient",
    "BadRequest",
    "Conflict",
    "ConnectionFailed",
    "Forbidden",
    "InvalidRequest",
    "NotFound",
    "PieClient",
    "PieError",
    "RetryPolicy",
    "ServerError",
    "TooManyRequests",
    "Unauthorized",
    "UnexpectedResponse",
    "Unprocessable",
    "WaitTimeout",
    "__version__",
]

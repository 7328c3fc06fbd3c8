"""An embedded DynamoDB for the local stack and the tests: moto, in this process.

Real DynamoDB applies each request atomically. Moto's in-memory backend does not lock, so two
threads could interleave inside one conditional write or transaction; the embedded table
therefore serializes requests, which restores the atomicity the code relies on.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3

from shared.data.table import create_table

LOCAL_REGION = "us-east-1"


def use_fake_credentials(environ: dict[str, str] | Any = os.environ) -> None:
    """Moto's documented fake credentials, so nothing can reach a real account."""
    environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    environ.setdefault("AWS_SESSION_TOKEN", "testing")
    environ.setdefault("AWS_DEFAULT_REGION", LOCAL_REGION)
    environ.setdefault("AWS_REGION", environ["AWS_DEFAULT_REGION"])
    # botocore 1.44 sends DynamoDB Streams calls to an account-specific endpoint that moto does not
    # recognise ("Not yet implemented"); the classic endpoint is what moto serves.
    environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"


_serialize_requests = threading.RLock()
_patched = False


def _make_moto_atomic() -> None:
    global _patched
    if _patched:
        return
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.__call__

    def atomic_call(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        with _serialize_requests:
            return original(self, event_name, request, **kwargs)

    BotocoreStubber.__call__ = atomic_call  # type: ignore[method-assign]
    _patched = True


@contextmanager
def embedded_dynamodb(table_name: str) -> Iterator[Any]:
    """Start moto, create PIE's table, and yield a DynamoDB client for it."""
    from moto import mock_aws

    use_fake_credentials()
    _make_moto_atomic()
    with mock_aws():
        client = boto3.client("dynamodb", region_name=os.environ["AWS_REGION"])
        create_table(client, table_name)
        yield client

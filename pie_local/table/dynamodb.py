"""An embedded DynamoDB for the local stack and the tests: moto, in this process.

Real DynamoDB applies each request atomically. Moto's in-memory backend does not lock, so two
threads could interleave inside one conditional write or transaction; the embedded table
therefore serializes requests, which restores the atomicity the code relies on. Each request's
item changes are published to the table's ``ChangeLog`` (``pie_local.table.changes``) when it succeeds
and undone when it fails, which also makes moto's whole-table transaction backups unnecessary.
A Query reads only its page, from partitions kept sorted. Together these keep a request's cost
independent of how much the table holds, as it is in DynamoDB. Each of these changes to moto is
one named piece of ``pie_local.table.moto_patches``, applied only to the moto release it was
written for.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from pie_local.table.changes import ChangeLog
from pie_local.table.moto_patches import apply_patches
from pie_local.table.partitions import PartitionIndex
from pie_local.table.request_scope import CHANGES_ATTRIBUTE, INDEX_ATTRIBUTE, SERIALIZE
from shared.data.table import TTL_ATTRIBUTE, create_table

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


_change_logs: dict[str, ChangeLog] = {}


_session: boto3.Session | None = None


def _mocked_session() -> boto3.Session:
    global _session
    if _session is None:
        _session = boto3.Session()
    return _session


@contextmanager
def embedded_dynamodb(
    table_name: str, *, data_dir: Path | None = None, fsync: bool = True, accept_data_loss: bool = False
) -> Iterator[Any]:
    """Start moto, create PIE's table, and yield a DynamoDB client for it.

    The table's committed changes go to a ``ChangeLog`` (``table_changes(table_name)``). With
    ``data_dir`` the table is loaded from it first and every committed change is kept there; a
    damaged one is refused (``DataDirectoryDamagedError``) unless ``accept_data_loss``.
    """
    from moto import mock_aws

    use_fake_credentials()
    apply_patches()
    with mock_aws():
        # Moto empties boto3's default session inside a mock, so every client would start a new
        # session and parse botocore's service models again (~120 ms each: most of what a test
        # table cost). One session, made inside a mock with the fake credentials, serves them all.
        boto3.DEFAULT_SESSION = _mocked_session()
        client = boto3.client("dynamodb", region_name=os.environ["AWS_REGION"])
        create_table(client, table_name)
        description = client.describe_table(TableName=table_name)["Table"]
        table = _moto_table(description["TableArn"], table_name)
        changes = ChangeLog(
            description["LatestStreamArn"],
            client.meta.region_name,
            data_dir=data_dir,
            fsync=fsync,
            accept_data_loss=accept_data_loss,
        )
        try:
            with SERIALIZE:
                setattr(table, INDEX_ATTRIBUTE, PartitionIndex(table))
                loaded = _load(table, changes.load())
                changes.open(loaded)
                setattr(table, CHANGES_ATTRIBUTE, changes)
            _change_logs[table_name] = changes
            yield client
        finally:
            _change_logs.pop(table_name, None)
            with SERIALIZE:  # a request in flight finishes and is kept first
                changes.close()


def table_changes(table_name: str) -> ChangeLog:
    """The change log of the embedded table ``table_name`` (inside ``embedded_dynamodb``)."""
    return _change_logs[table_name]


def _moto_table(table_arn: str, table_name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    _, _, _, region, account, _ = table_arn.split(":", 5)
    return dynamodb_backends[account][region].tables[table_name]


def _load(table: Any, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Put stored items straight into moto's table (no request, so no stream record); returns them.

    Each item passed moto's size check when it was written, so it is not checked again (moto's
    check is quadratic in an item's attributes, and would make a restart slow).
    """
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    now = time.time()
    placed = []
    for image in items:
        expires = image.get(TTL_ATTRIBUTE, {}).get("N")
        if expires is not None and float(expires) < now:
            continue  # DynamoDB deletes items past their time to live.
        item = Item.__new__(Item)
        item.hash_key = DynamoType(image[table.hash_key_attr])
        item.range_key = DynamoType(image[table.range_key_attr])
        attributes = LimitedSizeDict.__new__(LimitedSizeDict)
        for name, value in image.items():
            dict.__setitem__(attributes, name, DynamoType(_as_parsed(value)))
        item.attrs = attributes
        table.items[item.hash_key][item.range_key] = item
        placed.append((item.hash_key, item.range_key, image))
    getattr(table, INDEX_ATTRIBUTE).load(placed)
    return [image for _, _, image in placed]


def _as_parsed(value: dict[str, Any]) -> dict[str, Any]:
    """A stored attribute value as moto holds one parsed from a request: binary values as bytes
    (the log keeps them as DynamoDB's JSON does, in base64)."""
    ((kind, held),) = value.items()
    if kind == "B":
        return {"B": base64.b64decode(held)}
    if kind == "BS":
        return {"BS": [base64.b64decode(part) for part in held]}
    if kind == "M":
        return {"M": {name: _as_parsed(part) for name, part in held.items()}}
    if kind == "L":
        return {"L": [_as_parsed(part) for part in held]}
    return value

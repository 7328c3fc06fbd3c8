"""The pieces items are made of: DynamoDB attribute values, JSON documents, and DynamoDB's limits.

Each item stores its resource as a JSON document (``doc``) next to its key, index and condition
attributes, which keeps arbitrary user JSON (floats, deep nesting) out of DynamoDB's type system.
Each item type's codec, built from these, is in ``shared.data.entities``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import ClientError
from pydantic import BaseModel

from shared.domain.errors import ItemTooLargeError
from shared.domain.stored import STORED

M = TypeVar("M", bound=BaseModel)

# DynamoDB's item limit is 400 KB; this leaves room for the keys and attributes beside ``doc``.
MAX_DOCUMENT_BYTES = 380_000
TRANSACTION_ITEM_LIMIT = 100
BATCH_WRITE_LIMIT = 25
BATCH_GET_LIMIT = 100


def s(value: str) -> dict[str, str]:
    return {"S": value}


def n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def key(attributes: dict[str, str]) -> dict[str, dict[str, str]]:
    return {name: s(value) for name, value in attributes.items()}


def document_bytes(resource: BaseModel) -> int:
    """How many bytes the resource's stored document takes."""
    return len(resource.model_dump_json().encode())


def document(resource: BaseModel) -> dict[str, str]:
    text = resource.model_dump_json()
    size = len(text.encode())
    if size > MAX_DOCUMENT_BYTES:
        raise ItemTooLargeError(
            f"the {type(resource).__name__.lower()} would take {size} bytes; the limit is "
            f"{MAX_DOCUMENT_BYTES} bytes (metadata, inputs and contracts count)"
        )
    return s(text)


def doc_text(item: dict[str, Any]) -> str:
    return item["doc"]["S"]


def decoded(model: type[M], item: dict[str, Any]) -> M:
    """The item's document as ``model``: validated as stored (``shared.domain.stored``)."""
    return model.model_validate_json(item["doc"]["S"], context=STORED)


def number(item: dict[str, Any] | None, name: str) -> int | None:
    if not item or name not in item:
        return None
    return int(item[name]["N"])


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def cancellation_reasons(error: ClientError) -> list[dict[str, Any]] | None:
    """The per-item reasons of a cancelled transaction (None for any other error)."""
    if error_code(error) != "TransactionCanceledException":
        return None
    return error.response.get("CancellationReasons") or []


def until_processed(
    call: Callable[..., dict[str, Any]],
    request: dict[str, Any],
    unprocessed: str,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """Repeat a batch call (BatchGetItem, BatchWriteItem) on what DynamoDB left unprocessed, with
    jittered exponential backoff as AWS advises; returns every response."""
    responses = []
    attempt = 0
    while request:
        if attempt:
            sleep(random.uniform(0, min(1.0, 0.05 * 2**attempt)))
        response = call(RequestItems=request)
        responses.append(response)
        request = response.get(unprocessed) or {}
        attempt += 1
    return responses

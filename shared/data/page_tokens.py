"""Opaque, signed pagination tokens.

A token carries the DynamoDB ``LastEvaluatedKey`` of a page and the list it belongs to, signed with
HMAC-SHA256 so a tampered token, or one issued for another list, is a 400 instead of a read from an
arbitrary place in the table.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Collection
from typing import Any

from shared.domain.errors import PageTokenInvalidError

_SIGNATURE_BYTES = 16


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PageTokenCodec:
    def __init__(self, signing_key: bytes) -> None:
        self._key = signing_key

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]

    def encode(self, list_scope: str, last_key: dict[str, Any]) -> str:
        payload = json.dumps({"list": list_scope, "key": last_key}, separators=(",", ":"), sort_keys=True)
        raw = payload.encode()
        return f"{_b64encode(raw)}.{_b64encode(self._sign(raw))}"

    def decode(self, token: str, list_scope: str) -> dict[str, Any]:
        try:
            payload_part, signature_part = token.split(".")
            raw = _b64decode(payload_part)
            signature = _b64decode(signature_part)
        except (ValueError, binascii.Error):
            raise PageTokenInvalidError() from None
        if not hmac.compare_digest(signature, self._sign(raw)):
            raise PageTokenInvalidError()
        # Signed is not the same as well-formed: a leaked key, or a bug, can sign anything.
        decoded = loads_token_json(raw)
        if not isinstance(decoded, dict) or decoded.get("list") != list_scope or not is_table_key(decoded.get("key")):
            raise PageTokenInvalidError()
        return decoded["key"]


def loads_token_json(text: str | bytes) -> Any:
    """JSON a token carries, or ``PageTokenInvalidError``: not JSON, not UTF-8, or nested past
    what Python's parser recurses through (1,500 ``[`` raise ``RecursionError``)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise PageTokenInvalidError() from None


def is_table_key(value: Any, attributes: Collection[str] | None = None) -> bool:
    """A key of PIE's table as the low-level client takes it: attribute names (exactly
    ``attributes`` when given), each with one string value (every key attribute of the table is a
    string; see ``shared.data.table``)."""
    return (
        isinstance(value, dict)
        and bool(value)
        and (attributes is None or set(value) == set(attributes))
        and all(
            isinstance(attribute, dict) and list(attribute) == ["S"] and isinstance(attribute["S"], str)
            for attribute in value.values()
        )
    )

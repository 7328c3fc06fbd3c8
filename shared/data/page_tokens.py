"""Opaque, sealed pagination tokens.

A token carries the DynamoDB ``LastEvaluatedKey`` of a page and the list it belongs to, encrypted
and authenticated with AES-SIV (RFC 5297, deterministic authenticated encryption) under a key
derived from the deployment's page-token secret, with the list as associated data. So a token
tells its holder nothing — not even the ids of items a filter dropped from the page, whose keys
a position may be — and a tampered token, or one issued for another list, is a 400 instead of a
read from an arbitrary place in the table.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Collection
from typing import Any

from shared.domain.errors import PageTokenInvalidError

# AES-SIV with a 512-bit key is AES-256 for both its MAC and its cipher half.
_KEY_BYTES = 64
_KEY_PURPOSE = b"pie page tokens v2"


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PageTokenCodec:
    def __init__(self, secret: bytes) -> None:
        """``secret``: the deployment's page-token key; the cipher key is derived from it (HKDF).

        ``cryptography`` is imported here, not with the module: a codec is built only when a list
        has a token to read or a next page to seal, so other routes never load it at cold start."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers.aead import AESSIV
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        key = HKDF(algorithm=hashes.SHA256(), length=_KEY_BYTES, salt=None, info=_KEY_PURPOSE).derive(secret)
        self._cipher = AESSIV(key)

    def encode(self, list_scope: str, last_key: dict[str, Any]) -> str:
        payload = json.dumps({"key": last_key}, separators=(",", ":"), sort_keys=True)
        return _b64encode(self._cipher.encrypt(payload.encode(), [list_scope.encode()]))

    def decode(self, token: str, list_scope: str) -> dict[str, Any]:
        from cryptography.exceptions import InvalidTag  # loaded with the codec (see __init__)

        try:
            raw = self._cipher.decrypt(_b64decode(token), [list_scope.encode()])
        except (ValueError, binascii.Error, InvalidTag):
            raise PageTokenInvalidError() from None
        # Authentic is not the same as well-formed: a leaked key, or a bug, can seal anything.
        decoded = loads_token_json(raw)
        if not isinstance(decoded, dict) or not is_table_key(decoded.get("key")):
            raise PageTokenInvalidError()
        return decoded["key"]


def workspaces_scope(workspaces: tuple[str, ...] | None) -> str:
    """The part of a list's scope that names the workspaces it covers ("*": every one), so that a
    token is good only for a caller who reads the same workspaces."""
    if workspaces is None:
        return "*"
    return hashlib.sha256(",".join(sorted(set(workspaces))).encode()).hexdigest()[:32]


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

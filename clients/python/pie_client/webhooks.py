"""Verifying PIE's webhook deliveries (the Standard Webhooks specification).

Each delivery carries ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
``webhook-signature`` (one or more space-separated ``v1,<base64>`` signatures: two while a rotated
secret is still honoured). The signature is HMAC-SHA256 over ``"{id}.{timestamp}.{body}"``, keyed by
the bytes the secret's base64 decodes to (after ``whsec_``)::

    from pie_client import webhooks

    event = webhooks.verify(request.body, request.headers, secret="whsec_...")
    if already_seen(request.headers["webhook-id"]):  # deliveries are at least once
        return 204

Verify the raw body as received: parsing and re-serializing it changes the bytes signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from pie_client.errors import PieError

SECRET_PREFIX = "whsec_"
# A delivery whose timestamp is further than this from now is refused (replayed or forged).
DEFAULT_TOLERANCE_SECONDS = 300


class WebhookVerificationError(PieError):
    """The delivery is not one PIE signed with this secret (or it is too old or too new)."""


def verify(
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> dict[str, Any]:
    """The delivery's payload (``{"type", "timestamp", "data"}``) if one of its signatures is the
    secret's; ``WebhookVerificationError`` otherwise. Header names are matched case-insensitively."""
    raw = body.encode() if isinstance(body, str) else bytes(body)
    found = {name.lower(): value for name, value in headers.items()}
    try:
        message_id, timestamp, signatures = (
            found["webhook-id"],
            found["webhook-timestamp"],
            found["webhook-signature"],
        )
    except KeyError as missing:
        raise WebhookVerificationError(f"the delivery has no {missing.args[0]} header") from None
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a number of seconds") from None
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_seconds:
        raise WebhookVerificationError(f"webhook-timestamp is more than {tolerance_seconds} s from now")
    expected = base64.b64encode(
        hmac.new(_key(secret), f"{message_id}.{timestamp}.".encode() + raw, hashlib.sha256).digest()
    )
    matched = False
    for candidate in signatures.split():
        version, _, signature = candidate.partition(",")
        # Every candidate is compared (in constant time), so the answer's timing tells nothing.
        if version == "v1" and hmac.compare_digest(expected, signature.encode()):
            matched = True
    if not matched:
        raise WebhookVerificationError("no signature of the delivery matches the secret")
    try:
        payload = json.loads(raw)
    except ValueError:
        raise WebhookVerificationError("the signed body is not JSON") from None
    if not isinstance(payload, dict):
        raise WebhookVerificationError("the signed body is not a JSON object")
    return payload


def _key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError("the secret is not whsec_ followed by base64") from None

"""pie_client.webhooks.verify: the Standard Webhooks check a receiver runs on PIE's deliveries."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from pie_client import webhooks
from pie_client.webhooks import WebhookVerificationError

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BODY = b'{"test": 2432232314}'
AT = 1614265330
HEADERS = {
    "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "webhook-timestamp": str(AT),
    "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
}


def signature(secret: str, headers: dict[str, str], body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def test_the_specifications_reference_delivery_verifies_and_answers_its_payload():
    assert webhooks.verify(BODY, HEADERS, SECRET, now=AT) == {"test": 2432232314}
    assert webhooks.verify(BODY.decode(), {k.upper(): v for k, v in HEADERS.items()}, SECRET, now=AT + 299)


def test_any_one_of_several_signatures_may_match_as_after_a_rotation():
    other = "whsec_" + base64.b64encode(b"another secret of 24 byte").decode()
    rotated = {**HEADERS, "webhook-signature": f"{signature(other, HEADERS, BODY)} {HEADERS['webhook-signature']}"}
    assert webhooks.verify(BODY, rotated, SECRET, now=AT) == {"test": 2432232314}
    assert webhooks.verify(BODY, rotated, other, now=AT) == {"test": 2432232314}


@pytest.mark.parametrize(
    ("body", "headers", "secret", "now", "why"),
    [
        (b'{"test": 2432232315}', HEADERS, SECRET, AT, "no signature"),
        (BODY, {**HEADERS, "webhook-id": "msg_other"}, SECRET, AT, "no signature"),
        (
            BODY,
            {**HEADERS, "webhook-signature": "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
            SECRET,
            AT,
            "no sig",
        ),
        (BODY, HEADERS, "whsec_" + base64.b64encode(b"wrong").decode(), AT, "no signature"),
        (BODY, HEADERS, SECRET, AT + 301, "from now"),
        (BODY, HEADERS, SECRET, AT - 301, "from now"),
        (BODY, {k: v for k, v in HEADERS.items() if k != "webhook-id"}, SECRET, AT, "webhook-id"),
        (BODY, {**HEADERS, "webhook-timestamp": "soon"}, SECRET, AT, "number"),
        (BODY, HEADERS, "whsec_not base64!", AT, "base64"),
    ],
)
def test_anything_else_is_refused_with_the_reason(body, headers, secret, now, why):
    with pytest.raises(WebhookVerificationError, match=why):
        webhooks.verify(body, headers, secret, now=now)

"""Pagination tokens: opaque (sealed: encrypted and authenticated) and bound to the list that issued them."""

from __future__ import annotations

import base64

import pytest

from shared.data.page_tokens import PageTokenCodec
from shared.domain.errors import PageTokenInvalidError, RequestInvalidError

LAST_KEY = {
    "PK": {"S": "MODEL#model_b"},
    "SK": {"S": "MODEL"},
    "GSI1PK": {"S": "MODELS"},
    "GSI1SK": {"S": "model_b"},
}


@pytest.fixture
def codec() -> PageTokenCodec:
    return PageTokenCodec(b"unit-test-page-token-signing-key")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_a_token_decodes_to_the_key_it_was_made_from(codec: PageTokenCodec):
    token = codec.encode("models:*", LAST_KEY)
    assert codec.decode(token, "models:*") == LAST_KEY


def test_a_token_is_url_safe_text(codec: PageTokenCodec):
    token = codec.encode("versions:model/with+odd=chars", LAST_KEY)
    assert all(character.isalnum() or character in "-_." for character in token)


def test_the_same_key_always_gives_the_same_token(codec: PageTokenCodec):
    reordered = dict(reversed(list(LAST_KEY.items())))
    assert codec.encode("models:*", LAST_KEY) == codec.encode("models:*", reordered)


def test_a_token_reveals_nothing_of_the_key_it_holds(codec: PageTokenCodec):
    raw = _unb64(codec.encode("models:*", LAST_KEY))
    for attribute in LAST_KEY.values():
        assert attribute["S"].encode() not in raw
    assert b"MODEL" not in raw and b"model_b" not in raw


@pytest.mark.parametrize("position", [0, 15, 16, -1], ids=["tag-start", "tag-end", "ciphertext-start", "last-byte"])
def test_a_token_with_any_bit_changed_is_refused(codec: PageTokenCodec, position: int):
    raw = bytearray(_unb64(codec.encode("models:*", LAST_KEY)))
    raw[position] ^= 0x01

    with pytest.raises(PageTokenInvalidError):
        codec.decode(_b64(bytes(raw)), "models:*")


def test_a_truncated_or_extended_token_is_refused(codec: PageTokenCodec):
    token = codec.encode("models:*", LAST_KEY)
    for altered in (token[:-2], token[:22], token + "AA", f"{token}.{token}"):
        with pytest.raises(PageTokenInvalidError):
            codec.decode(altered, "models:*")


def test_a_sealed_payload_that_is_no_table_key_is_refused(codec: PageTokenCodec):
    """What the key seals is still checked: a bug, or a leaked key, can seal anything."""
    for payload in (b"[]", b"not json", b'{"key": {"PK": {"N": "1"}}}', b'{"key": {}}'):
        token = _b64(codec._cipher.encrypt(payload, [b"models:*"]))
        with pytest.raises(PageTokenInvalidError):
            codec.decode(token, "models:*")


def test_a_token_signed_with_another_key_is_refused(codec: PageTokenCodec):
    token = PageTokenCodec(b"some-other-deployment-signing-key").encode("models:*", LAST_KEY)
    with pytest.raises(PageTokenInvalidError):
        codec.decode(token, "models:*")


@pytest.mark.parametrize(
    "garbage",
    ["", ".", "abc", "a.b.c", "!!!.???", "====.====", "é.ü", "a" * 4096, "eyJsaXN0IjoibW9kZWxzOioifQ.x"],
    ids=["empty", "dot", "no-dot", "three-parts", "symbols", "padding", "non-ascii", "long", "bad-signature"],
)
def test_garbage_is_refused(codec: PageTokenCodec, garbage: str):
    with pytest.raises(PageTokenInvalidError):
        codec.decode(garbage, "models:*")


@pytest.mark.parametrize(
    ("issued_for", "used_on"),
    [
        ("versions:model_a", "models:*"),
        ("versions:model_a", "versions:model_b"),
        ("models:active", "models:*"),
        ("models:*", "models:pending"),
    ],
)
def test_a_token_from_another_list_is_refused(codec: PageTokenCodec, issued_for: str, used_on: str):
    token = codec.encode(issued_for, LAST_KEY)
    with pytest.raises(PageTokenInvalidError):
        codec.decode(token, used_on)


def test_a_refused_token_is_a_request_error_that_does_not_echo_the_token(codec: PageTokenCodec):
    with pytest.raises(RequestInvalidError) as refused:
        codec.decode("secret-looking-garbage", "models:*")
    assert "secret-looking-garbage" not in refused.value.message

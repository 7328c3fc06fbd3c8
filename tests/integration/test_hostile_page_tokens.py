"""Page tokens sealed with the deployment's own key but carrying a forged payload (the key leaked,
or a bug sealed something odd): every list route answers 400 in PIE's error shape, never 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from shared.data.page_tokens import PageTokenCodec
from shared.local.settings import local_environment
from tests.integration.api_events import SEED_MODEL_ID, assert_error, call, create_model, create_version
from tests.integration.job_helpers import start_inference, started_job

SIGNING_KEY = local_environment()["PIE_PAGE_TOKEN_KEY"].encode()
LISTS = {
    "list_models": "models:*",
    "list_versions": f"versions:{SEED_MODEL_ID}",
    "list_subscriptions": f"subscriptions:{SEED_MODEL_ID}",
    "list_jobs": f"jobs:{SEED_MODEL_ID}:*",
}
FORGED_KEYS: dict[str, Any] = {
    "another-partition": {
        "PK": {"S": "MODEL#someone_else"},
        "SK": {"S": "VERSION#1"},
        "LSI1SK": {"S": "V#0000000001"},
        "GSI1PK": {"S": "MODELS"},
        "GSI1SK": {"S": "someone_else"},
    },
    "no-attributes": {},
    "missing-sort-key": {"PK": {"S": f"MODEL#{SEED_MODEL_ID}"}},
    "number-for-string": {"PK": {"N": "1"}, "SK": {"N": "2"}, "GSI1PK": {"N": "3"}, "GSI1SK": {"N": "4"}},
    "unknown-type": {"PK": {"X": "a"}, "SK": {"S": "b"}},
    "two-types": {"PK": {"S": "a", "N": "1"}, "SK": {"S": "b"}},
    "nested-value": {"PK": {"S": {"S": "a"}}, "SK": {"S": "b"}},
    "not-an-object": "MODEL#model_price_reco_v1",
    "a-list": [{"PK": {"S": "a"}}],
    "null": None,
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sealed(raw: bytes, list_scope: str) -> str:
    """``raw`` sealed for ``list_scope`` as the deployment seals a token (its cipher, its key)."""
    return _b64(PageTokenCodec(SIGNING_KEY)._cipher.encrypt(raw, [list_scope.encode()]))


@pytest.fixture(autouse=True)
def _lists_with_items(table: Any) -> None:
    create_model()
    create_version(SEED_MODEL_ID, "2")
    started_job(start_inference(SEED_MODEL_ID, {"features": [0.2]}, version="1"))


def _list(function: str, token: str):
    path = {} if function == "list_models" else {"model_id": SEED_MODEL_ID}
    return call(function, query={"next_token": token}, **path)


def test_the_forging_helper_seals_like_the_deployment():
    genuine = PageTokenCodec(SIGNING_KEY).encode("models:*", {"PK": {"S": "x"}})
    assert _sealed(b'{"key":{"PK":{"S":"x"}}}', "models:*") == genuine


@pytest.mark.parametrize("function", sorted(LISTS))
@pytest.mark.parametrize("forged", sorted(FORGED_KEYS))
def test_a_validly_sealed_token_with_a_forged_key_is_a_400(function: str, forged: str):
    raw = json.dumps({"key": FORGED_KEYS[forged]}, separators=(",", ":")).encode()

    assert_error(_list(function, _sealed(raw, LISTS[function])), 400)


@pytest.mark.parametrize("function", sorted(LISTS))
@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe", b"not json", b"[1, 2]", b'"models:*"', b"{}", b'{"list": "models:*"}', b'{"key": {}}'],
    ids=["not-utf8", "not-json", "array", "string", "empty-object", "no-key", "empty-key"],
)
def test_a_validly_sealed_token_that_is_not_a_token_is_a_400(function: str, raw: bytes):
    assert_error(_list(function, _sealed(raw, LISTS[function])), 400)

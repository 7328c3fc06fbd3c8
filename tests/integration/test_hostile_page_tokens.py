"""Page tokens signed with the deployment's own key but carrying a forged payload (the key leaked,
or a bug signed something odd): every list route answers 400 in PIE's error shape, never 500."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pie_local.settings import local_environment
from shared import runtime
from shared.data.page_tokens import PageTokenCodec
from shared.routes import route_for
from tests.integration.api_events import SEED_MODEL_ID, assert_error, call, create_model, create_version
from tests.integration.job_helpers import start_inference, started_job

SIGNING_KEY = local_environment()["PIE_PAGE_TOKEN_KEY"].encode()
ELSEWHERE = "someone_else"
# Each list: its route, the extra query parameters, the scope its tokens are signed for, and a key
# of the right shape pointing into another partition than the list's (DynamoDB refuses it).
LISTS: dict[str, tuple[str, dict[str, str], str, dict[str, Any]]] = {
    "list_models": (
        "list_models",
        {},
        "models:*",
        {"PK": {"S": "MODEL#x"}, "SK": {"S": "MODEL"}, "GSI1PK": {"S": ELSEWHERE}, "GSI1SK": {"S": "x"}},
    ),
    "list_models-workspace": (
        "list_models",
        {"workspace": "default"},
        "models:*:" + hashlib.sha256(b"default").hexdigest()[:32],
        {"PK": {"S": "MODEL#x"}, "SK": {"S": "MODEL"}, "GSI1PK": {"S": ELSEWHERE}, "GSI1SK": {"S": "x"}},
    ),
    "list_versions": (
        "list_versions",
        {},
        f"versions:{SEED_MODEL_ID}",
        {"PK": {"S": f"MODEL#{ELSEWHERE}"}, "SK": {"S": "VERSION#1"}, "LSI1SK": {"S": "V#0000000001"}},
    ),
    "list_subscriptions": (
        "list_subscriptions",
        {},
        f"subscriptions:{SEED_MODEL_ID}",
        {"PK": {"S": f"MODEL#{ELSEWHERE}"}, "SK": {"S": "SUB#x"}},
    ),
    "list_jobs": (
        "list_jobs",
        {},
        f"jobs:{SEED_MODEL_ID}:*",
        {"PK": {"S": f"MODEL#{ELSEWHERE}"}, "SK": {"S": "JOB#x"}, "LSI1SK": {"S": "J#x"}},
    ),
    "list_all_jobs": (
        "list_all_jobs",
        {},
        "joblog:*:*:*:*",
        {
            "shards": {
                "S": json.dumps(
                    [
                        {
                            "PK": {"S": f"MODEL#{ELSEWHERE}"},
                            "SK": {"S": "JOB#x"},
                            "GSI1PK": {"S": ELSEWHERE},
                            "GSI1SK": {"S": "2026-01-01T00:00:00+00:00#x#x"},
                        },
                        "done",
                        "done",
                        "done",
                    ]
                )
            }
        },
    ),
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


def _signed(raw: bytes, listed: str) -> str:
    """``raw`` sealed for ``listed``'s scope as the deployment seals a token (its cipher, its key)."""
    return _b64(PageTokenCodec(SIGNING_KEY)._cipher.encrypt(raw, [LISTS[listed][2].encode()]))


@pytest.fixture(autouse=True)
def _lists_with_items(table: Any) -> None:
    create_model()
    create_version(SEED_MODEL_ID, "2")
    started_job(start_inference(SEED_MODEL_ID, {"features": [0.2]}, version="1"))


def _list(listed: str, token: str):
    function, query, _, _ = LISTS[listed]
    path = {"model_id": SEED_MODEL_ID} if "model_id" in route_for(function).path_parameters else {}
    return call(function, query={**query, "next_token": token}, **path)


def _token(listed: str, key: Any) -> str:
    return _signed(json.dumps({"key": key}, separators=(",", ":")).encode(), listed)


def _log_token(cursors: list[Any]) -> str:
    return _token("list_all_jobs", {"shards": {"S": json.dumps(cursors)}})


class DynamoDbStartKeyCheck:
    """The embedded table's client, refusing a Query whose start key lies outside the queried
    partition as DynamoDB does (``ValidationException``); moto answers it instead."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def query(self, **request: Any) -> Any:
        start = request.get("ExclusiveStartKey")
        if start is not None and request["ExpressionAttributeValues"][":pk"] not in start.values():
            error = {"Code": "ValidationException", "Message": "The provided starting key is invalid"}
            raise ClientError({"Error": error}, "Query")
        return self._client.query(**request)


def test_the_forging_helper_seals_like_the_deployment():
    genuine = PageTokenCodec(SIGNING_KEY).encode("models:*", {"PK": {"S": "x"}})
    assert _signed(b'{"key":{"PK":{"S":"x"}}}', "list_models") == genuine


@pytest.mark.parametrize("listed", sorted(LISTS))
@pytest.mark.parametrize("forged", sorted(FORGED_KEYS))
def test_a_validly_signed_token_with_a_forged_key_is_a_400(listed: str, forged: str):
    assert_error(_list(listed, _token(listed, FORGED_KEYS[forged])), 400)


@pytest.mark.parametrize("listed", sorted(LISTS))
@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe",
        b"not json",
        b"[1, 2]",
        b'"models:*"',
        b"{}",
        b'{"list": "models:*"}',
        b'{"key": {}}',
        b"[" * 1_500,
        b'{"key": ' + b"[" * 1_500,
    ],
    ids=["not-utf8", "not-json", "array", "string", "empty-object", "no-key", "no-list", "deep", "deep-key"],
)
def test_a_validly_signed_token_that_is_not_a_token_is_a_400(listed: str, raw: bytes):
    assert_error(_list(listed, _signed(raw, listed)), 400)


@pytest.mark.parametrize("attribute", ["PK", "SK", "GSI1PK", "GSI1SK"], ids=lambda attribute: f"without-{attribute}")
def test_a_workspace_filtered_token_whose_key_lacks_a_key_attribute_is_a_400(attribute: str):
    key = {name: value for name, value in LISTS["list_models-workspace"][3].items() if name != attribute}

    assert_error(_list("list_models-workspace", _token("list_models-workspace", key)), 400)


@pytest.mark.parametrize(
    "cursors",
    [
        ["start", "done", "done", {"PK": {"S": "MODEL#x"}, "SK": {"S": "JOB#x"}, "GSI1PK": {"S": "JOBLOG#3"}}],
        ["start", "done", "done", {"PK": {"S": "MODEL#x"}}],
        ["start", "done", "done", "somewhere"],
        ["start", "done", "done"],
        "[" * 1_500,
    ],
    ids=["cursor-without-sort-key", "cursor-of-one-attribute", "unknown-position", "three-shards", "deep"],
)
def test_a_delivery_log_token_with_forged_shard_positions_is_a_400(cursors: Any):
    token = _token("list_all_jobs", {"shards": {"S": cursors}}) if isinstance(cursors, str) else _log_token(cursors)

    assert_error(_list("list_all_jobs", token), 400)


def _check_start_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every route's DynamoDB client checks start keys as DynamoDB does (``runtime.reset`` clears
    the client's cache, so the stand-in is cached like the client it replaces)."""
    embedded = runtime.dynamodb_client()
    monkeypatch.setattr(runtime, "dynamodb_client", functools.cache(lambda: DynamoDbStartKeyCheck(embedded)))
    runtime.reset()


@pytest.mark.parametrize("listed", sorted(LISTS))
def test_a_token_whose_key_lies_in_another_partition_is_a_400_as_dynamodb_refuses_it(
    listed: str, monkeypatch: pytest.MonkeyPatch
):
    _check_start_keys(monkeypatch)

    message = assert_error(_list(listed, _token(listed, LISTS[listed][3])), 400)

    assert "next_token" in message


def test_the_start_key_check_refuses_only_keys_outside_the_partition(monkeypatch: pytest.MonkeyPatch):
    _check_start_keys(monkeypatch)
    create_model("second")

    status, first, _ = call("list_models", query={"limit": "1"})
    assert status == 200 and first["next_token"], first
    status, second, _ = call("list_models", query={"limit": "1", "next_token": first["next_token"]})

    assert status == 200, second
    assert [model["id"] for model in first["models"] + second["models"]] == sorted([SEED_MODEL_ID, "second"])

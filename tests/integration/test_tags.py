"""Tags (SPEC part three): set and delete one key of a model or a version, with If-Match, within
limits, without cutting a version or marking a subscription stale, only in the caller's workspace."""

from __future__ import annotations

from typing import Any

import pytest

from pie_local.settings import LOCAL_TABLE_NAME
from shared.data import keys
from shared.domain.tags import MAX_TAGS
from shared.runtime import dynamodb_client
from tests.conftest import invoke
from tests.integration.api_events import (
    assert_error,
    call,
    create_model,
    create_version,
    event_for,
    make_active,
    with_claims,
)
from tests.integration.lifecycle_helpers import walk_to
from tests.integration.subscription_helpers import create_subscription

MODEL = "tagged"


def set_tag(key: str, value: Any, *, version: str | None = None, if_match: int | None = None, model: str = MODEL):
    headers = {"If-Match": f'"{if_match}"'} if if_match is not None else None
    if version is None:
        event = event_for("set_model_tag", body={"value": value}, headers=headers, model_id=model, key=key)
        return invoke("set_model_tag", event)
    event = event_for(
        "set_version_tag", body={"value": value}, headers=headers, model_id=model, model_version=version, key=key
    )
    return invoke("set_version_tag", event)


def delete_tag(key: str, *, version: str | None = None, if_match: int | None = None, model: str = MODEL):
    headers = {"If-Match": f'"{if_match}"'} if if_match is not None else None
    if version is None:
        return invoke("delete_model_tag", event_for("delete_model_tag", headers=headers, model_id=model, key=key))
    event = event_for("delete_version_tag", headers=headers, model_id=model, model_version=version, key=key)
    return invoke("delete_version_tag", event)


def model_now(model_id: str = MODEL) -> dict[str, Any]:
    status, body, _ = call("get_model", model_id=model_id)
    assert status == 200, body
    return body["model"]


def index_items(model_id: str = MODEL) -> list[str]:
    """The sort keys of the tag index items in the model's partition."""
    response = dynamodb_client().query(
        TableName=LOCAL_TABLE_NAME,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.model_partition(model_id)}},
    )
    return sorted(item["SK"]["S"] for item in response["Items"] if "TAG#" in item["SK"]["S"])


@pytest.fixture
def model(table: Any) -> str:
    create_model(MODEL, tags={"team": "pricing"})
    return MODEL


def test_tags_given_at_creation_appear_in_answers_and_are_indexed(model: str):
    assert model_now()["tags"] == {"team": "pricing"}
    created = create_version(MODEL, "2", tags={"stage": "candidate"})
    assert created["version"]["tags"] == {"stage": "candidate"}
    status, body, _ = call("get_version", model_id=MODEL, model_version="2")
    assert status == 200 and body["version"]["tags"] == {"stage": "candidate"}
    assert index_items() == sorted(["TAG#team", keys.version_tag_key(MODEL, "stage", "candidate", 2)["SK"]])


def test_setting_a_tag_bumps_entity_version_and_answers_the_model_with_its_etag(model: str):
    before = model_now()

    status, body, headers = set_tag("owner", "ana")

    assert status == 200, body
    assert body["model"]["tags"] == {"team": "pricing", "owner": "ana"}
    assert body["model"]["entity_version"] == before["entity_version"] + 1
    assert headers["ETag"] == f'"{before["entity_version"] + 1}"'
    assert model_now()["tags"] == {"team": "pricing", "owner": "ana"}


def test_a_tag_on_an_active_model_never_cuts_a_version(model: str):
    make_active(MODEL)
    before = model_now()

    assert set_tag("team", "search")[0] == 200
    assert delete_tag("team")[0] == 204

    after = model_now()
    assert after["latest_version"] == before["latest_version"] == "1"
    status, body, _ = call("list_versions", model_id=MODEL)
    assert [v["version"] for v in body["versions"]] == ["1"]


def test_a_tag_never_marks_a_subscription_stale(model: str):
    create_model("source")
    subscription = create_subscription("source", MODEL)
    assert subscription["status"] == "active"

    assert set_tag("team", "search")[0] == 200

    status, body, _ = call("get_subscription", model_id="source", subscription_id=subscription["id"])
    assert status == 200 and body["status"] == "active"


def test_if_match_makes_a_tag_change_conditional(model: str):
    current = model_now()["entity_version"]

    assert_error(set_tag("owner", "ana", if_match=current + 5), 409)
    assert_error(delete_tag("team", if_match=current + 5), 409)
    assert model_now()["tags"] == {"team": "pricing"}

    status, body, _ = set_tag("owner", "ana", if_match=current)
    assert status == 200, body
    assert delete_tag("team", if_match=current + 1)[0] == 204
    assert model_now()["tags"] == {"owner": "ana"}


def test_a_malformed_if_match_is_a_400(model: str):
    event = event_for("set_model_tag", body={"value": "x"}, headers={"If-Match": "yesterday"}, model_id=MODEL, key="k")
    assert_error(invoke("set_model_tag", event), 400)


def test_changing_a_value_moves_its_index_item_and_deleting_removes_it(model: str):
    assert set_tag("stage", "a", version="1")[0] == 200
    assert set_tag("stage", "b", version="1")[0] == 200
    assert index_items() == sorted(["TAG#team", keys.version_tag_key(MODEL, "stage", "b", 1)["SK"]])

    assert delete_tag("stage", version="1")[0] == 204
    assert delete_tag("team")[0] == 204
    assert index_items() == []


def test_a_version_tag_bumps_the_versions_entity_version_and_takes_its_if_match(model: str):
    status, body, _ = call("get_version", model_id=MODEL, model_version="1")
    current = body["version"]["entity_version"]
    model_version = body["model"]["entity_version"]

    assert_error(set_tag("stage", "x", version="1", if_match=current + 1), 409)
    status, body, headers = set_tag("stage", "x", version="1", if_match=current)

    assert status == 200, body
    assert body["version"]["tags"] == {"stage": "x"} and body["version"]["entity_version"] == current + 1
    assert headers["ETag"] == f'"{current + 1}"'
    assert body["model"]["entity_version"] == model_version  # the model is not written


def test_latest_and_an_alias_name_the_version_tagged(model: str):
    create_version(MODEL, "2")
    assert set_tag("stage", "newest", version="latest")[1]["version"]["version"] == "2"

    walk_to(MODEL, "1", "active")
    assert call("set_alias", body={"version": "1"}, model_id=MODEL, alias="champion")[0] == 200
    status, body, _ = set_tag("stage", "prod", version="@champion")
    assert status == 200 and body["version"]["version"] == "1"
    assert delete_tag("stage", version="@champion")[0] == 204
    assert_error(set_tag("stage", "x", version="@nobody"), 404)


def test_deleting_a_tag_that_is_not_there_is_a_404(model: str):
    assert "no tag 'owner'" in assert_error(delete_tag("owner"), 404)
    assert "no tag 'owner'" in assert_error(delete_tag("owner", version="1"), 404)
    assert_error(set_tag("owner", "x", model="nobody"), 404)
    assert_error(set_tag("owner", "x", version="9"), 404)


def test_at_most_fifty_tags_per_resource(model: str):
    for index in range(MAX_TAGS - 1):
        assert set_tag(f"k{index}", "v")[0] == 200
    assert len(model_now()["tags"]) == MAX_TAGS

    message = assert_error(set_tag("one-too-many", "v"), 422)

    assert str(MAX_TAGS) in message
    assert set_tag("k0", "changed")[0] == 200  # an existing key may still change
    status, body, _ = call("create_model", body={**_create_body("crowded"), "tags": {f"k{i}": "v" for i in range(51)}})
    assert_error((status, body, {}), 400)


@pytest.mark.parametrize(
    "key",
    ["", "a" * 129, "sp ace", "semi;colon", "hash#key", "new\nline", "quote'", "ümlaut", "x" * 4000],
)
def test_hostile_keys_are_a_400(model: str, key: str):
    assert_error(set_tag(key, "v"), 400)
    assert_error(delete_tag(key, version="1"), 400)


@pytest.mark.parametrize("value", ["x" * 257, 5, None, ["a"], {"a": "b"}])
def test_hostile_values_are_a_400(model: str, value: Any):
    assert_error(set_tag("k", value), 400)
    assert model_now()["tags"] == {"team": "pricing"}


def test_unicode_and_quotes_in_values_round_trip(model: str):
    value = "O'Brien — 価格 \"q\" ''"
    status, body, _ = set_tag("owner", value)
    assert status == 200 and body["model"]["tags"]["owner"] == value
    assert set_tag("owner", "x" * 256)[0] == 200
    assert set_tag("a.b-c_d", "")[1]["model"]["tags"]["a.b-c_d"] == ""


def test_a_key_with_a_slash_is_given_at_creation_and_cannot_be_named_in_a_path(table: Any):
    created = create_model("slashed", tags={"team/owner": "ana"})
    assert created["model"]["tags"] == {"team/owner": "ana"}
    status, body, _ = call("list_models", query={"filter": "tags.`team/owner` = 'ana'"})
    assert status == 200 and [model["id"] for model in body["models"]] == ["slashed"]

    assert_error(set_tag("team/owner", "bob", model="slashed"), 400)


def test_another_workspaces_model_cannot_be_tagged(model: str):
    event = with_claims(
        event_for("set_model_tag", body={"value": "x"}, model_id=MODEL, key="k"), **{"pie:workspaces": "other"}
    )
    assert_error(invoke("set_model_tag", event), 403)
    event = with_claims(
        event_for("delete_version_tag", model_id=MODEL, model_version="1", key="k"), **{"pie:workspaces": "other"}
    )
    assert_error(invoke("delete_version_tag", event), 403)
    assert model_now()["tags"] == {"team": "pricing"}


def test_tags_need_models_write(model: str):
    event = with_claims(event_for("set_model_tag", body={"value": "x"}, model_id=MODEL, key="k"), scope="models:read")
    assert_error(invoke("set_model_tag", event), 403)


def test_deleting_a_model_deletes_its_tag_items(model: str):
    assert set_tag("stage", "x", version="1")[0] == 200
    assert call("delete_model", model_id=MODEL)[0] == 204
    assert index_items() == []


def _create_body(model_id: str) -> dict[str, Any]:
    from tests.integration.api_events import sample_body

    return {**sample_body("create_model"), "id": model_id}


def test_a_model_tag_change_reports_model_updated_in_its_transaction(model: str):
    from shared.data.entities import EVENTS

    def updates() -> list[dict[str, Any]]:
        items = dynamodb_client().scan(TableName=LOCAL_TABLE_NAME)["Items"]
        found = [EVENTS.decode(item) for item in items if EVENTS.holds(item)]
        return [event.data for event in found if event.type == "model.updated"]

    assert set_tag("owner", "ana")[0] == 200
    assert delete_tag("owner")[0] == 204
    assert_error(delete_tag("owner"), 404)

    assert len(updates()) == 2
    assert all(data["model_id"] == MODEL for data in updates())

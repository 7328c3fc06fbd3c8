"""Version routes (new_version, list, get) driven by their events/ samples."""

from __future__ import annotations

from typing import Any

import pytest

from pie_local.settings import LOCAL_TABLE_NAME
from shared.data import keys
from shared.data.items import key
from tests.conftest import invoke, load_event
from tests.integration.api_events import (
    SEED_MODEL_ID,
    assert_error,
    call,
    create_model,
    create_version,
    make_active,
    sample_body,
)

pytestmark = pytest.mark.usefixtures("table")


def test_new_version_answers_201_with_the_pending_version_and_the_model(seed_model: dict[str, Any]):
    requested = sample_body("create_version")

    status, body, headers = invoke("create_version", load_event("create_version"))

    assert status == 201
    assert set(body) == {"version", "model"}
    version, model = body["version"], body["model"]
    assert version["version"] == requested["version"]
    assert version["description"] == requested["description"]
    assert version["metadata"] == requested["metadata"]
    assert version["status"] == "pending"
    assert version["handlers"] == seed_model["model"]["handlers"]
    assert model["latest_version"] == requested["version"]
    assert model["entity_version"] == seed_model["model"]["entity_version"] + 1
    assert headers["ETag"] == f'"{version["entity_version"]}"'


def test_new_version_that_already_exists_is_a_409(seed_model: dict[str, Any]):
    invoke("create_version", load_event("create_version"))

    message = assert_error(invoke("create_version", load_event("create_version")), 409)

    assert "'2'" in message
    _, model, _ = call("get_model", model_id=SEED_MODEL_ID)
    assert model["model"]["entity_version"] == seed_model["model"]["entity_version"] + 1


def test_new_version_named_like_the_first_version_is_a_409(seed_model: dict[str, Any]):
    assert_error(call("create_version", body={"version": "1"}), 409)


def test_latest_is_reserved_and_not_a_version_id(seed_model: dict[str, Any]):
    message = assert_error(call("create_version", body={"version": "latest"}), 400)
    assert "latest" in message


def test_new_version_with_an_invalid_version_id_is_a_400(seed_model: dict[str, Any]):
    assert_error(call("create_version", body={"version": "v 2/final"}), 400)


def test_new_version_of_an_unknown_model_is_a_404():
    assert_error(invoke("create_version", load_event("create_version")), 404)


def test_new_version_snapshots_the_models_current_handlers(seed_model: dict[str, Any]):
    invoke("update_model", load_event("update_model"))

    _, body, _ = invoke("create_version", load_event("create_version"))

    assert body["version"]["handler_contracts"] == sample_body("update_model")["handler_contracts"]


def test_list_versions_answers_newest_first(seed_model: dict[str, Any]):
    for version in ("2", "10", "rc-1"):
        create_version(SEED_MODEL_ID, version)

    status, body, _ = invoke("list_versions", load_event("list_versions"))

    assert status == 200
    assert set(body) == {"versions", "next_token"}
    assert [version["version"] for version in body["versions"]] == ["rc-1", "10", "2", "1"]
    assert body["next_token"] is None


def test_list_versions_pages_follow_each_other_newest_first(seed_model: dict[str, Any]):
    for version in ("2", "3", "4", "5"):
        create_version(SEED_MODEL_ID, version)

    seen: list[str] = []
    query = {"limit": "2"}
    pages = 0
    while True:
        status, body, _ = call("list_versions", model_id=SEED_MODEL_ID, query=query)
        assert status == 200, body
        pages += 1
        seen.extend(version["version"] for version in body["versions"])
        if body["next_token"] is None:
            break
        query = {"limit": "2", "next_token": body["next_token"]}

    assert seen == ["5", "4", "3", "2", "1"]
    assert pages == 3


def test_list_versions_of_an_unknown_model_is_a_404():
    assert_error(invoke("list_versions", load_event("list_versions")), 404)


def test_get_version_answers_the_version_and_its_model(seed_model: dict[str, Any]):
    create_version(SEED_MODEL_ID, "2")

    status, body, headers = invoke("get_version", load_event("get_version"))

    assert status == 200
    assert set(body) == {"version", "model"}
    assert body["version"] == seed_model["version"]
    assert body["model"]["latest_version"] == "2"
    assert headers["ETag"] == f'"{body["version"]["entity_version"]}"'


def test_get_version_latest_names_the_newest_version(seed_model: dict[str, Any]):
    create_version(SEED_MODEL_ID, "2")
    create_version(SEED_MODEL_ID, "candidate")

    status, body, _ = call("get_version", model_id=SEED_MODEL_ID, model_version="latest")

    assert status == 200
    assert body["version"]["version"] == "candidate"
    assert body["model"]["id"] == SEED_MODEL_ID


def test_get_version_latest_of_a_new_model_is_version_1(seed_model: dict[str, Any]):
    _, body, _ = call("get_version", model_id=SEED_MODEL_ID, model_version="latest")
    assert body["version"] == seed_model["version"]


def test_get_version_that_does_not_exist_is_a_404_naming_it(seed_model: dict[str, Any]):
    message = assert_error(call("get_version", model_id=SEED_MODEL_ID, model_version="9"), 404)
    assert "'9'" in message


def test_get_version_of_an_unknown_model_is_a_404_for_the_model():
    message = assert_error(invoke("get_version", load_event("get_version")), 404)
    assert "model" in message and SEED_MODEL_ID in message


def test_get_version_latest_of_an_unknown_model_is_a_404():
    assert_error(call("get_version", model_id="model_missing", model_version="latest"), 404)


def test_versions_of_one_model_are_not_listed_under_another():
    create_model("model_a")
    create_model("model_b")
    create_version("model_a", "2")

    _, body, _ = call("list_versions", model_id="model_b")

    assert [(version["model_id"], version["version"]) for version in body["versions"]] == [("model_b", "1")]


# Numeric versions at the edge of the pattern ------------------------------------------------------

LARGEST_NUMERIC_VERSION = "9" * 64  # the version pattern allows 64 characters, all digits
DYNAMODB_NUMBER_DIGITS = 38


def test_a_64_digit_numeric_version_is_created_without_overflowing_a_dynamodb_number(
    seed_model: dict[str, Any], table: Any
):
    """DynamoDB numbers hold at most 38 significant digits (moto does not enforce it): a longer
    number attribute would make this valid request a 500 on a real table."""
    create_version(SEED_MODEL_ID, LARGEST_NUMERIC_VERSION)

    item = table.get_item(TableName=LOCAL_TABLE_NAME, Key=key(keys.model_key(SEED_MODEL_ID)), ConsistentRead=True)[
        "Item"
    ]
    numbers = {name: value["N"] for name, value in item.items() if "N" in value}
    too_long = {name: value for name, value in numbers.items() if len(value.lstrip("-0")) > DYNAMODB_NUMBER_DIGITS}
    assert not too_long, f"number attributes DynamoDB would reject: {too_long}"


def test_updating_an_active_model_after_the_largest_numeric_version_is_a_422_that_changes_nothing(
    seed_model: dict[str, Any],
):
    """The next integer after 10^64 - 1 has 65 digits, one more than a version id may have."""
    create_version(SEED_MODEL_ID, LARGEST_NUMERIC_VERSION)
    make_active(SEED_MODEL_ID)
    _, before, _ = call("get_model", model_id=SEED_MODEL_ID)

    message = assert_error(invoke("update_model", load_event("update_model")), 422)

    assert "64 digits" in message
    _, after, _ = call("get_model", model_id=SEED_MODEL_ID)
    assert after == before


def test_a_numeric_version_with_leading_zeros_counts_as_its_number(seed_model: dict[str, Any]):
    create_version(SEED_MODEL_ID, "007")
    make_active(SEED_MODEL_ID)

    _, body, _ = invoke("update_model", load_event("update_model"))

    assert body["version"]["version"] == "8"

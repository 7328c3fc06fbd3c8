"""Model routes (create, get, list, update, delete) driven by their events/ samples."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pie_local.settings import LOCAL_HANDLER_ALLOW_LIST, LOCAL_TABLE_NAME
from shared import runtime
from shared.data import keys
from tests.conftest import invoke, load_event
from tests.integration.api_events import (
    SEED_MODEL_ID,
    assert_error,
    call,
    create_model,
    create_version,
    make_active,
    sample_body,
    with_claims,
)

pytestmark = pytest.mark.usefixtures("table")

SUBJECT = load_event("create_model")["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]


# Create -----------------------------------------------------------------------------------------


def test_create_model_from_the_sample_event_answers_201_with_the_model_and_pending_version_1():
    status, body, headers = invoke("create_model", load_event("create_model"))

    assert status == 201
    assert set(body) == {"model", "version"}
    model, version = body["model"], body["version"]
    assert model["id"] == SEED_MODEL_ID
    assert model["name"] == "Price recommendation"
    assert model["metadata"] == {"team": "pricing"}
    assert model["handlers"]["training"] == {
        "type": "lambda",
        "arn": "arn:aws:lambda:us-west-2:123456789012:function:train",
        "version": "1",
    }
    assert model["handlers"]["inference"] == {
        "type": "lambda",
        "arn": "arn:aws:lambda:us-west-2:123456789012:function:infer",
    }
    assert model["status"] == "pending"
    assert model["latest_version"] == "1"
    assert model["active_version"] is None
    assert model["entity_version"] == 1
    assert model["created_by"] == SUBJECT
    assert version["version"] == "1"
    assert version["status"] == "pending"
    assert version["model_id"] == SEED_MODEL_ID
    assert version["handlers"] == model["handlers"]
    assert [entry["status"] for entry in version["status_history"]] == ["pending"]
    assert headers["ETag"] == '"1"'


def test_creating_a_model_whose_id_exists_is_a_409(seed_model: dict[str, Any]):
    message = assert_error(invoke("create_model", load_event("create_model")), 409)
    assert SEED_MODEL_ID in message


def test_create_model_accepts_ecs_and_in_process_handlers_inside_the_allow_list():
    handlers = {
        "training": {"type": "ecs", "task": "ml-cluster/train-price-model:3"},
        "inference": {"type": "in_process", "implementation": "echo"},
    }
    body = create_model("model_mixed", handlers=handlers)
    assert body["model"]["handlers"] == handlers


@pytest.mark.parametrize(
    "handler",
    [
        {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:999999999999:function:train"},
        {"type": "lambda", "arn": "arn:aws:lambda:ap-south-1:123456789012:function:train"},
        {"type": "ecs", "task": "someone-elses-cluster/train"},
        {"type": "in_process", "implementation": "not_registered"},
    ],
    ids=["lambda-account", "lambda-region", "ecs-cluster", "unknown-in-process"],
)
def test_create_model_with_a_handler_outside_the_allow_list_is_a_422(handler: dict[str, Any]):
    body = sample_body("create_model")
    body["handlers"]["inference"] = handler

    assert_error(call("create_model", body=body), 422)
    assert_error(call("get_model", model_id=SEED_MODEL_ID), 404)


def test_an_ecs_task_family_outside_the_allowed_prefixes_is_a_422(monkeypatch: pytest.MonkeyPatch):
    allow_list = {**LOCAL_HANDLER_ALLOW_LIST, "ecs_task_family_prefixes": ["train-"]}
    monkeypatch.setenv("PIE_HANDLER_ALLOW_LIST", json.dumps(allow_list))
    runtime.reset()
    body = sample_body("create_model")
    body["handlers"]["inference"] = {"type": "ecs", "task": "ml-cluster/mine-bitcoin:1"}

    message = assert_error(call("create_model", body=body), 422)

    assert "mine-bitcoin" in message
    assert_error(call("get_model", model_id=SEED_MODEL_ID), 404)
    body["handlers"]["inference"] = {"type": "ecs", "task": "ml-cluster/train-price-model:3"}
    assert call("create_model", body=body)[0] == 201


def test_create_model_with_an_invalid_json_schema_contract_is_a_400():
    body = sample_body("create_model")
    body["handler_contracts"] = {"inference": {"input_schema": {"type": "nope"}}}

    message = assert_error(call("create_model", body=body), 400)
    assert "JSON Schema" in message


def test_create_model_stores_valid_contracts():
    contracts = sample_body("update_model")["handler_contracts"]
    body = create_model(handler_contracts=contracts)
    assert body["model"]["handler_contracts"] == contracts
    assert body["version"]["handler_contracts"] == contracts


# Get --------------------------------------------------------------------------------------------


def test_get_model_answers_the_model_wrapped_with_its_etag(seed_model: dict[str, Any]):
    status, body, headers = invoke("get_model", load_event("get_model"))

    assert status == 200
    assert body == {"model": seed_model["model"]}
    assert headers["ETag"] == '"1"'


def test_get_model_of_an_unknown_id_is_a_404():
    message = assert_error(invoke("get_model", load_event("get_model")), 404)
    assert SEED_MODEL_ID in message


# List -------------------------------------------------------------------------------------------


def test_list_models_answers_models_by_id_and_a_null_next_token():
    for model_id in ("model_c", "model_a", "model_b"):
        create_model(model_id)

    status, body, _ = invoke("list_models", load_event("list_models"))

    assert status == 200
    assert set(body) == {"models", "next_token"}
    assert [model["id"] for model in body["models"]] == ["model_a", "model_b", "model_c"]
    assert body["next_token"] is None


def test_list_models_of_an_empty_registry_is_an_empty_page():
    status, body, _ = invoke("list_models", load_event("list_models"))
    assert (status, body) == (200, {"models": [], "next_token": None})


def test_list_models_filters_by_status():
    for model_id in ("model_a", "model_b", "model_c"):
        create_model(model_id)
    make_active("model_b")

    _, active, _ = call("list_models", query={"status": "active"})
    _, pending, _ = call("list_models", query={"status": "pending", "limit": "10"})

    assert [model["id"] for model in active["models"]] == ["model_b"]
    assert [model["status"] for model in active["models"]] == ["active"]
    assert [model["id"] for model in pending["models"]] == ["model_a", "model_c"]


def test_list_models_honours_scopes_matched_by_the_authorizer_without_a_scope_claim():
    event = with_claims(load_event("list_models"), scope=None)
    event["requestContext"]["authorizer"]["jwt"]["scopes"] = ["models:read"]

    status, body, _ = invoke("list_models", event)

    assert status == 200, body


def test_list_models_with_an_unknown_status_is_a_400():
    assert_error(call("list_models", query={"status": "archived"}), 400)


# Update -----------------------------------------------------------------------------------------


def test_updating_a_pending_model_cuts_no_version_and_answers_its_latest_version(
    seed_model: dict[str, Any],
):
    update = sample_body("update_model")

    status, body, headers = invoke("update_model", load_event("update_model"))

    assert status == 200
    assert set(body) == {"model", "version"}
    model = body["model"]
    assert model["description"] == update["description"]
    assert model["handler_contracts"] == update["handler_contracts"]
    assert model["status"] == "pending"
    assert model["latest_version"] == "1"
    assert model["entity_version"] == 2
    assert model["created_at"] == seed_model["model"]["created_at"]
    assert body["version"]["version"] == "1"
    assert headers["ETag"] == '"2"'
    _, versions, _ = call("list_versions", model_id=SEED_MODEL_ID)
    assert [version["version"] for version in versions["versions"]] == ["1"]


def test_updating_an_active_model_cuts_the_next_integer_version_as_pending(
    seed_model: dict[str, Any],
):
    make_active(SEED_MODEL_ID)

    status, body, headers = invoke("update_model", load_event("update_model"))

    assert status == 200
    assert body["version"]["version"] == "2"
    assert body["version"]["status"] == "pending"
    assert body["version"]["handler_contracts"] == sample_body("update_model")["handler_contracts"]
    assert body["model"]["latest_version"] == "2"
    assert body["model"]["status"] == "active"
    assert headers["ETag"] == f'"{body["model"]["entity_version"]}"'
    _, latest, _ = call("get_version", model_id=SEED_MODEL_ID, model_version="latest")
    assert latest["version"]["version"] == "2"
    _, versions, _ = call("list_versions", model_id=SEED_MODEL_ID)
    assert [version["version"] for version in versions["versions"]] == ["2", "1"]


def test_the_generated_version_follows_the_highest_numeric_version_not_the_latest_one(
    seed_model: dict[str, Any],
):
    create_version(SEED_MODEL_ID, "7")
    create_version(SEED_MODEL_ID, "rc-1")
    make_active(SEED_MODEL_ID)

    status, body, _ = invoke("update_model", load_event("update_model"))

    assert status == 200
    assert body["version"]["version"] == "8"


def test_update_with_a_stale_if_match_is_a_409_naming_the_current_entity_version(
    seed_model: dict[str, Any],
):
    response = call("update_model", headers={"If-Match": '"7"'})

    message = assert_error(response, 409)
    assert "entity_version 1" in message
    _, unchanged, _ = call("get_model", model_id=SEED_MODEL_ID)
    assert unchanged["model"]["entity_version"] == 1


@pytest.mark.parametrize("if_match", ["1", '"1"', 'W/"1"'])
def test_update_with_the_current_if_match_succeeds(seed_model: dict[str, Any], if_match: str):
    status, body, headers = call("update_model", headers={"If-Match": if_match})

    assert status == 200
    assert body["model"]["entity_version"] == 2
    assert headers["ETag"] == '"2"'


def test_a_new_version_with_a_stale_if_match_is_a_409_and_writes_nothing(seed_model: dict[str, Any]):
    response = call("create_version", model_id=SEED_MODEL_ID, headers={"If-Match": '"99"'})

    message = assert_error(response, 409)
    assert "entity_version 1" in message
    _, model, headers = call("get_model", model_id=SEED_MODEL_ID)
    assert (model["model"]["entity_version"], model["model"]["latest_version"], headers["ETag"]) == (1, "1", '"1"')
    assert_error(call("get_version", model_id=SEED_MODEL_ID, model_version="2"), 404)


def test_a_new_version_with_the_models_if_match_is_cut(seed_model: dict[str, Any]):
    status, body, headers = call("create_version", model_id=SEED_MODEL_ID, headers={"If-Match": '"1"'})

    assert status == 201, body
    assert (body["model"]["entity_version"], headers["ETag"]) == (2, f'"{body["version"]["entity_version"]}"')


def test_update_with_an_unparseable_if_match_is_a_400(seed_model: dict[str, Any]):
    assert_error(call("update_model", headers={"If-Match": "yesterday"}), 400)


def test_updating_an_unknown_model_is_a_404():
    assert_error(invoke("update_model", load_event("update_model")), 404)


def test_update_with_a_handler_outside_the_allow_list_is_a_422_and_changes_nothing(
    seed_model: dict[str, Any],
):
    body = sample_body("update_model")
    body["handlers"]["training"] = {
        "type": "lambda",
        "arn": "arn:aws:lambda:us-west-2:999999999999:function:train",
    }

    assert_error(call("update_model", body=body), 422)
    _, current, _ = call("get_model", model_id=SEED_MODEL_ID)
    assert current["model"] == seed_model["model"]


def test_update_missing_a_required_field_is_a_400(seed_model: dict[str, Any]):
    body = sample_body("update_model")
    del body["metadata"]
    message = assert_error(call("update_model", body=body), 400)
    assert "metadata" in message


# Delete -----------------------------------------------------------------------------------------


def test_delete_model_answers_204_and_removes_the_model_and_all_its_versions(seed_model: dict[str, Any], table: Any):
    create_version(SEED_MODEL_ID, "2")

    status, body, _ = invoke("delete_model", load_event("delete_model"))

    assert (status, body) == (204, None)
    assert_error(invoke("get_model", load_event("get_model")), 404)
    assert_error(invoke("get_version", load_event("get_version")), 404)
    assert_error(invoke("list_versions", load_event("list_versions")), 404)
    remaining = table.query(
        TableName=LOCAL_TABLE_NAME,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.model_partition(SEED_MODEL_ID)}},
    )
    assert remaining["Items"] == []
    _, listed, _ = invoke("list_models", load_event("list_models"))
    assert listed["models"] == []


def test_delete_removes_more_versions_than_one_batch_write_holds(seed_model: dict[str, Any]):
    for number in range(2, 32):
        create_version(SEED_MODEL_ID, str(number))

    status, _, _ = invoke("delete_model", load_event("delete_model"))

    assert status == 204
    for version in ("1", "16", "31"):
        assert_error(call("get_version", model_id=SEED_MODEL_ID, model_version=version), 404)
    invoke("create_model", load_event("create_model"))
    _, versions, _ = call("list_versions", model_id=SEED_MODEL_ID)
    assert [version["version"] for version in versions["versions"]] == ["1"]


def test_deleting_an_unknown_model_is_a_404():
    assert_error(invoke("delete_model", load_event("delete_model")), 404)


def test_a_deleted_model_id_can_be_created_again(seed_model: dict[str, Any]):
    invoke("delete_model", load_event("delete_model"))

    status, body, _ = invoke("create_model", load_event("create_model"))

    assert status == 201
    assert body["model"]["latest_version"] == "1"


# Bodies at the edges ------------------------------------------------------------------------------


def test_a_model_too_large_to_store_is_a_400_naming_the_limit():
    body = {**sample_body("create_model"), "metadata": {"blob": "x" * 390_000}}

    message = assert_error(call("create_model", body=body), 400)

    assert "limit" in message
    assert_error(call("get_model", model_id=SEED_MODEL_ID), 404)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_non_finite_number_in_metadata_is_a_400_not_silently_stored_as_null(number: str):
    """NaN and Infinity are not JSON (RFC 8259) and 1e400 does not fit a double: the registry must
    refuse them rather than store ``null`` in place of what the caller sent."""
    template = json.dumps({**sample_body("create_model"), "metadata": {"score": "NUMBER"}})
    body = template.replace('"NUMBER"', number)

    status, response, _ = call("create_model", raw_body=body)

    assert status == 400, f"accepted {number} and stored metadata {response['model']['metadata']}"
    assert_error((status, response, {}), 400)

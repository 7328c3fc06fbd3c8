"""The event-subscription routes (seed 003): create, read, list, update, delete, and what each
refuses. The subscription is answered as itself, not wrapped, and the path's model is its source."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.integration.api_events import assert_error, call, create_model
from tests.integration.subscription_helpers import (
    create_subscription,
    create_subscription_call,
    dry_run,
    get_subscription,
    subscription_body,
    update_subscription,
    update_subscription_call,
    whole_table,
)

SUBSCRIPTION_FIELDS = {
    "id",
    "source_model_id",
    "trigger_event",
    "target_model_id",
    "target_action",
    "input_source",
    "input",
    "label",
    "status",
    "created_at",
    "updated_at",
}


@pytest.fixture
def models(table: Any) -> Any:
    """Source ``a`` and target ``b``, neither with contracts."""
    create_model("a")
    create_model("b")
    return table


# Create -------------------------------------------------------------------------------------------


def test_create_answers_201_with_the_subscription_itself(models):
    status, body, headers = create_subscription_call(
        "a", "b", input={"features": [0.2, 0.4]}, label="refresh b after a retrains"
    )

    assert status == 201, body
    assert SUBSCRIPTION_FIELDS <= set(body)
    assert "warnings" not in body  # omitted when there are none
    assert "subscription" not in body
    assert uuid.UUID(body["id"])
    assert body["source_model_id"] == "a"
    assert body["target_model_id"] == "b"
    assert body["trigger_event"] == "training_complete"
    assert body["target_action"] == "inference"
    assert body["input_source"] == "stored"
    assert body["input"] == {"features": [0.2, 0.4]}
    assert body["label"] == "refresh b after a retrains"
    assert body["status"] == "active"
    assert body["created_at"] == body["updated_at"]
    assert headers.get("ETag")


def test_the_path_model_is_the_source_whatever_the_body_says(models):
    status, body, _ = call("create_subscription", body={**subscription_body("b"), "source_model_id": "b"}, model_id="a")

    assert_error((status, body, {}), 400)  # the source is not a body field


def test_a_created_subscription_reads_back_as_created(models):
    created = create_subscription("a", "b", label=None)

    assert get_subscription("a", created["id"]) == created
    assert created["label"] is None


def test_trigger_output_subscriptions_need_no_input(models):
    created = create_subscription(
        "a",
        "b",
        input_source="trigger_output",
        input=None,
        trigger_event="inference_complete",
        target_action="training",
    )

    assert created["input_source"] == "trigger_output"
    assert created["input"] is None
    assert created["trigger_event"] == "inference_complete"
    assert created["target_action"] == "training"


def test_a_trigger_output_subscription_created_with_an_input_is_400(models):
    """The input would be silently dropped (its input comes from the trigger); the update route
    already refuses it, and PIE's requests refuse what they would otherwise ignore."""
    before = whole_table(models)

    message = assert_error(
        create_subscription_call("a", "b", input_source="trigger_output", input={"features": [1]}), 400
    )

    assert "input" in message
    assert whole_table(models) == before


def test_a_model_may_subscribe_to_itself(models):
    created = create_subscription("a", "a")

    assert created["source_model_id"] == created["target_model_id"] == "a"


def test_an_unknown_target_model_is_422_and_writes_nothing(models):
    before = whole_table(models)

    message = assert_error(create_subscription_call("a", "no_such_model"), 422)

    assert "no_such_model" in message
    assert whole_table(models) == before


def test_an_unknown_source_model_is_404(models):
    message = assert_error(create_subscription_call("no_such_model", "b"), 404)

    assert "no_such_model" in message


def test_a_stored_subscription_without_input_is_400(models):
    message = assert_error(create_subscription_call("a", "b", input=None), 400)

    assert "input" in message


MALFORMED_CREATE_CHANGES: list[dict[str, Any]] = [
    {"trigger_event": "deployment_complete"},
    {"target_action": "evaluation"},
    {"input_source": "somewhere"},
    {"input": ["not", "an", "object"]},
    {"target_model_id": "-not a model id"},
    {"label": "x" * 257},
    {"status": "paused"},  # not a create field
    {"unexpected": True},
]


def test_a_malformed_create_body_is_400_and_writes_nothing(models):
    before = whole_table(models)

    for changes in MALFORMED_CREATE_CHANGES:
        status, body, _ = create_subscription_call("a", "b", **changes)
        assert (status, body["success"]) == (400, False), (changes, body)

    assert whole_table(models) == before


def test_a_create_body_that_is_not_json_is_400(models):
    assert_error(call("create_subscription", raw_body="{not json", model_id="a"), 400)


# Read, update and delete refuse what they cannot find -------------------------------------------------

SINGLE_SUBSCRIPTION_ROUTES = ["get_subscription", "update_subscription", "delete_subscription", "test_subscription"]


def _call_single(function: str, source: str, subscription_id: str):
    body = {"label": "x"} if function == "update_subscription" else None
    if function == "test_subscription":
        return dry_run(source, subscription_id)
    return call(function, body=body, model_id=source, subscription_id=subscription_id)


def test_a_subscription_id_that_is_not_a_uuid_is_400(models):
    for function in SINGLE_SUBSCRIPTION_ROUTES:
        for subscription_id in ("not-a-uuid", "6ba7b811-9dad-11d1-80b4-00c04fd430c", "1" * 36):
            status, body, _ = _call_single(function, "a", subscription_id)
            assert status == 400, (function, subscription_id, body)


def test_an_unknown_subscription_is_404(models):
    for function in SINGLE_SUBSCRIPTION_ROUTES:
        status, body, _ = _call_single(function, "a", str(uuid.uuid4()))
        assert (status, body["success"]) == (404, False), (function, body)


def test_a_subscription_read_through_another_models_path_is_404(models):
    """b's subscription exists, but not under a's path — nor under its target's path."""
    of_b = create_subscription("b", "a")
    before = whole_table(models)

    for function in SINGLE_SUBSCRIPTION_ROUTES:
        status, body, _ = _call_single(function, "a", of_b["id"])
        assert (status, body["success"]) == (404, False), (function, body)

    assert whole_table(models) == before
    assert get_subscription("b", of_b["id"]) == of_b


# Update (seed 003: {input?, label?, status?}) -------------------------------------------------------


def test_update_answers_the_updated_subscription_itself(models):
    created = create_subscription("a", "b", label="before")

    status, body, headers = update_subscription_call(
        "a", created["id"], {"input": {"features": [9]}, "label": "after", "status": "paused"}
    )

    assert status == 200, body
    assert SUBSCRIPTION_FIELDS <= set(body)
    assert "warnings" not in body
    assert body["input"] == {"features": [9]}
    assert body["label"] == "after"
    assert body["status"] == "paused"
    assert body["id"] == created["id"]
    assert body["created_at"] == created["created_at"]
    assert body["updated_at"] >= created["updated_at"]
    assert headers.get("ETag") and headers["ETag"] != ""
    assert get_subscription("a", created["id"]) == body


def test_omitted_fields_are_left_unchanged(models):
    created = create_subscription("a", "b", label="keep me", input={"features": [1]})

    updated = update_subscription("a", created["id"], status="paused")

    assert updated["label"] == "keep me"
    assert updated["input"] == {"features": [1]}
    unchanged = update_subscription("a", created["id"])
    assert {k: unchanged[k] for k in ("label", "input", "status")} == {
        "label": "keep me",
        "input": {"features": [1]},
        "status": "paused",
    }


def test_label_can_be_cleared_with_null(models):
    created = create_subscription("a", "b", label="temporary")

    updated = update_subscription("a", created["id"], label=None)

    assert updated["label"] is None
    assert get_subscription("a", created["id"])["label"] is None


def test_every_status_can_be_set(models):
    created = create_subscription("a", "b")

    for status in ("paused", "stale", "active", "paused"):
        assert update_subscription("a", created["id"], status=status)["status"] == status


def test_the_etag_follows_each_update(models):
    created = create_subscription("a", "b")
    _, _, first = call("get_subscription", model_id="a", subscription_id=created["id"])

    update_subscription("a", created["id"], label="changed")
    _, _, second = call("get_subscription", model_id="a", subscription_id=created["id"])

    assert first["ETag"] != second["ETag"]


MALFORMED_UPDATES: list[dict[str, Any]] = [
    {"status": "deleted"},
    {"input": "not an object"},
    {"label": 7},
    {"label": "x" * 257},
    {"target_model_id": "b"},
    {"trigger_event": "inference_complete"},
]


def test_a_malformed_update_is_400_and_changes_nothing(models):
    created = create_subscription("a", "b")

    for body in MALFORMED_UPDATES:
        status, response, _ = update_subscription_call("a", created["id"], body)
        assert (status, response["success"]) == (400, False), (body, response)

    assert get_subscription("a", created["id"]) == created


def test_a_stored_subscription_cannot_lose_its_input(models):
    created = create_subscription("a", "b")

    message = assert_error(update_subscription_call("a", created["id"], {"input": None}), 422)

    assert "input" in message
    assert get_subscription("a", created["id"]) == created


def test_a_trigger_output_subscription_takes_no_stored_input(models):
    created = create_subscription("a", "b", input_source="trigger_output", input=None)

    assert_error(update_subscription_call("a", created["id"], {"input": {"features": [1]}}), 422)

    assert get_subscription("a", created["id"]) == created


# Delete ---------------------------------------------------------------------------------------------


def test_delete_answers_204_then_the_subscription_is_gone(models):
    created = create_subscription("a", "b")
    kept = create_subscription("a", "b")

    status, body, _ = call("delete_subscription", model_id="a", subscription_id=created["id"])

    assert status == 204
    assert body is None
    assert_error(call("get_subscription", model_id="a", subscription_id=created["id"]), 404)
    assert_error(call("delete_subscription", model_id="a", subscription_id=created["id"]), 404)
    _, listed, _ = call("list_subscriptions", model_id="a")
    assert [s["id"] for s in listed["subscriptions"]] == [kept["id"]]


# List -----------------------------------------------------------------------------------------------


def test_list_pages_through_every_subscription_of_the_source_once(models):
    created = {create_subscription("a", "b", label=f"n{n}")["id"] for n in range(5)}
    create_subscription("b", "a")  # targets a: not one of a's subscriptions

    seen: list[str] = []
    token = None
    pages = 0
    while True:
        query = {"limit": "2", **({"next_token": token} if token else {})}
        status, body, _ = call("list_subscriptions", model_id="a", query=query)
        assert status == 200, body
        assert set(body) == {"subscriptions", "next_token"}
        assert len(body["subscriptions"]) <= 2
        assert all("warnings" not in s for s in body["subscriptions"])
        seen += [s["id"] for s in body["subscriptions"]]
        pages += 1
        token = body["next_token"]
        if token is None:
            break

    assert sorted(seen) == sorted(created)
    assert len(seen) == len(set(seen))
    assert pages == 3


def test_a_listed_subscription_equals_the_one_read(models):
    created = create_subscription("a", "b", label="same")

    _, body, _ = call("list_subscriptions", model_id="a")

    assert body == {"subscriptions": [get_subscription("a", created["id"])], "next_token": None}


def test_a_model_without_subscriptions_lists_none(models):
    status, body, _ = call("list_subscriptions", model_id="a", query={})

    assert status == 200
    assert body == {"subscriptions": [], "next_token": None}


def test_listing_an_unknown_model_is_404(models):
    assert_error(call("list_subscriptions", model_id="no_such_model"), 404)


def test_a_limit_out_of_range_is_400(models):
    for limit in ("0", "101", "-1", "ten"):
        assert_error(call("list_subscriptions", model_id="a", query={"limit": limit}), 400)


def test_a_tampered_or_foreign_next_token_is_400(models):
    for _ in range(3):
        create_subscription("a", "b")
        create_subscription("b", "a")
    _, page, _ = call("list_subscriptions", model_id="a", query={"limit": "1"})
    token = page["next_token"]
    assert token

    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert_error(call("list_subscriptions", model_id="a", query={"limit": "1", "next_token": tampered}), 400)
    assert_error(call("list_subscriptions", model_id="b", query={"limit": "1", "next_token": token}), 400)


# If-Match (SPEC "Across routes": If-Match on PUT makes the write conditional) ---------------------------


def _conditional_update(subscription_id: str, body: dict[str, Any], if_match: str):
    return call(
        "update_subscription", body=body, headers={"If-Match": if_match}, model_id="a", subscription_id=subscription_id
    )


def test_if_match_makes_an_update_conditional(models):
    created = create_subscription("a", "b", label="first")
    _, _, read = call("get_subscription", model_id="a", subscription_id=created["id"])
    etag = read["ETag"]

    status, body, headers = _conditional_update(created["id"], {"label": "second"}, etag)
    assert status == 200, body
    assert body["label"] == "second"
    assert headers["ETag"] != etag

    message = assert_error(_conditional_update(created["id"], {"label": "third"}, etag), 409)
    assert "entity_version" in message
    assert get_subscription("a", created["id"])["label"] == "second"


def test_an_if_match_that_is_not_an_entity_version_is_400(models):
    created = create_subscription("a", "b")

    assert_error(_conditional_update(created["id"], {"label": "x"}, "yesterday"), 400)
    assert get_subscription("a", created["id"]) == created

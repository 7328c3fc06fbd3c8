"""Idempotency-Key on POST routes: replays return the first response and write nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import invoke
from tests.integration.api_events import assert_error, call, create_model, event_for, sample_body, with_claims
from tests.integration.lifecycle_helpers import set_status

pytestmark = pytest.mark.usefixtures("table")


def item_count(client: Any) -> int:
    return client.scan(TableName="pie-local", Select="COUNT")["Count"]


def create(key: str, **changes: Any):
    return call("create_model", body={**sample_body("create_model"), **changes}, headers={"Idempotency-Key": key})


def test_a_replay_returns_the_first_response_and_writes_nothing(table):
    status, first, headers = create("key-1")
    assert status == 201
    items_after_first = item_count(table)

    status, replay, replay_headers = create("key-1")

    assert status == 201
    assert replay == first
    assert replay_headers["ETag"] == headers["ETag"]
    assert replay_headers["Idempotent-Replayed"] == "true"
    assert item_count(table) == items_after_first


def test_without_a_key_a_repeat_runs_again():
    assert create_model("m")
    assert_error(call("create_model", body={**sample_body("create_model"), "id": "m"}), 409)


def test_the_same_key_with_another_body_is_a_422_and_changes_nothing(table):
    create("key-1")
    items = item_count(table)

    message = assert_error(create("key-1", id="other_model"), 422)

    assert "Idempotency-Key" in message
    assert item_count(table) == items
    assert_error(call("get_model", model_id="other_model"), 404)


def test_reusing_a_key_on_another_route_is_a_422():
    create("shared-key")
    response = call(
        "create_version",
        body={"version": "2"},
        headers={"Idempotency-Key": "shared-key"},
        model_id=sample_body("create_model")["id"],
    )
    assert_error(response, 422)


def test_keys_are_per_caller():
    create("key-1")
    event = with_claims(
        event_for("create_model", body=sample_body("create_model"), headers={"Idempotency-Key": "key-1"}),
        sub="someone-else",
    )
    assert_error(invoke("create_model", event), 409)  # ran again for the other caller: the id exists


def test_a_refused_request_is_not_remembered():
    unknown = {"type": "in_process", "implementation": "nope"}
    body = {**sample_body("create_model"), "handlers": {"training": unknown, "inference": unknown}}
    assert_error(call("create_model", body=body, headers={"Idempotency-Key": "k"}), 422)

    status, _, _ = create("k")

    assert status == 201


def test_new_status_replay_does_not_fire_twice(table):
    create_model("a")
    set_status("a", "1", "training")

    first = set_status("a", "1", "active", headers={"Idempotency-Key": "activate-1"})
    replay = set_status("a", "1", "active", headers={"Idempotency-Key": "activate-1"})

    assert first[0] == replay[0] == 200
    assert replay[1] == first[1]


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "ümlaut"])
def test_a_malformed_key_is_a_400(key: str):
    assert_error(create(key), 400)

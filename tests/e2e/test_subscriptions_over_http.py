"""Event subscriptions over HTTP, through ``pie-local serve``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.client import Api, assert_error
from tests.e2e.documents import model_document, unique_id

pytestmark = pytest.mark.e2e


@pytest.fixture
def target_id(api: Api) -> str:
    created = unique_id("target")
    assert api.post("/v2/models", model_document(created)).status == 201
    return created


def _subscription(target_id: str, **overrides: Any) -> dict[str, Any]:
    document = {
        "trigger_event": "training_complete",
        "target_model_id": target_id,
        "target_action": "training",
        "input_source": "stored",
        "input": {"dataset": "s3://bucket/prices.csv"},
        "label": "retrain downstream",
    }
    document.update(overrides)
    return document


def test_a_subscription_is_created_listed_read_updated_tried_and_deleted(api: Api, model_id: str, target_id: str):
    collection = f"/v2/models/{model_id}/event-subscriptions"

    created = api.post(collection, _subscription(target_id))
    assert created.status == 201, created.body
    subscription = created.json
    assert subscription["source_model_id"] == model_id
    assert subscription["target_model_id"] == target_id
    assert subscription["status"] == "active"
    one = f"{collection}/{subscription['id']}"

    listed = api.get(f"{collection}?limit=10")
    assert listed.status == 200
    assert [s["id"] for s in listed.json["subscriptions"]] == [subscription["id"]]
    assert listed.json["next_token"] is None

    read = api.get(one)
    assert read.status == 200
    assert read.json["label"] == "retrain downstream"

    updated = api.put(one, {"label": "nightly", "status": "paused"})
    assert updated.status == 200, updated.body
    assert updated.json["label"] == "nightly"
    assert updated.json["status"] == "paused"

    paused_dry_run = api.post(f"{one}/test")
    assert paused_dry_run.status == 200, paused_dry_run.body
    assert paused_dry_run.json["would_fire"] is False

    assert api.put(one, {"status": "active"}).status == 200
    dry_run = api.post(f"{one}/test", {})
    assert dry_run.status == 200, dry_run.body
    assert dry_run.json["would_fire"] is True
    assert dry_run.json["job"]["model_id"] == target_id
    assert dry_run.json["job"]["action"] == "training"
    assert dry_run.json["job"]["input"] == {"dataset": "s3://bucket/prices.csv"}

    deleted = api.delete(one)
    assert deleted.status == 204
    assert_error(api.get(one), 404)


def test_a_subscription_to_an_unknown_target_is_a_422(api: Api, model_id: str):
    reply = api.post(f"/v2/models/{model_id}/event-subscriptions", _subscription(unique_id("ghost")))

    assert_error(reply, 422)


def test_a_stored_subscription_without_input_is_a_400(api: Api, model_id: str, target_id: str):
    document = _subscription(target_id)
    del document["input"]

    reply = api.post(f"/v2/models/{model_id}/event-subscriptions", document)

    assert_error(reply, 400)

"""An id followed by an encoded newline (``%0a``) names no resource, over HTTP through ``pie-local
serve``: Python's ``$`` also matches before a final newline, so ``PUT /v2/models/fz%0a`` once changed
model ``fz``. Each such path is a 400 naming the parameter, and the real resource is untouched."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.client import Api, assert_error
from tests.e2e.documents import model_document, unique_id

pytestmark = pytest.mark.e2e

NEWLINES = ["%0a", "%0A", "%0d%0a", "%0d"]


@pytest.fixture
def subscription(api: Api, model_id: str) -> dict[str, Any]:
    target = unique_id("target")
    assert api.post("/v2/models", model_document(target)).status == 201
    document = {
        "trigger_event": "training_complete",
        "target_model_id": target,
        "target_action": "training",
        "input_source": "stored",
        "input": {"dataset": "s3://bucket/prices.csv"},
    }
    created = api.post(f"/v2/models/{model_id}/event-subscriptions", document)
    assert created.status == 201, created.body
    return created.json


@pytest.mark.parametrize("newline", NEWLINES)
def test_updating_a_model_id_with_a_trailing_newline_is_a_400_and_leaves_the_model(
    api: Api, model_id: str, newline: str
):
    before = api.get(f"/v2/models/{model_id}").json["model"]

    message = assert_error(api.put(f"/v2/models/{model_id}{newline}", model_document(model_id, name="changed")), 400)

    assert "model_id" in message
    assert api.get(f"/v2/models/{model_id}").json["model"] == before


@pytest.mark.parametrize("newline", NEWLINES)
def test_deleting_a_model_id_with_a_trailing_newline_is_a_400_and_leaves_the_model(
    api: Api, model_id: str, newline: str
):
    assert_error(api.delete(f"/v2/models/{model_id}{newline}"), 400)

    assert api.get(f"/v2/models/{model_id}").status == 200


def test_reading_ids_with_a_trailing_newline_is_a_400_naming_each(
    api: Api, model_id: str, subscription: dict[str, Any]
):
    subscription_path = f"/v2/models/{model_id}/event-subscriptions/{subscription['id']}"
    cases = {
        "model_id": f"/v2/models/{model_id}%0a",
        "model_version": f"/v2/models/{model_id}/versions/1%0a",
        "subscription_id": f"{subscription_path}%0a",
        "job_id": f"/v2/models/{model_id}/jobs/00000000-0000-4000-8000-000000000000%0a",
    }
    for parameter, path in cases.items():
        message = assert_error(api.get(path), 400)
        assert parameter in message, (path, message)


def test_changing_or_deleting_a_subscription_id_with_a_trailing_newline_is_a_400_and_leaves_it(
    api: Api, model_id: str, subscription: dict[str, Any]
):
    path = f"/v2/models/{model_id}/event-subscriptions/{subscription['id']}"

    assert_error(api.put(f"{path}%0a", {"status": "inactive"}), 400)
    assert_error(api.delete(f"{path}%0a"), 400)

    assert api.get(path).json == subscription


def test_a_new_status_for_a_version_with_a_trailing_newline_is_a_400_and_leaves_it(api: Api, model_id: str):
    before = api.get(f"/v2/models/{model_id}/versions/1").json["version"]

    assert_error(api.post(f"/v2/models/{model_id}/versions/1%0a/new_status", {"status": "training"}), 400)

    assert api.get(f"/v2/models/{model_id}/versions/1").json["version"] == before

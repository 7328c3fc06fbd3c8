"""``If-Match`` on DELETE: the delete happens only while the model or subscription is still at that
``entity_version``; a mismatch is a 409 naming the current one and deletes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.api_events import SEED_MODEL_ID, assert_error, call, create_model, create_version
from tests.integration.subscription_helpers import (
    create_subscription,
    update_subscription,
    whole_table,
)

TARGET_MODEL_ID = "model_price_elasticity"


@pytest.fixture
def models(table: Any) -> None:
    create_model()
    create_version(SEED_MODEL_ID, "2")  # the model is now at entity_version 2
    create_model(TARGET_MODEL_ID)


def _delete_model(if_match: str | None = None):
    headers = {"If-Match": if_match} if if_match is not None else None
    return call("delete_model", model_id=SEED_MODEL_ID, headers=headers)


def _delete_subscription(subscription_id: str, if_match: str | None = None):
    headers = {"If-Match": if_match} if if_match is not None else None
    return call("delete_subscription", model_id=SEED_MODEL_ID, subscription_id=subscription_id, headers=headers)


@pytest.mark.parametrize("stale", ["1", '"1"', 'W/"3"'])
def test_deleting_a_model_with_a_stale_if_match_is_a_409_and_deletes_nothing(table: Any, models: None, stale: str):
    create_subscription(SEED_MODEL_ID, TARGET_MODEL_ID)
    before = whole_table(table)

    message = assert_error(_delete_model(stale), 409)

    assert "entity_version 2" in message
    assert whole_table(table) == before


@pytest.mark.parametrize("current", ["2", '"2"', 'W/"2"'])
def test_deleting_a_model_with_the_current_if_match_deletes_it_all(table: Any, models: None, current: str):
    create_subscription(SEED_MODEL_ID, TARGET_MODEL_ID)

    status, body, _ = _delete_model(current)

    assert status == 204, body
    assert_error(call("get_model", model_id=SEED_MODEL_ID), 404)
    assert not [item for item in whole_table(table) if item["PK"]["S"].endswith(f"#{SEED_MODEL_ID}")]


def test_deleting_a_missing_model_with_if_match_is_a_404(models: None):
    assert_error(call("delete_model", model_id="no_such_model", headers={"If-Match": "1"}), 404)


def test_deleting_a_model_without_if_match_is_unconditional(models: None):
    status, body, _ = _delete_model()
    assert status == 204, body


def test_an_if_match_that_is_not_an_entity_version_is_a_400(models: None):
    assert_error(_delete_model("latest"), 400)
    assert call("get_model", model_id=SEED_MODEL_ID)[0] == 200


def test_deleting_a_subscription_with_a_stale_if_match_is_a_409_and_keeps_it(table: Any, models: None):
    subscription = create_subscription(SEED_MODEL_ID, TARGET_MODEL_ID)
    update_subscription(SEED_MODEL_ID, subscription["id"], label="now at entity_version 2")
    before = whole_table(table)

    message = assert_error(_delete_subscription(subscription["id"], '"1"'), 409)

    assert "entity_version 2" in message
    assert whole_table(table) == before


def test_deleting_a_subscription_with_the_current_if_match_deletes_it(models: None):
    subscription = create_subscription(SEED_MODEL_ID, TARGET_MODEL_ID)

    status, body, _ = _delete_subscription(subscription["id"], f'"{subscription["entity_version"]}"')

    assert status == 204, body
    assert_error(call("get_subscription", model_id=SEED_MODEL_ID, subscription_id=subscription["id"]), 404)


def test_deleting_a_missing_subscription_with_if_match_is_a_404(models: None):
    assert_error(_delete_subscription("00000000-0000-4000-8000-000000000000", '"1"'), 404)

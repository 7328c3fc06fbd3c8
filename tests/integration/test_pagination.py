"""Cursor pagination of the list routes: every item once, and tokens bound to their list."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.api_events import (
    SEED_MODEL_ID,
    assert_error,
    bulk_create_models,
    call,
    create_model,
    create_version,
    make_active,
)

pytestmark = pytest.mark.usefixtures("table")


def _model_ids(count: int) -> list[str]:
    return [f"model_{number:04d}" for number in range(count)]


def _token_of_first_page(function: str, **request: Any) -> str:
    status, body, _ = call(function, query={"limit": "1"}, **request)
    assert status == 200, body
    assert body["next_token"] is not None
    return body["next_token"]


def test_250_models_in_pages_of_50_are_each_listed_exactly_once():
    expected = _model_ids(250)
    bulk_create_models(expected)

    listed: list[str] = []
    pages: list[dict[str, Any]] = []
    query = {"limit": "50"}
    while True:
        status, body, _ = call("list_models", query=query)
        assert status == 200, body
        pages.append(body)
        listed.extend(model["id"] for model in body["models"])
        if body["next_token"] is None:
            break
        assert len(pages) <= 5, "more pages than 250 / 50"
        query = {"limit": "50", "next_token": body["next_token"]}

    assert listed == expected
    assert [len(page["models"]) for page in pages] == [50] * 5
    assert pages[-1]["next_token"] is None


def test_the_default_page_size_is_50():
    bulk_create_models(_model_ids(51))

    _, body, _ = call("list_models", query={})

    assert len(body["models"]) == 50
    assert body["next_token"] is not None


def test_status_filtered_lists_paginate_within_the_status():
    for model_id in ("model_a", "model_b", "model_c", "model_d"):
        create_model(model_id)
    for model_id in ("model_b", "model_d"):
        make_active(model_id)

    _, first, _ = call("list_models", query={"status": "active", "limit": "1"})
    _, second, _ = call("list_models", query={"status": "active", "limit": "1", "next_token": first["next_token"]})

    assert [model["id"] for model in first["models"] + second["models"]] == ["model_b", "model_d"]
    assert second["next_token"] is None


def test_a_next_token_from_list_versions_is_a_400_on_list_models(seed_model: dict[str, Any]):
    create_version(SEED_MODEL_ID, "2")
    token = _token_of_first_page("list_versions", model_id=SEED_MODEL_ID)

    assert_error(call("list_models", query={"next_token": token}), 400)


def test_a_next_token_from_one_models_versions_is_a_400_on_another_models_versions():
    create_model("model_a")
    create_model("model_b")
    create_version("model_a", "2")
    create_version("model_b", "2")
    token = _token_of_first_page("list_versions", model_id="model_a")

    assert_error(call("list_versions", model_id="model_b", query={"next_token": token}), 400)


def test_a_next_token_from_a_status_filtered_list_is_a_400_on_the_unfiltered_list():
    for model_id in ("model_a", "model_b"):
        create_model(model_id)
        make_active(model_id)
    _, first, _ = call("list_models", query={"status": "active", "limit": "1"})

    assert_error(call("list_models", query={"next_token": first["next_token"]}), 400)


def test_a_tampered_next_token_is_a_400():
    create_model("model_a")
    create_model("model_b")
    token = _token_of_first_page("list_models")
    tampered = f"{token[:-2]}{'A' if token[-2] != 'A' else 'B'}{token[-1]}"

    assert_error(call("list_models", query={"next_token": tampered}), 400)

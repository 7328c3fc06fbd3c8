"""Search over the list routes (SPEC part three): malformed filters of any shape are a 400 naming
the position, never a 5xx or a stall; tokens are good only for their own search; a sort past its
bound is a clear 400; an unknown model is still a 404."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.data import search
from tests.integration.api_events import assert_error, call, create_model, create_version

FILTER_ALPHABET = st.sampled_from(
    [*"nametgsuwrkpcvio.`'%_=\\ !<>\"\t\n#(),;é0", "name", "tags.", "AND", "LIKE", "status", "''", "'a'"]
)
hostile_filters = st.one_of(
    st.text(max_size=120),
    st.lists(FILTER_ALPHABET, max_size=60).map("".join),
    st.lists(
        st.sampled_from(["name = 'a'", " AND ", " and ", "tags.`x` = ''''", "status = 'active'"]), max_size=14
    ).map("".join),
)


@pytest.fixture
def registry(table: Any) -> None:
    create_model("price", name="price", tags={"team": "pricing"})
    create_model("risk", name="risk", tags={"team": "risk"})
    create_version("price", "2", tags={"stage": "candidate"})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=hostile_filters, versions=st.booleans())
def test_any_filter_is_answered_or_refused_with_its_position_quickly(registry: None, text: str, versions: bool):
    function, path = ("list_versions", {"model_id": "price"}) if versions else ("list_models", {})
    started = time.perf_counter()
    status, body, _ = call(function, query={"filter": text}, **path)
    elapsed = time.perf_counter() - started

    assert elapsed < 1.0
    assert status in (200, 400), body
    if status == 400:
        assert set(body) == {"success", "message"} and body["success"] is False
        if len(text) <= 1000:
            assert "position" in body["message"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order_by=st.text(max_size=40))
def test_any_order_by_is_answered_or_refused(registry: None, order_by: str):
    status, body, _ = call("list_models", query={"filter": "name LIKE 'p%'", "order_by": order_by})
    assert status in (200, 400), body


def test_a_malformed_filter_is_a_400_naming_the_position(registry: None):
    message = assert_error(call("list_models", query={"filter": "name = 'price' OR name = 'risk'"}), 400)
    assert "position 15" in message and "AND" in message
    message = assert_error(call("list_versions", model_id="price", query={"filter": "name = 'x'"}), 400)
    assert "position 0" in message


def test_the_contracts_example_finds_what_it_says(registry: None):
    status, body, _ = call("list_models", query={"filter": "name LIKE 'pri%' AND tags.team = 'pricing'"})
    assert status == 200 and [model["id"] for model in body["models"]] == ["price"]
    status, body, _ = call("list_versions", model_id="price", query={"filter": "tags.stage = 'candidate'"})
    assert status == 200 and [version["version"] for version in body["versions"]] == ["2"]


def test_status_and_workspace_parameters_narrow_a_search(registry: None):
    status, body, _ = call("list_models", query={"filter": "name LIKE '%'", "status": "active"})
    assert status == 200 and body["models"] == []
    status, body, _ = call("list_models", query={"filter": "name LIKE '%'", "workspace": "default"})
    assert status == 200 and {model["id"] for model in body["models"]} == {"price", "risk"}


def test_a_token_is_good_only_for_its_own_search(registry: None):
    status, body, _ = call("list_models", query={"filter": "name LIKE '%'", "limit": "1"})
    assert status == 200 and body["next_token"]
    token = body["next_token"]

    assert_error(call("list_models", query={"filter": "name LIKE 'r%'", "limit": "1", "next_token": token}), 400)
    assert_error(call("list_models", query={"limit": "1", "next_token": token}), 400)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert_error(call("list_models", query={"filter": "name LIKE '%'", "limit": "1", "next_token": tampered}), 400)


def test_a_sorted_search_past_its_bound_is_a_400(registry: None, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(search, "SORT_CANDIDATES", 1)

    message = assert_error(call("list_models", query={"filter": "name LIKE '%'", "order_by": "created_at"}), 400)

    assert "more than 1" in message
    status, body, _ = call("list_models", query={"filter": "name = 'risk'", "order_by": "created_at DESC"})
    assert status == 200 and [model["id"] for model in body["models"]] == ["risk"]


def test_a_search_of_an_unknown_models_versions_is_a_404(registry: None):
    assert_error(call("list_versions", model_id="nobody", query={"filter": "status = 'active'"}), 404)
    assert_error(call("list_versions", model_id="nobody", query={"filter": "version = '1'"}), 404)


def test_a_tag_change_moves_the_model_between_searches(registry: None):
    status, body, _ = call("set_model_tag", body={"value": "risk"}, model_id="price", key="team")
    assert status == 200, body

    def found(value: str) -> list[str]:
        status, body, _ = call("list_models", query={"filter": f"tags.team = '{value}'"})
        assert status == 200, body
        return [model["id"] for model in body["models"]]

    assert found("pricing") == []
    assert found("risk") == ["price", "risk"]
    status, body, _ = call("delete_model_tag", model_id="price", key="team")
    assert status == 204 and found("risk") == ["risk"]


def test_a_renamed_model_is_found_by_its_new_name_only(registry: None):
    status, body, _ = call("get_model", model_id="price")
    model = body["model"]
    update = {key: model[key] for key in ("description", "handlers", "metadata")}
    assert call("update_model", body={**update, "name": "pricing v2"}, model_id="price")[0] == 200

    status, body, _ = call("list_models", query={"filter": "name LIKE 'pricing%'"})
    assert [m["id"] for m in body["models"]] == ["price"]
    status, body, _ = call("list_models", query={"filter": "name = 'price'"})
    assert body["models"] == []

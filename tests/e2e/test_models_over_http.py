"""Models, versions and version status over HTTP, through ``pie-local serve``."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.client import Api, assert_error
from tests.e2e.documents import IN_PROCESS_HANDLERS, model_document, unique_id

pytestmark = pytest.mark.e2e


def _activate(api: Api, model_id: str, version: str = "1") -> dict[str, Any]:
    for status in ("training", "active"):
        reply = api.post(f"/v2/models/{model_id}/versions/{version}/new_status", {"status": status})
        assert reply.status == 200, reply.body
    return reply.json


def _list_all(api: Api, path: str, key: str, limit: int) -> list[list[dict[str, Any]]]:
    pages, token = [], None
    while True:
        query = f"limit={limit}" + (f"&next_token={quote(token, safe='')}" if token else "")
        separator = "&" if "?" in path else "?"
        reply = api.get(f"{path}{separator}{query}")
        assert reply.status == 200, reply.body
        pages.append(reply.json[key])
        token = reply.json["next_token"]
        if token is None:
            return pages


def test_create_model_answers_201_with_the_model_its_pending_version_1_and_an_etag(api: Api):
    model_id = unique_id()

    reply = api.post("/v2/models", model_document(model_id))

    assert reply.status == 201
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers["ETag"] == '"1"'
    body = reply.json
    assert set(body) == {"model", "version"}
    assert body["model"]["id"] == model_id
    assert body["model"]["status"] == "pending"
    assert body["model"]["latest_version"] == "1"
    assert body["model"]["created_by"] == "local-developer"
    assert body["version"]["version"] == "1"
    assert body["version"]["status"] == "pending"


def test_get_model_answers_the_model_with_its_entity_version_as_etag(api: Api, model_id: str):
    reply = api.get(f"/v2/models/{model_id}")

    assert reply.status == 200
    assert reply.headers["ETag"] == '"1"'
    assert reply.json["model"]["id"] == model_id
    assert reply.json["model"]["name"] == "Price recommendation"


def test_list_models_pages_through_every_model_with_limit(api: Api):
    created = {unique_id("page") for _ in range(3)}
    for model_id in created:
        assert api.post("/v2/models", model_document(model_id)).status == 201

    pages = _list_all(api, "/v2/models", "models", limit=2)

    listed = [model["id"] for page in pages for model in page]
    assert all(len(page) <= 2 for page in pages)
    assert len(pages) >= 2
    assert len(listed) == len(set(listed))
    assert created <= set(listed)
    assert listed == sorted(listed)


def test_list_models_filters_by_status(api: Api):
    pending, active = unique_id("pending"), unique_id("active")
    for model_id in (pending, active):
        assert api.post("/v2/models", model_document(model_id)).status == 201
    _activate(api, active)

    pending_ids = {m["id"] for page in _list_all(api, "/v2/models?status=pending", "models", 100) for m in page}
    active_ids = {m["id"] for page in _list_all(api, "/v2/models?status=active", "models", 100) for m in page}

    assert pending in pending_ids and pending not in active_ids
    assert active in active_ids and active not in pending_ids


def test_update_of_a_pending_model_replaces_it_without_a_new_version(api: Api, model_id: str):
    document = model_document(model_id, name="Renamed", metadata={"team": "growth"})
    del document["id"]

    reply = api.put(f"/v2/models/{model_id}", document)

    assert reply.status == 200, reply.body
    assert reply.headers["ETag"] == '"2"'
    assert reply.json["model"]["name"] == "Renamed"
    assert reply.json["model"]["metadata"] == {"team": "growth"}
    assert reply.json["model"]["latest_version"] == "1"
    assert reply.json["version"]["version"] == "1"
    versions = api.get(f"/v2/models/{model_id}/versions").json["versions"]
    assert [v["version"] for v in versions] == ["1"]


def test_update_of_an_active_model_cuts_the_next_pending_version(api: Api, model_id: str):
    _activate(api, model_id)
    document = model_document(model_id, handlers=IN_PROCESS_HANDLERS)
    del document["id"]

    reply = api.put(f"/v2/models/{model_id}", document)

    assert reply.status == 200, reply.body
    assert reply.json["version"]["version"] == "2"
    assert reply.json["version"]["status"] == "pending"
    assert reply.json["model"]["latest_version"] == "2"
    assert reply.json["model"]["active_version"] == "1"


def test_update_with_a_stale_if_match_is_a_409(api: Api, model_id: str):
    document = model_document(model_id)
    del document["id"]

    reply = api.put(f"/v2/models/{model_id}", document, headers={"If-Match": '"7"'})

    assert_error(reply, 409)


def test_new_version_answers_201_and_a_duplicate_is_a_409(api: Api, model_id: str):
    path = f"/v2/models/{model_id}/new_version"

    created = api.post(path, {"version": "2", "description": "retrained", "metadata": {"run": 7}})
    duplicate = api.post(path, {"version": "2"})

    assert created.status == 201, created.body
    assert created.headers["ETag"] == '"1"'
    assert created.json["version"]["version"] == "2"
    assert created.json["version"]["status"] == "pending"
    assert created.json["model"]["latest_version"] == "2"
    assert "2" in assert_error(duplicate, 409)


def test_list_versions_answers_newest_first_and_pages_with_limit(api: Api, model_id: str):
    for version in ("2", "3"):
        assert api.post(f"/v2/models/{model_id}/new_version", {"version": version}).status == 201

    pages = _list_all(api, f"/v2/models/{model_id}/versions", "versions", limit=2)

    assert [len(page) for page in pages] == [2, 1]
    assert [v["version"] for page in pages for v in page] == ["3", "2", "1"]


def test_get_version_by_id_and_by_latest(api: Api, model_id: str):
    assert api.post(f"/v2/models/{model_id}/new_version", {"version": "b7"}).status == 201

    first = api.get(f"/v2/models/{model_id}/versions/1")
    latest = api.get(f"/v2/models/{model_id}/versions/latest")

    assert first.status == 200 and latest.status == 200
    assert first.json["version"]["version"] == "1"
    assert first.json["model"]["id"] == model_id
    assert latest.json["version"]["version"] == "b7"
    assert latest.headers["ETag"] == '"1"'


def test_new_status_moves_a_version_through_its_lifecycle_and_activates_the_model(api: Api, model_id: str):
    training = api.post(
        f"/v2/models/{model_id}/versions/latest/new_status",
        {"status": "training", "status_message": "started"},
    )
    active = api.post(f"/v2/models/{model_id}/versions/1/new_status", {"status": "active"})

    assert training.status == 200, training.body
    assert training.json["version"]["status"] == "training"
    assert training.json["version"]["status_message"] == "started"
    assert active.status == 200, active.body
    assert active.json["triggered_events"] == []
    assert active.json["model"]["status"] == "active"
    assert active.json["model"]["active_version"] == "1"
    history = [change["status"] for change in active.json["version"]["status_history"]]
    assert history == ["pending", "training", "active"]
    assert active.headers["ETag"] == f'"{active.json["version"]["entity_version"]}"'


def test_an_illegal_transition_is_a_422_naming_the_allowed_states(api: Api, model_id: str):
    reply = api.post(f"/v2/models/{model_id}/versions/1/new_status", {"status": "active"})

    message = assert_error(reply, 422)
    assert "training" in message


def test_delete_model_answers_204_and_then_the_model_is_gone(api: Api, model_id: str):
    deleted = api.delete(f"/v2/models/{model_id}")

    assert deleted.status == 204
    assert deleted.body == b""
    assert_error(api.get(f"/v2/models/{model_id}"), 404)
    assert_error(api.get(f"/v2/models/{model_id}/versions/1"), 404)
    assert_error(api.delete(f"/v2/models/{model_id}"), 404)


def test_a_repeated_post_with_the_same_idempotency_key_answers_the_first_response(api: Api):
    model_id = unique_id()
    key = {"Idempotency-Key": unique_id("key")}

    first = api.post("/v2/models", model_document(model_id), headers=key)
    again = api.post("/v2/models", model_document(model_id), headers=key)
    other_body = api.post("/v2/models", model_document(model_id, name="Other"), headers=key)

    assert first.status == 201, first.body
    assert again.status == 201, again.body
    assert again.json == first.json
    assert_error(other_body, 422)

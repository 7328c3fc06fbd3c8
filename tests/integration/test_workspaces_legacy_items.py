"""Models stored before workspaces existed belong to ``default``, with no migration step.

The item is written as the first release wrote it (no ``workspace`` in its document, bare ids in
the list indexes) with boto3, then read and written through the route functions.
"""

from __future__ import annotations

import json
from typing import Any

from shared.data.entities import DOCUMENT_FORMAT_ATTRIBUTE
from shared.runtime import api_settings, dynamodb_client
from tests.conftest import invoke
from tests.integration.api_events import assert_error, call, create_model, event_for, sample_body, with_claims

LEGACY_ID = "legacy_model"


def _write_legacy_model(model_id: str) -> None:
    """The model and its version "1" exactly as the first release stored them."""
    created = create_model(model_id)  # then stripped back to the old shape
    client, table = dynamodb_client(), api_settings().table_name
    model_doc = {key: value for key, value in created["model"].items() if key != "workspace"}
    version_doc = {key: value for key, value in created["version"].items() if key != "workspace"}
    item = client.get_item(TableName=table, Key={"PK": {"S": f"MODEL#{model_id}"}, "SK": {"S": "MODEL"}})["Item"]
    item.update({"GSI1SK": {"S": model_id}, "GSI2SK": {"S": model_id}, "doc": {"S": json.dumps(model_doc)}})
    for later in (DOCUMENT_FORMAT_ATTRIBUTE, "workspace"):  # attributes later releases added
        del item[later]
    client.put_item(TableName=table, Item=item)
    version_key = {"PK": {"S": f"MODEL#{model_id}"}, "SK": {"S": "VERSION#1"}}
    version = client.get_item(TableName=table, Key=version_key)["Item"]
    version["doc"] = {"S": json.dumps(version_doc)}
    client.put_item(TableName=table, Item=version)
    assert "workspace" not in client.get_item(TableName=table, Key=version_key)["Item"]["doc"]["S"]


def _as(workspaces: str, function: str, **request: Any):
    return invoke(function, with_claims(event_for(function, **request), **{"pie:workspaces": workspaces}))


def test_an_old_model_reads_as_default_everywhere(table: Any):
    _write_legacy_model(LEGACY_ID)
    status, body, _ = call("get_model", model_id=LEGACY_ID)
    assert status == 200 and body["model"]["workspace"] == "default"
    status, body, _ = call("get_version", model_id=LEGACY_ID, model_version="1")
    assert status == 200 and body["version"]["workspace"] == "default"


def test_an_old_model_is_listed_under_default_and_not_elsewhere(table: Any):
    _write_legacy_model(LEGACY_ID)
    create_model("team_model", workspace="default")
    for query, listed in (({"workspace": "default"}, True), ({"workspace": "alice"}, False), ({}, True)):
        status, body, _ = call("list_models", query=query)
        assert status == 200
        assert (LEGACY_ID in [model["id"] for model in body["models"]]) is listed, query


def test_an_old_model_is_written_only_by_members_of_default(table: Any):
    _write_legacy_model(LEGACY_ID)
    body = {key: sample_body("update_model")[key] for key in ("name", "description", "handlers", "metadata")}
    assert "'default'" in assert_error(_as("[alice]", "update_model", body=body, model_id=LEGACY_ID), 403)
    status, response, _ = _as("[default]", "update_model", body=body, model_id=LEGACY_ID)
    assert status == 200 and response["model"]["workspace"] == "default"
    status, response, _ = call("list_models", query={"workspace": "default"})
    assert [model["id"] for model in response["models"]] == [LEGACY_ID]  # rewritten once, listed once

"""What fuzzers miss, over HTTP through ``pie-local serve``: oversized bodies, deep nesting, documents
beyond DynamoDB's item limit, hostile ids and broken contract schemas.

Each is refused with PIE's error shape and a message that says what to fix, never a 500.
Open bugs are strict xfails whose reason starts with ``BUG``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.client import Api, Reply, assert_error
from tests.e2e.documents import IN_PROCESS_HANDLERS, model_document, unique_id

pytestmark = pytest.mark.e2e

GATEWAY_LIMIT_BYTES = 10 * 1024 * 1024
DYNAMODB_ITEM_LIMIT_BYTES = 400 * 1024


def _post_raw(api: Api, path: str, body: bytes) -> Reply:
    return api.request("POST", path, body=body, headers={"Content-Type": "application/json"})


def _activate(api: Api, model_id: str, version: str = "1") -> None:
    for status in ("training", "active"):
        reply = api.post(f"/v2/models/{model_id}/versions/{version}/new_status", {"status": status})
        assert reply.status == 200, reply.body


@pytest.fixture
def in_process_model(api: Api) -> str:
    """A model whose jobs run in process, with an active version 1."""
    model_id = unique_id("hard")
    assert api.post("/v2/models", model_document(model_id, handlers=IN_PROCESS_HANDLERS)).status == 201
    _activate(api, model_id)
    return model_id


# Bodies over API Gateway's payload limit -----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v2/models"), ("PUT", "/v2/models/any-model"), ("POST", "/v2/models/any-model/inference")],
)
def test_a_body_over_the_10_mib_gateway_limit_is_a_413(api: Api, method: str, path: str):
    body = b'{"metadata": "' + b"x" * GATEWAY_LIMIT_BYTES + b'"}'

    reply = api.request(method, path, body=body, headers={"Content-Type": "application/json"})

    message = assert_error(reply, 413)
    assert str(GATEWAY_LIMIT_BYTES) in message


def test_a_body_just_under_the_gateway_limit_reaches_pie_and_is_refused_for_the_item_limit(api: Api):
    model_id = unique_id("hard")
    document = model_document(model_id, metadata={"blob": "x" * (GATEWAY_LIMIT_BYTES - 4096)})
    body = json.dumps(document).encode()
    assert len(body) < GATEWAY_LIMIT_BYTES

    message = assert_error(_post_raw(api, "/v2/models", body), 400)

    assert "limit" in message
    assert_error(api.get(f"/v2/models/{model_id}"), 404)


# Deeply nested JSON ---------------------------------------------------------------------------------


def _nested_objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def _nested_arrays(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_metadata_nested_40_levels_is_stored_and_read_back(api: Api):
    model_id = unique_id("hard")
    metadata = json.loads('{"objects": %s, "arrays": %s}' % (_nested_objects(40), _nested_arrays(40)))

    created = api.post("/v2/models", model_document(model_id, metadata=metadata))

    assert created.status == 201, created.body
    assert api.get(f"/v2/models/{model_id}").json["model"]["metadata"] == metadata


def _deep_requests(model_id: str, target_id: str, nested: str) -> dict[str, tuple[str, str]]:
    """Route name -> (path, raw JSON body) with ``nested`` as the user-supplied document."""
    handlers = json.dumps(IN_PROCESS_HANDLERS)
    return {
        "create-model-metadata": (
            "/v2/models",
            '{"id": "%s", "name": "deep", "handlers": %s, "metadata": {"deep": %s}}'
            % (unique_id("deep"), handlers, nested),
        ),
        "new-version-metadata": (
            f"/v2/models/{model_id}/new_version",
            '{"version": "%s", "metadata": {"deep": %s}}' % (unique_id("v"), nested),
        ),
        "subscription-input": (
            f"/v2/models/{model_id}/event-subscriptions",
            '{"trigger_event": "training_complete", "target_model_id": "%s", "target_action": "inference", '
            '"input_source": "stored", "input": {"deep": %s}}' % (target_id, nested),
        ),
        "inference-input": (f"/v2/models/{target_id}/inference", '{"input": {"deep": %s}}' % nested),
    }


DEEP_ROUTES = ["create-model-metadata", "new-version-metadata", "subscription-input", "inference-input"]


@pytest.mark.parametrize("depth", [300, 10_000])
@pytest.mark.parametrize("route", DEEP_ROUTES)
@pytest.mark.parametrize("shape", [_nested_arrays, _nested_objects], ids=["arrays", "objects"])
def test_nesting_deeper_than_pie_can_store_is_a_400(
    api: Api, in_process_model: str, route: str, depth: int, shape: Callable[[int], str]
):
    path, body = _deep_requests(in_process_model, in_process_model, shape(depth))[route]

    message = assert_error(_post_raw(api, path, body.encode()), 400)

    assert "nest" in message or "deep" in message


# Documents over DynamoDB's 400 KB item limit -------------------------------------------------------

HUGE = {"blob": "x" * (DYNAMODB_ITEM_LIMIT_BYTES + 1024)}


def _assert_refused_for_size(reply: Reply) -> str:
    assert reply.status in (400, 413, 422), (reply.status, reply.body)
    message = assert_error(reply, reply.status)
    assert "limit" in message and "bytes" in message, message
    return message


def test_a_model_whose_metadata_exceeds_the_item_limit_is_refused_and_not_created(api: Api):
    model_id = unique_id("hard")

    _assert_refused_for_size(api.post("/v2/models", model_document(model_id, metadata=HUGE)))

    assert_error(api.get(f"/v2/models/{model_id}"), 404)


def test_the_item_limit_counts_utf8_bytes_not_characters(api: Api):
    model_id = unique_id("hard")
    under_in_characters = {"blob": "€" * 140_000}  # 140 000 characters, 420 000 bytes

    _assert_refused_for_size(api.post("/v2/models", model_document(model_id, metadata=under_in_characters)))

    assert_error(api.get(f"/v2/models/{model_id}"), 404)


def test_a_model_just_under_the_limit_is_created_and_read_back(api: Api):
    model_id = unique_id("hard")
    metadata = {"blob": "x" * 360_000}

    assert api.post("/v2/models", model_document(model_id, metadata=metadata)).status == 201

    assert api.get(f"/v2/models/{model_id}").json["model"]["metadata"] == metadata


def test_an_update_whose_metadata_exceeds_the_item_limit_is_refused_and_changes_nothing(api: Api, model_id: str):
    update = {"name": "n", "description": "", "handlers": IN_PROCESS_HANDLERS, "metadata": HUGE}

    _assert_refused_for_size(api.put(f"/v2/models/{model_id}", update))

    model = api.get(f"/v2/models/{model_id}").json["model"]
    assert (model["entity_version"], model["metadata"]) == (1, {"team": "pricing"})


def test_a_new_version_whose_metadata_exceeds_the_item_limit_is_refused_and_not_created(api: Api, model_id: str):
    _assert_refused_for_size(api.post(f"/v2/models/{model_id}/new_version", {"version": "2", "metadata": HUGE}))

    assert_error(api.get(f"/v2/models/{model_id}/versions/2"), 404)
    assert api.get(f"/v2/models/{model_id}").json["model"]["latest_version"] == "1"


def test_a_subscription_whose_stored_input_exceeds_the_item_limit_is_refused_and_not_created(api: Api, model_id: str):
    subscription = {
        "trigger_event": "training_complete",
        "target_model_id": model_id,
        "target_action": "training",
        "input_source": "stored",
        "input": HUGE,
    }

    _assert_refused_for_size(api.post(f"/v2/models/{model_id}/event-subscriptions", subscription))

    assert api.get(f"/v2/models/{model_id}/event-subscriptions").json["subscriptions"] == []


@pytest.mark.parametrize("action", ["inference", "training"])
def test_a_job_whose_input_exceeds_the_item_limit_is_refused_and_not_queued(
    api: Api, in_process_model: str, action: str
):
    if action == "training":
        assert api.post(f"/v2/models/{in_process_model}/new_version", {"version": "2"}).status == 201

    _assert_refused_for_size(api.post(f"/v2/models/{in_process_model}/{action}", {"input": HUGE}))

    assert api.get(f"/v2/models/{in_process_model}/jobs").json["jobs"] == []


def test_a_completion_whose_output_would_overflow_the_job_is_refused_and_the_job_can_still_complete(
    api: Api, model_id: str
):
    job = api.post(f"/v2/models/{model_id}/training", {"input": {"rows": 1}}).json["job"]
    path = f"/v2/models/{model_id}/jobs/{job['id']}/complete"

    _assert_refused_for_size(api.post(path, {"status": "succeeded", "output": HUGE}))

    completed = api.post(path, {"status": "succeeded", "output": {"model_path": "s3://bucket/model"}})
    assert completed.status == 200, completed.body
    assert completed.json["job"]["status"] == "succeeded"


def test_a_version_under_the_item_limit_moves_through_its_lifecycle(api: Api, model_id: str):
    metadata = {"blob": "x" * 250_000}
    assert api.post(f"/v2/models/{model_id}/new_version", {"version": "2", "metadata": metadata}).status == 201

    reply = api.post(f"/v2/models/{model_id}/versions/2/new_status", {"status": "training"})

    assert reply.status == 200, reply.body


# Hostile ids ----------------------------------------------------------------------------------------

HOSTILE_IDS = [
    pytest.param("mödel", id="non-ascii-letter"),
    pytest.param("Ω", id="greek"),
    pytest.param("a b", id="space"),
    pytest.param("-leading-dash", id="leading-dash"),
    pytest.param("..", id="dot-dot"),
    pytest.param("a" * 129, id="too-long"),
    pytest.param("a\nb", id="newline"),
    pytest.param("a\u202eb", id="right-to-left-override"),
    pytest.param("a\u0000b", id="nul"),
    pytest.param("\U0001f600", id="emoji"),
    pytest.param("a?b", id="question-mark"),
    pytest.param("a/b", id="encoded-slash"),
]


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_a_hostile_model_id_in_the_path_is_a_400_naming_the_parameter(api: Api, hostile: str):
    message = assert_error(api.get(f"/v2/models/{quote(hostile, safe='')}"), 400)

    assert "model_id" in message


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_a_hostile_version_in_the_path_is_a_400_naming_the_parameter(api: Api, model_id: str, hostile: str):
    message = assert_error(api.get(f"/v2/models/{model_id}/versions/{quote(hostile, safe='')}"), 400)

    assert "model_version" in message


@pytest.mark.parametrize("hostile", [param.values[0] for param in HOSTILE_IDS], ids=[param.id for param in HOSTILE_IDS])
def test_a_hostile_model_id_in_the_body_is_a_400_naming_the_field(api: Api, hostile: str):
    message = assert_error(api.post("/v2/models", model_document(hostile)), 400)

    assert "body.id" in message


@pytest.mark.parametrize("hostile", ["a\u0000b", "\U0001f600", "vé", "a/b"], ids=["nul", "emoji", "accent", "slash"])
def test_a_hostile_version_in_the_body_is_a_400(api: Api, model_id: str, hostile: str):
    message = assert_error(api.post(f"/v2/models/{model_id}/new_version", {"version": hostile}), 400)

    assert "version" in message


@pytest.mark.parametrize("hostile", ["a\u0000b", "\U0001f600", "mödel"], ids=["nul", "emoji", "accent"])
def test_a_hostile_target_model_id_in_a_subscription_is_a_400(api: Api, model_id: str, hostile: str):
    subscription = {
        "trigger_event": "training_complete",
        "target_model_id": hostile,
        "target_action": "training",
        "input_source": "trigger_output",
    }

    message = assert_error(api.post(f"/v2/models/{model_id}/event-subscriptions", subscription), 400)

    assert "target_model_id" in message


def test_a_json_body_that_is_not_utf8_is_a_400(api: Api):
    reply = _post_raw(api, "/v2/models", b'{"id": "caf\xe9"}')

    assert "UTF-8" in assert_error(reply, 400)


# Contract schemas that are not Draft 2020-12 ---------------------------------------------------------

INVALID_SCHEMAS = {
    "unknown-type": ({"type": "nope"}, "type"),
    "negative-min-length": ({"minLength": -1}, "minLength"),
    "required-not-an-array": ({"required": "features"}, "required"),
    "properties-not-an-object": ({"properties": ["features"]}, "properties"),
    "broken-regex": ({"pattern": "("}, "pattern"),
    "ref-not-a-string": ({"$ref": 5}, "$ref"),
    "duplicate-types": ({"type": ["string", "string"]}, "type"),
    "empty-all-of": ({"allOf": []}, "allOf"),
    "nested-broken-subschema": ({"properties": {"x": {"maximum": "10"}}}, "properties/x/maximum"),
}


@pytest.mark.parametrize(("schema", "where"), INVALID_SCHEMAS.values(), ids=INVALID_SCHEMAS.keys())
@pytest.mark.parametrize("kind", ["input_schema", "output_schema"])
def test_a_contract_schema_that_is_not_draft_2020_12_is_a_400_naming_where(
    api: Api, schema: dict[str, Any], where: str, kind: str
):
    model_id = unique_id("hard")
    contracts = {"inference": {kind: schema}}

    message = assert_error(api.post("/v2/models", model_document(model_id, handler_contracts=contracts)), 400)

    assert "2020-12" in message and where in message and kind in message, message
    assert_error(api.get(f"/v2/models/{model_id}"), 404)


@pytest.mark.parametrize(("schema", "where"), INVALID_SCHEMAS.values(), ids=INVALID_SCHEMAS.keys())
def test_an_update_with_a_contract_schema_that_is_not_draft_2020_12_is_a_400_and_changes_nothing(
    api: Api, model_id: str, schema: dict[str, Any], where: str
):
    update = {
        "name": "n",
        "description": "",
        "handlers": model_document(model_id)["handlers"],
        "handler_contracts": {"training": {"input_schema": schema}},
        "metadata": {},
    }

    message = assert_error(api.put(f"/v2/models/{model_id}", update), 400)

    assert "2020-12" in message and where in message, message
    assert api.get(f"/v2/models/{model_id}").json["model"]["entity_version"] == 1


@pytest.mark.parametrize(
    "schema", [True, "object", 3, ["type", "object"]], ids=["boolean", "string", "number", "array"]
)
def test_a_contract_schema_that_is_not_an_object_is_a_400(api: Api, schema: Any):
    contracts = {"inference": {"input_schema": schema}}

    message = assert_error(api.post("/v2/models", model_document(unique_id("hard"), handler_contracts=contracts)), 400)

    assert "input_schema" in message

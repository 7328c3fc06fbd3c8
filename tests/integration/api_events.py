"""Builds requests for the route functions from their ``events/*.json`` samples.

Each helper starts from the sample event of the function and changes only what the test is about,
keeping the payload 2.0 fields that mirror each other (``rawPath`` / ``requestContext.http.path`` /
``pathParameters``, ``rawQueryString`` / ``queryStringParameters``) consistent.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlencode

from pie_local.settings import LOCAL_TABLE_NAME
from shared.data.entities import MODELS, VERSIONS, VersionRecord
from shared.data.items import BATCH_WRITE_LIMIT
from shared.domain.entities import Model, Version
from shared.domain.records import ModelRecord
from shared.routes import route_for
from shared.runtime import dynamodb_client, registry_store
from tests.conftest import invoke, load_event

SEED_MODEL_ID = "model_price_reco_v1"

Response = tuple[int, dict[str, Any] | None, dict[str, str]]


def event_for(
    function: str,
    *,
    body: Any = None,
    raw_body: str | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    **path: str,
) -> dict[str, Any]:
    """The sample event of ``function`` with its path parameters, body, query or headers replaced.

    ``body`` is serialized as JSON; ``raw_body`` is sent as is (for malformed bodies).
    """
    event = load_event(function)
    route = route_for(function)
    parameters = {**(event.get("pathParameters") or {}), **path}
    raw_path = route.path
    for name in route.path_parameters:
        raw_path = raw_path.replace(f"{{{name}}}", quote(parameters[name], safe=""))
    event["rawPath"] = raw_path
    event["requestContext"]["http"]["path"] = raw_path
    if route.path_parameters:
        event["pathParameters"] = {name: parameters[name] for name in route.path_parameters}
    if body is not None:
        raw_body = json.dumps(body)
    if raw_body is not None:
        event["body"] = raw_body
        event["headers"]["content-length"] = str(len(raw_body.encode()))
    if query is not None:
        event["rawQueryString"] = urlencode(query)
        event["queryStringParameters"] = dict(query) or None
    if headers:
        event["headers"].update({name.lower(): value for name, value in headers.items()})
    return event


def sample_body(function: str) -> dict[str, Any]:
    """The JSON body of ``events/<function>.json``, to modify and send back."""
    return json.loads(load_event(function)["body"])


def with_claims(event: dict[str, Any], **claims: str | None) -> dict[str, Any]:
    """The event with JWT claims changed; a claim given as None is removed."""
    current = event["requestContext"]["authorizer"]["jwt"]["claims"]
    for name, value in claims.items():
        if value is None:
            current.pop(name, None)
        else:
            current[name] = value
    return event


def call(function: str, **request: Any) -> Response:
    return invoke(function, event_for(function, **request))


def create_model(model_id: str = SEED_MODEL_ID, **changes: Any) -> dict[str, Any]:
    """Create a model through the create_model function; returns the 201 body."""
    body = {**sample_body("create_model"), "id": model_id, **changes}
    status, response, _ = call("create_model", body=body)
    assert status == 201, response
    assert response is not None
    return response


def create_version(model_id: str, version: str, **changes: Any) -> dict[str, Any]:
    body = {**sample_body("create_version"), "version": version, **changes}
    status, response, _ = call("create_version", body=body, model_id=model_id)
    assert status == 201, response
    assert response is not None
    return response


def assert_error(response: Response, status: int) -> str:
    """The response is an error of ``status`` in exactly PIE's error shape; returns its message."""
    actual_status, body, _ = response
    assert actual_status == status, body
    assert body is not None
    assert set(body) == {"success", "message"}, body
    assert body["success"] is False
    assert isinstance(body["message"], str) and body["message"].strip()
    return body["message"]


def make_active(model_id: str) -> None:
    """Mark a model ``active`` (its latest version as the active one) by writing through the data
    layer, so these tests do not depend on the version lifecycle."""
    store = registry_store()
    record = store.get_model(model_id)
    current = record.model
    model = current.model_copy(
        update={
            "status": "active",
            "active_version": current.latest_version,
            "entity_version": current.entity_version + 1,
        }
    )
    activation_order = (*record.activation_order, current.latest_version)
    store.save_model(replace(record, model=model, activation_order=activation_order), current.entity_version)


def bulk_create_models(model_ids: list[str]) -> None:
    """Many models, fast: the first through create_model, the others as copies of it written in
    batches with the store's own item layout (moto copies the whole table on every transaction,
    which makes one create per model quadratic)."""
    first = create_model(model_ids[0])
    template_model = Model.model_validate(first["model"])
    template_version = Version.model_validate(first["version"])
    items: list[dict[str, Any]] = []
    for model_id in model_ids[1:]:
        model = template_model.model_copy(update={"id": model_id})
        version = template_version.model_copy(update={"model_id": model_id})
        record = ModelRecord(model, version_sequence=1, highest_numeric_version=1)
        items += [MODELS.encode(record), VERSIONS.encode(VersionRecord(version, sequence=1))]
    client = dynamodb_client()
    for start in range(0, len(items), BATCH_WRITE_LIMIT):
        batch = items[start : start + BATCH_WRITE_LIMIT]
        unprocessed = {LOCAL_TABLE_NAME: [{"PutRequest": {"Item": item}} for item in batch]}
        while unprocessed:
            unprocessed = client.batch_write_item(RequestItems=unprocessed).get("UnprocessedItems")

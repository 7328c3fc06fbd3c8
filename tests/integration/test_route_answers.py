"""Every route answers what its row in the route table says: each route's ``events/`` sample, run
through its real function on the world the sample names (``bench.world``), succeeds with the row's
status, sends an ETag exactly when the row names one, and that ETag is the entity_version of the
entity the row names; a route that takes If-Match is conditional on it."""

from __future__ import annotations

import importlib
import json
import typing
from typing import Any

import pytest

from bench.world import sample_event, seed, training_job, write_items
from pie_local.settings import LOCAL_TABLE_NAME
from shared.data.entities import JOBS
from shared.routes import ROUTES, ETag, Route
from tests.conftest import LambdaContext

IF_MATCH_ROUTES = [route for route in ROUTES if route.if_match]


def invoke(function: str, event: dict[str, Any]) -> dict[str, Any]:
    handler = importlib.import_module(f"functions.{function}.handler")
    return handler.lambda_handler(event, LambdaContext())


def entity_version(route: Route, body: dict[str, Any]) -> int:
    """The entity_version of the entity the row names, in a response body."""
    assert route.etag is not None
    entity = body if route.etag is ETag.SUBSCRIPTION and route.etag.value not in body else body[route.etag.value]
    return entity["entity_version"]


def world(client: Any, function: str) -> None:
    """The world of ``function``'s sample; only a failed job can be retried."""
    seed(client, LOCAL_TABLE_NAME, function)
    if function == "retry_job":
        write_items(client, LOCAL_TABLE_NAME, [JOBS.encode(training_job("failed"))])


def reader_of(route: Route) -> Route:
    """The GET route that reads the entity a write route is conditional on: its path is the
    write's, or the longest prefix of it."""
    readers = [r for r in ROUTES if r.method == "GET" and r.etag is route.if_match and route.path.startswith(r.path)]
    return max(readers, key=lambda r: len(r.path))


@pytest.mark.parametrize("route", ROUTES, ids=[route.function for route in ROUTES])
def test_the_route_answers_its_rows_status_and_etag(table: Any, route: Route):
    world(table, route.function)

    response = invoke(route.function, sample_event(route.function))

    assert response["statusCode"] == route.status, response.get("body")
    headers = {name.lower(): value for name, value in (response.get("headers") or {}).items()}
    if route.etag is None:
        assert "etag" not in headers
    else:
        assert headers["etag"] == f'"{entity_version(route, json.loads(response["body"]))}"'
    if route.status == 204:
        assert response.get("body", "") == ""


@pytest.mark.parametrize("function", ["get_model", "create_model"])
def test_a_warm_route_does_not_inspect_its_signatures_again(table: Any, function: str, monkeypatch):
    """Powertools keeps what it learns of a middleware's signature on the callable: a middleware
    that cannot keep it (a bound method) was inspected, annotations compiled, on every request."""
    world(table, function)
    event = sample_event(function)
    first = invoke(function, event)
    inspected: list[object] = []
    real = typing.get_type_hints

    def counted(*arguments: Any, **options: Any) -> Any:
        inspected.append(arguments[0])
        return real(*arguments, **options)

    monkeypatch.setattr(typing, "get_type_hints", counted)
    for _ in range(3):
        if function == "create_model":  # a new model each time, or the second is a 409
            body = json.loads(event["body"])
            event = {**event, "body": json.dumps({**body, "id": f"{body['id']}-{len(inspected)}-{_}"})}
        assert invoke(function, event)["statusCode"] == first["statusCode"]

    assert inspected == []


@pytest.mark.parametrize("route", IF_MATCH_ROUTES, ids=[route.function for route in IF_MATCH_ROUTES])
def test_a_route_that_takes_if_match_is_conditional_on_it(table: Any, route: Route):
    world(table, route.function)
    reader = reader_of(route)
    read = invoke(reader.function, sample_event(reader.function))
    current = int(read["headers"]["ETag"].strip('"'))
    stale = sample_event(route.function)
    stale["headers"]["if-match"] = f'"{current + 1}"'
    matching = sample_event(route.function)
    matching["headers"]["if-match"] = f'W/"{current}"'

    assert invoke(route.function, stale)["statusCode"] == 409
    assert invoke(route.function, matching)["statusCode"] == route.status

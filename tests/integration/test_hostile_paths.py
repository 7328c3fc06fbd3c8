"""A path whose last id ends in a newline matches no route: Powertools anchors routes with ``$``,
which also matches before a final newline, so ``/v2/models/fz\\n`` used to reach model ``fz``.

No table is needed: DynamoDB is pointed at a closed port, so a request that reached the registry
would be a 500 at once."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from shared import runtime
from shared.domain.entities import ModelId, VersionId
from shared.http.params import JobIdPath, ModelIdPath, SubscriptionIdPath, VersionPath
from shared.routes import ROUTES, Route
from tests.conftest import invoke
from tests.integration.api_events import assert_error, event_for

ROUTES_WITH_IDS = [route for route in ROUTES if route.path_parameters]


@pytest.fixture(autouse=True)
def _dynamodb_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIE_DYNAMODB_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    runtime.reset()


@pytest.mark.parametrize("route", ROUTES_WITH_IDS, ids=[route.function for route in ROUTES_WITH_IDS])
@pytest.mark.parametrize("ending", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_a_path_whose_last_segment_ends_in_a_newline_is_a_400(route: Route, ending: str):
    event = event_for(route.function)
    event["rawPath"] += ending
    event["requestContext"]["http"]["path"] += ending
    last = route.path_parameters[-1]
    event["pathParameters"][last] += ending

    message = assert_error(invoke(route.function, event), 400)

    assert any(name in message for name in route.path_parameters), message


@pytest.mark.parametrize(
    "annotation",
    [ModelId, VersionId, ModelIdPath, VersionPath, SubscriptionIdPath, JobIdPath],
    ids=["ModelId", "VersionId", "ModelIdPath", "VersionPath", "SubscriptionIdPath", "JobIdPath"],
)
def test_id_patterns_match_the_whole_string(annotation: object):
    valid = "00000000-0000-4000-8000-000000000000"
    adapter = TypeAdapter(annotation)
    assert adapter.validate_python(valid) == valid
    with pytest.raises(ValidationError):
        adapter.validate_python(valid + "\n")

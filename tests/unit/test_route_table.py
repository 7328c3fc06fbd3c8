"""The route table's row says what a route answers, and the resolver wrapper enforces it.

A route function returns its response model; the wrapper answers with the row's status and the
ETag of the entity the row names, and gives the function If-Match as an int. What the row and the
function say must agree, or the function fails at import. (tests/integration/test_route_answers.py
runs every real route this way.)
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from bench.world import training_job
from shared.domain.responses.encoded import Encoded, Json
from shared.domain.responses.jobs import JobResponse
from shared.domain.responses.models import ModelResponse
from shared.http.api import RouteApi, route_api
from shared.http.params import JobIdPath, ModelIdPath
from shared.routes import MODELS_WRITE, ROUTES, ETag, Route, route_for
from tests.conftest import LambdaContext, load_event

ROOT = Path(__file__).resolve().parents[2]
PROTECTED_ROUTES = [route for route in ROUTES if not route.public]
# A retry that keeps no Idempotency-Key records, so the wrapper runs without a table.
RETRY = Route(
    "POST",
    "/v2/models/{model_id}/jobs/{job_id}/retry",
    "retry_job",
    MODELS_WRITE,
    writes=False,
    status=202,
    etag=ETag.JOB,
    if_match=ETag.JOB,
)


def retry_event(if_match: str | None = None) -> dict[str, Any]:
    event = load_event("retry_job")
    if if_match is not None:
        event["headers"]["if-match"] = if_match
    return event


@pytest.mark.parametrize("route", PROTECTED_ROUTES, ids=[route.function for route in PROTECTED_ROUTES])
def test_each_route_function_is_registered_from_its_own_row(route: Route):
    handler = importlib.import_module(f"functions.{route.function}.handler")

    assert handler.api.route is route_for(route.function)
    assert callable(getattr(handler, route.function))


@pytest.mark.parametrize("route", PROTECTED_ROUTES, ids=[route.function for route in PROTECTED_ROUTES])
def test_a_route_function_builds_no_response_and_parses_no_if_match_itself(route: Route):
    source = (ROOT / "functions" / route.function / "handler.py").read_text()

    assert re.search(r"\bResponse\(", source) is None
    for word in ("json_response", "no_content", "parse_if_match", "status=", "etag", "IfMatchHeader"):
        assert word not in source, word


def test_the_wrapper_answers_the_rows_status_and_etag_and_passes_if_match_as_an_int():
    api = RouteApi(RETRY)
    received = []
    job = training_job("failed")

    @api.handler
    def retry_job(model_id: ModelIdPath, job_id: JobIdPath, if_match: int | None = None) -> JobResponse:
        received.append(if_match)
        return JobResponse(job=job)

    response = api.lambda_handler(retry_event('W/"7"'), LambdaContext())

    assert response["statusCode"] == 202
    assert response["headers"]["ETag"] == f'"{job.entity_version}"'
    assert json.loads(response["body"])["job"]["id"] == job.id
    assert received == [7]
    api.lambda_handler(retry_event(), LambdaContext())
    assert received == [7, None]


@pytest.mark.parametrize("malformed", ['"seven"', "*", 'W/""', "-1", "1, 2", "1" * 19, "\u0661"])
def test_a_malformed_if_match_is_a_400_saying_what_one_looks_like_before_the_function_runs(malformed: str):
    api = RouteApi(RETRY)
    received = []

    @api.handler
    def retry_job(model_id: ModelIdPath, job_id: JobIdPath, if_match: int | None = None) -> JobResponse:
        received.append(if_match)
        return JobResponse(job=training_job("failed"))

    response = api.lambda_handler(retry_event(malformed), LambdaContext())

    assert response["statusCode"] == 400
    assert json.loads(response["body"]) == {
        "success": False,
        "message": 'If-Match must be an entity_version, e.g. If-Match: "3"',
    }
    assert received == []


def test_a_function_that_returns_another_model_is_an_internal_error_not_another_answer():
    api = RouteApi(RETRY)

    @api.handler
    def retry_job(model_id: ModelIdPath, job_id: JobIdPath, if_match: int | None = None) -> JobResponse:
        return training_job("failed")  # the job, not the response model

    response = api.lambda_handler(retry_event(), LambdaContext())

    assert response["statusCode"] == 500
    assert "ETag" not in (response.get("headers") or {})


def test_an_encoded_answer_is_sent_as_built_with_the_etag_it_carries():
    api = RouteApi(RETRY)
    job = training_job("failed")
    text = JobResponse(job=job).model_dump_json()

    @api.handler
    def retry_job(model_id: ModelIdPath, job_id: JobIdPath, if_match: int | None = None) -> Encoded[JobResponse]:
        return Encoded(JobResponse, etag=41, job=Json(job.model_dump_json()))

    response = api.lambda_handler(retry_event(), LambdaContext())

    assert (response["statusCode"], response["headers"]["ETag"], response["body"]) == (202, '"41"', text)


@pytest.mark.parametrize(
    "answer",
    [
        lambda job: JobResponse(job=job),  # the model, where its encoding is declared
        lambda job: Encoded(ModelResponse, etag=1, model=Json("{}")),  # another response
        lambda job: Encoded.of(JobResponse(job=job)),  # no ETag, which the row sends
    ],
)
def test_an_encoded_answer_of_another_response_or_without_its_etag_is_an_internal_error(answer: Any):
    api = RouteApi(RETRY)

    @api.handler
    def retry_job(model_id: ModelIdPath, job_id: JobIdPath, if_match: int | None = None) -> Encoded[JobResponse]:
        return answer(training_job("failed"))

    response = api.lambda_handler(retry_event(), LambdaContext())

    assert response["statusCode"] == 500
    assert "ETag" not in (response.get("headers") or {})


def _returns_a_model_for_a_204(model_id: ModelIdPath) -> JobResponse: ...
def _declares_no_return(model_id: ModelIdPath): ...
def _holds_no_job(model_id: ModelIdPath, job_id: JobIdPath, if_match: int | None = None) -> ModelResponse: ...
def _takes_no_if_match(model_id: ModelIdPath, job_id: JobIdPath) -> JobResponse: ...
def _returns_nothing_for_a_202(model_id: ModelIdPath, job_id: JobIdPath, if_match: int | None = None) -> None: ...
def _right_but_misnamed(model_id: ModelIdPath, job_id: JobIdPath, if_match: int | None = None) -> JobResponse: ...


DELETE = Route("DELETE", "/v2/models/{model_id}", "delete_model", MODELS_WRITE, status=204, if_match=None)


@pytest.mark.parametrize(
    ("route", "endpoint", "name"),
    [
        (DELETE, _returns_a_model_for_a_204, "delete_model"),
        (DELETE, _declares_no_return, "delete_model"),
        (RETRY, _holds_no_job, "retry_job"),
        (RETRY, _takes_no_if_match, "retry_job"),
        (RETRY, _returns_nothing_for_a_202, "retry_job"),
        (RETRY, _right_but_misnamed, "retry"),
    ],
    ids=["model-for-204", "no-return", "etag-entity-missing", "if-match-missing", "none-for-202", "misnamed"],
)
def test_a_function_that_disagrees_with_its_row_fails_at_import(route: Route, endpoint: Any, name: str):
    endpoint.__name__ = name

    with pytest.raises(TypeError):
        RouteApi(route).handler(endpoint)


def test_route_api_takes_a_handler_modules_name_only():
    assert route_api("functions.get_model.handler").route is route_for("get_model")
    with pytest.raises(ValueError):
        route_api("shared.http.api")
    with pytest.raises(KeyError):
        route_api("functions.no_such_function.handler")

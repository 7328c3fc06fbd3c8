"""events/: realistic sample events, at least one per function.

A route function has exactly one, ``events/<function>.json``, an HTTP API payload 2.0 request. The
job functions, which no route serves, have theirs named ``<function>.json`` or
``<function>_<variant>.json``: a DynamoDB Streams batch for the dispatcher, EventBridge deliveries
for the job completion function.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.data.entities import JOBS
from shared.dispatch.completions import completion_request
from shared.domain.entities import Job
from shared.kinds.ecs import ECS_ENVIRONMENT_VARIABLE
from shared.kinds.ecs import task_result as ecs_task_result
from shared.kinds.envelope import JobEnvelope
from shared.kinds.lambda_ import destination_result as lambda_destination_result
from shared.routes import ROUTES, Route
from tests.conftest import EVENTS, ROOT, load_event

ROUTE_IDS = [route.function for route in ROUTES]
PROTECTED_ROUTES = [route for route in ROUTES if not route.public]
PUBLIC_ROUTES = [route for route in ROUTES if route.public]
FUNCTIONS = sorted(path.parent.name for path in (ROOT / "functions").glob("*/handler.py"))
SAMPLES = sorted(path.stem for path in Path(EVENTS).glob("*.json"))


def function_of(sample: str) -> str | None:
    """The function a sample belongs to: its own name, or the longest ``<function>_`` prefix."""
    owners = [f for f in FUNCTIONS if sample == f or sample.startswith(f"{f}_")]
    return max(owners, key=len, default=None)


def test_every_sample_event_belongs_to_a_function():
    assert [sample for sample in SAMPLES if function_of(sample) is None] == []


def test_every_function_has_a_sample_event():
    assert [f for f in FUNCTIONS if f not in {function_of(sample) for sample in SAMPLES}] == []


def test_each_route_function_has_exactly_one_sample_named_after_it():
    for route in ROUTES:
        assert [s for s in SAMPLES if function_of(s) == route.function] == [route.function]


def test_the_functions_without_a_route_are_the_job_functions():
    assert set(FUNCTIONS) - {route.function for route in ROUTES} == {
        "dispatch_jobs",
        "complete_job_events",
        "sweep_jobs",
        "deliver_webhooks",
    }


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_the_sample_event_is_a_payload_2_0_request_for_its_route(route: Route):
    event = load_event(route.function)

    assert event["version"] == "2.0"
    assert event["routeKey"] == route.route_key
    assert event["requestContext"]["routeKey"] == route.route_key
    assert event["requestContext"]["http"]["method"] == route.method
    assert event["requestContext"]["stage"] == "$default"
    assert event["isBase64Encoded"] is False
    expected_path = route.path
    for name in route.path_parameters:
        expected_path = expected_path.replace(f"{{{name}}}", event["pathParameters"][name])
    assert event["rawPath"] == expected_path
    assert event["requestContext"]["http"]["path"] == expected_path
    assert set(event.get("pathParameters") or {}) == set(route.path_parameters)


@pytest.mark.parametrize("route", PROTECTED_ROUTES, ids=[route.function for route in PROTECTED_ROUTES])
def test_the_sample_event_carries_a_bearer_token_and_string_jwt_claims(route: Route):
    event = load_event(route.function)
    jwt = event["requestContext"]["authorizer"]["jwt"]

    assert event["headers"]["authorization"].startswith("Bearer ")
    assert all(name == name.lower() for name in event["headers"])
    assert jwt["scopes"] is None
    assert all(isinstance(value, str) for value in jwt["claims"].values())
    assert {"sub", "iss", "aud", "exp", "iat", "scope"} <= set(jwt["claims"])
    assert route.scope in jwt["claims"]["scope"].split()
    assert event["requestContext"]["accountId"] == "123456789012"


@pytest.mark.parametrize("route", PUBLIC_ROUTES, ids=[route.function for route in PUBLIC_ROUTES])
def test_a_public_route_sample_carries_no_token_and_no_authorizer(route: Route):
    event = load_event(route.function)

    assert "authorization" not in event["headers"]
    assert "authorizer" not in event["requestContext"]


# Actions on a job or a webhook that take nothing but their path (sent without a body).
BODYLESS_POSTS = {"cancel_job", "retry_job", "rotate_webhook_secret", "ping_webhook", "retry_webhook_delivery"}


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_write_samples_carry_a_json_body_and_reads_carry_none(route: Route):
    event = load_event(route.function)

    if route.function in BODYLESS_POSTS:
        assert "body" not in event and event["headers"]["content-length"] == "0"
    elif route.method in {"POST", "PUT"}:
        assert event["headers"]["content-type"] == "application/json"
        assert isinstance(json.loads(event["body"]), dict)
        assert event["headers"]["content-length"] == str(len(event["body"].encode()))
    else:
        assert "body" not in event


# A model's aliases are a handful, answered whole: that list takes no query.
UNPAGED_LISTS = {"list_aliases"}
LIST_ROUTES = [route for route in ROUTES if route.function.startswith("list_") and route.function not in UNPAGED_LISTS]


@pytest.mark.parametrize("route", LIST_ROUTES, ids=[route.function for route in LIST_ROUTES])
def test_list_samples_spell_their_query_both_ways(route: Route):
    event = load_event(route.function)
    query = event["queryStringParameters"]
    assert event["rawQueryString"] == "&".join(f"{name}={value}" for name, value in query.items())


def test_the_samples_use_the_seed_documents_model():
    create = json.loads(load_event("create_model")["body"])

    assert create["id"] == "model_price_reco_v1"
    assert create["name"] == "Price recommendation"
    assert create["metadata"] == {"team": "pricing"}
    assert create["handlers"] == {
        "training": {
            "type": "lambda",
            "arn": "arn:aws:lambda:us-west-2:123456789012:function:train",
            "version": "1",
        },
        "inference": {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:infer"},
    }
    for route in ROUTES:
        parameters = load_event(route.function).get("pathParameters") or {}
        assert parameters.get("model_id", "model_price_reco_v1") == "model_price_reco_v1"


# The job functions' samples -----------------------------------------------------------------------

SEED_INFERENCE_ARN = "arn:aws:lambda:us-west-2:123456789012:function:infer"


def test_the_dispatcher_sample_is_a_stream_insert_of_a_queued_job_exactly_as_pie_writes_it():
    (record,) = load_event("dispatch_jobs")["Records"]
    stream = record["dynamodb"]
    image = stream["NewImage"]
    job = Job.model_validate_json(image["doc"]["S"])

    assert record["eventName"] == "INSERT"
    assert record["eventSource"] == "aws:dynamodb"
    assert record["eventSourceARN"].startswith("arn:aws:dynamodb:us-west-2:123456789012:table/")
    assert "/stream/" in record["eventSourceARN"]
    assert stream["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert stream["SequenceNumber"].isdigit()
    assert "OldImage" not in stream
    assert stream["Keys"] == {"PK": image["PK"], "SK": image["SK"]}
    assert image == JOBS.encode(job)
    assert image["entity_type"] == {"S": "JOB"}
    assert job.status == "queued"
    assert job.model_id == "model_price_reco_v1"
    assert job.handler.model_dump() == {"type": "lambda", "arn": SEED_INFERENCE_ARN}


def test_the_lambda_result_sample_is_a_destination_record_on_eventbridge_for_a_pie_job():
    event = load_event("complete_job_events")
    detail = event["detail"]
    function_arn = detail["requestContext"]["functionArn"]

    assert event["source"] == "lambda"
    assert event["detail-type"] == "Lambda Function Invocation Result - Success"
    assert function_arn in event["resources"]
    assert function_arn.startswith(SEED_INFERENCE_ARN + ":")
    assert detail["requestContext"]["condition"] == "Success"
    envelope = JobEnvelope.model_validate(detail["requestPayload"])
    assert envelope.completion.path == f"/v2/models/{envelope.model_id}/jobs/{envelope.job_id}/complete"
    reported = lambda_destination_result(detail)
    assert reported is not None
    assert (reported.model_id, reported.job_id) == (envelope.model_id, envelope.job_id)
    assert completion_request(reported).status == "succeeded"
    assert completion_request(reported).output == detail["responsePayload"]


def test_the_ecs_sample_is_the_stop_of_a_task_pie_started_for_a_job():
    event = load_event("complete_job_events_ecs")
    detail = event["detail"]
    (override,) = detail["overrides"]["containerOverrides"]
    (variable,) = override["environment"]
    envelope = JobEnvelope.model_validate_json(variable["value"])

    assert event["source"] == "aws.ecs"
    assert event["detail-type"] == "ECS Task State Change"
    assert detail["lastStatus"] == "STOPPED"
    assert variable["name"] == ECS_ENVIRONMENT_VARIABLE
    assert detail["startedBy"] == envelope.job_id
    assert override["name"] == detail["containers"][0]["name"]
    assert [container["exitCode"] for container in detail["containers"]] == [0]
    reported = ecs_task_result(detail)
    assert reported is not None
    assert (reported.model_id, reported.job_id, reported.source) == (
        envelope.model_id,
        envelope.job_id,
        "ml-cluster/train-price-model:3",
    )
    assert completion_request(reported).status == "succeeded"

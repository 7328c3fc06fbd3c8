"""Every operation of the published OpenAPI document, fuzzed against a running ``pie-local serve``.

Schemathesis generates valid and invalid requests for each operation (its examples, coverage and
fuzzing phases, a bounded number each so the whole module stays well under a minute and a half
on two cores), sent with a token holding every scope (and pie:admin), many of them aimed at resources that exist.
Every answer must be no 5xx, conform to the document (status code, content type, headers, body
schema), accept valid data, refuse invalid data with one of PIE's refusals, and read
``{success: false, message}`` when it is a refusal.

Problems it found that are still open are listed in ``fuzz_support.OPEN_BUGS``: their answers are
excused in the fuzz run and each is reproduced below by a strict-xfail test.

The fuzzer has its own server, so its random creates and deletes stay out of the tables the rest
of the end-to-end suite reads.

Not run: schemathesis's stateful phase. Its checks (use_after_free, ensure_resource_availability)
need the recorded scenario of a state-machine run, and Hypothesis's state machine replays its
choices against a server whose state has moved on (FlakyStrategyDefinition). Those chains (create,
read, delete, read again: 404) are proven in test_models_over_http.py and
test_subscriptions_over_http.py.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, event, settings
from jsonschema import Draft202012Validator

from tests.e2e.client import Api, assert_error, mint
from tests.e2e.documents import model_document, unique_id
from tests.e2e.fuzz_support import (
    OPEN_BUGS,
    PUBLISHED_DOCUMENT,
    PathAim,
    Seeded,
    alias_only_with_alias_events,
    drop_unissued_page_tokens,
    integers_without_fraction,
    load_published_document,
    only_parsable_filters,
    open_bug_behind,
    path_parameter_patterns,
    refusals_say_why,
    seed_resources,
)
from tests.e2e.local_server import LocalServer, serving

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = 25

# Loaded from the file rather than with schemathesis.pytest.from_fixture, whose lazy loader reads
# pytest's private Node._nodeid (gone in pytest 9.2); the first test proves the server serves it.
schema = load_published_document()
aim = PathAim(path_parameter_patterns(schema.raw_schema))
schema.hook("flatmap_path_parameters")(aim)
schema.hook("map_case")(drop_unissued_page_tokens)
schema.hook("map_case")(integers_without_fraction)
schema.hook("map_case")(only_parsable_filters)
schema.hook("map_case")(alias_only_with_alias_events)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    home = tmp_path_factory.mktemp("pie-fuzz") / ".pie-local"
    with serving(home) as running:
        yield running


@pytest.fixture(scope="module")
def admin(fuzz_server: LocalServer) -> Api:
    # pie:admin as well: a generated workspace is one this caller may create models in.
    return Api(fuzz_server.url, mint(fuzz_server.home, "--admin"))


@pytest.fixture
def seeded(admin: Api) -> Seeded:
    """Fresh for each operation: the fuzzer may delete what it aims at."""
    resources = seed_resources(admin)
    aim.targets = resources.path_values()
    return resources


def test_the_server_publishes_the_fuzzed_document(fuzz_server: LocalServer):
    with urllib.request.urlopen(f"{fuzz_server.url}/v2/openapi.json", timeout=10) as response:
        served = json.load(response)

    assert served == json.loads(PUBLISHED_DOCUMENT.read_text())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_answers_as_documented(case: schemathesis.Case, admin: Api, seeded: Seeded) -> None:
    headers = {"Authorization": f"Bearer {admin.token}"}
    response = case.call(base_url=admin.base_url, headers=headers)
    event(f"answered {response.status_code}")  # see --hypothesis-show-statistics
    bug = open_bug_behind(case, response)
    if bug is not None:
        event(f"excused: {bug}")
        return
    case.validate_response(response, headers=headers, additional_checks=[refusals_say_why])


# The open bugs, one minimal reproduction each ---------------------------------------------------


def test_every_open_bug_is_reproduced_by_a_strict_xfail_here():
    reasons = {
        mark.kwargs["reason"]
        for test in globals().values()
        if callable(test) and getattr(test, "__name__", "").startswith("test_")
        for mark in getattr(test, "pytestmark", [])
        if mark.name == "xfail" and mark.kwargs.get("strict")
    }

    assert {bug.title for bug in OPEN_BUGS.values()} == reasons


def _operation(path: str, method: str) -> dict[str, Any]:
    return schema.raw_schema["paths"][path][method]


def _document_validator(schema_fragment: dict[str, Any]) -> Draft202012Validator:
    """Validates against a part of the document, its ``#/components/...`` references resolved."""
    return Draft202012Validator({**schema_fragment, "components": schema.raw_schema["components"]})


def _request_body_validator(path: str, method: str) -> Draft202012Validator:
    return _document_validator(_operation(path, method)["requestBody"]["content"]["application/json"]["schema"])


def test_a_json_document_sent_as_text_plain_is_refused_with_a_400(admin: Api):
    body = json.dumps(model_document(unique_id("fuzz"))).encode()

    reply = admin.request("POST", "/v2/models", body=body, headers={"Content-Type": "text/plain"})

    assert_error(reply, 400)


def test_a_trace_request_is_a_405_naming_the_allowed_methods(admin: Api):
    reply = admin.request("TRACE", "/v2/models")

    assert_error(reply, 405)
    assert reply.headers["Allow"] == "GET, POST"


def test_the_document_declares_no_body_for_a_204(admin: Api):
    model_id = unique_id("fuzz")
    assert admin.post("/v2/models", model_document(model_id)).status == 201

    reply = admin.delete(f"/v2/models/{model_id}")

    assert (reply.status, reply.body, reply.headers.get("Content-Type")) == (204, b"", None)
    for path in ("/v2/models/{model_id}", "/v2/models/{model_id}/event-subscriptions/{subscription_id}"):
        assert "content" not in _operation(path, "delete")["responses"]["204"], path


def test_an_if_match_the_document_accepts_is_not_refused_as_malformed(admin: Api, seeded: Seeded):
    path = "/v2/models/{model_id}"
    header = next(p for p in _operation(path, "put")["parameters"] if p["name"].lower() == "if-match")
    update = {"name": "n", "description": "", "handlers": model_document("x")["handlers"], "metadata": {}}

    reply = admin.put(f"/v2/models/{seeded.model_id}", update, headers={"If-Match": "abc"})

    documented_valid = _document_validator(header["schema"]).is_valid("abc")
    assert (documented_valid, reply.status) != (True, 400), reply.body


@pytest.mark.parametrize(
    "input_fields",
    [{"input_source": "stored"}, {"input_source": "trigger_output", "input": {"rows": 1}}],
    ids=["stored-without-input", "trigger-output-with-input"],
)
def test_a_subscription_the_server_refuses_as_malformed_is_invalid_in_the_document_too(
    admin: Api, seeded: Seeded, input_fields: dict[str, Any]
):
    body = {
        "trigger_event": "training_complete",
        "target_model_id": seeded.model_id,
        "target_action": "training",
        **input_fields,
    }

    reply = admin.post(f"/v2/models/{seeded.model_id}/event-subscriptions", body)

    assert reply.status == 400, reply.body
    assert not _request_body_validator("/v2/models/{model_id}/event-subscriptions", "post").is_valid(body)


def test_an_input_for_a_trigger_output_subscription_is_a_422(admin: Api, seeded: Seeded):
    path = f"/v2/models/{seeded.model_id}/event-subscriptions/{seeded.subscription_id}"

    reply = admin.put(path, {"input": {"rows": 1}})

    assert_error(reply, 422)

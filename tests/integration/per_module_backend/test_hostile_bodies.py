"""Bodies built to break the parser rather than the rules: every route that takes a body refuses them
with a 400 in PIE's error shape, quickly, and writes nothing.

- integers past Python's int conversion limit (4300 digits), which ``json.loads`` refuses with a
  ``ValueError`` that is not a ``JSONDecodeError``;
- lone UTF-16 surrogate escapes (``"\\ud800"``), which parse to a string UTF-8 cannot encode (a
  500 when stored, or silently replaced by U+FFFD in a metadata key);
- 1 MB bodies shaped against the nesting-depth check that runs on the raw text before parsing.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable
from importlib import import_module
from typing import Any

import pytest

from shared.routes import ROUTES, route_for
from tests.integration.api_events import (
    SEED_MODEL_ID,
    Response,
    assert_error,
    call,
    create_model,
    make_active,
    sample_body,
)
from tests.integration.job_helpers import start_inference, started_job
from tests.integration.subscription_helpers import (
    create_subscription,
    whole_table,
)

TARGET_MODEL_ID = "model_price_elasticity"
MEGABYTE = 1 << 20
HOSTILE_TIME_LIMIT_SECONDS = 1.0
# A body that passes the checks on the raw text is parsed and validated in full before it is
# refused; the same bound holds (the NaN check walks it in C, the parse pauses the collector).
PARSED_TIME_LIMIT_SECONDS = 1.0

# Where each route that takes a body accepts a caller's free-form document or text; the hostile
# value goes there, so only the parse can stop it.
FREE_FORM: dict[str, Callable[[dict[str, Any], Any], None]] = {
    "create_model": lambda body, value: body.update(id="hostile_model", metadata=value),
    "update_model": lambda body, value: body.update(metadata=value),
    "create_version": lambda body, value: body.update(version="2", metadata=value),
    "set_version_status": lambda body, value: body.update(
        status_message=value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    ),
    "create_subscription": lambda body, value: body.update(input=value),
    "update_subscription": lambda body, value: body.update(input=value),
    "test_subscription": lambda body, value: body.update(trigger_output=value),
    "start_inference": lambda body, value: body.update(input=value),
    "start_training": lambda body, value: body.update(input=value, version="1"),
    "complete_job": lambda body, value: body.update(output=value),
    # Its only free text is an in-process implementation's name: a hostile string goes there.
    "check_handlers": lambda body, value: body["handlers"][0]["training"].update(
        type="in_process", implementation=value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    ),
    "set_alias": lambda body, value: body.update(
        version="1", reason=value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    ),
    "create_webhook": lambda body, value: body.update(
        description=value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    ),
    "update_webhook": lambda body, value: body.update(
        description=value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    ),
}
BODY_ROUTES = sorted(FREE_FORM)


@pytest.fixture
def world(table: Any) -> dict[str, str]:
    """A source model with a subscription to a target model and a job: every body route has
    something to act on. Returns the path parameters of each route."""
    create_model()
    make_active(SEED_MODEL_ID)
    create_model(TARGET_MODEL_ID)
    subscription = create_subscription(SEED_MODEL_ID, TARGET_MODEL_ID)
    job = started_job(start_inference(SEED_MODEL_ID, {"features": [0.2]}))
    webhook = call("create_webhook", body={"url": "http://127.0.0.1:9/hook", "events": ["*"]})[1]
    return {
        "model_id": SEED_MODEL_ID,
        "model_version": "1",
        "subscription_id": subscription["id"],
        "job_id": job["id"],
        "alias": "champion",
        "webhook_id": webhook["webhook"]["id"],
    }


def _request(function: str, world: dict[str, str], raw_body: str) -> Response:
    path = {name: world[name] for name in route_for(function).path_parameters}
    return call(function, raw_body=raw_body, **path)


def _body_with(function: str, marker: Any) -> dict[str, Any]:
    body = sample_body(function)
    FREE_FORM[function](body, marker)
    return body


def _takes_a_body(function: str) -> bool:
    endpoint = getattr(import_module(f"functions.{function}.handler"), function, None)
    return endpoint is not None and "body" in inspect.signature(endpoint).parameters


def test_every_route_that_takes_a_body_is_covered():
    assert sorted(route.function for route in ROUTES if _takes_a_body(route.function)) == BODY_ROUTES


# Integers past Python's conversion limit -------------------------------------------------------------


@pytest.mark.parametrize("function", BODY_ROUTES)
def test_an_integer_of_more_than_4300_digits_is_a_400_and_writes_nothing(
    table: Any, world: dict[str, str], function: str
):
    raw_body = json.dumps(_body_with(function, "HUGE")).replace('"HUGE"', "9" * 4301)
    before = whole_table(table)

    message = assert_error(_request(function, world, raw_body), 400)

    assert "4300 digits" in message
    assert whole_table(table) == before


def test_an_integer_of_4300_digits_is_still_a_number(world: dict[str, str]):
    raw_body = json.dumps(_body_with("update_model", {"n": "HUGE"})).replace('"HUGE"', "9" * 4300)

    status, body, _ = _request("update_model", world, raw_body)

    assert status == 200, body
    assert body is not None and body["model"]["metadata"] == {"n": int("9" * 4300)}


# Lone surrogates ------------------------------------------------------------------------------------

LONE_SURROGATES = {
    "value": {"note": "\ud800"},
    "key": {"\ud800": "note"},
    "low-half": {"note": "a\udfffb"},
    "reversed-pair": {"note": "\ude00\ud83d"},
}


@pytest.mark.parametrize("function", BODY_ROUTES)
@pytest.mark.parametrize("where", sorted(LONE_SURROGATES))
def test_a_lone_surrogate_escape_is_a_400_and_writes_nothing(
    table: Any, world: dict[str, str], function: str, where: str
):
    raw_body = json.dumps(_body_with(function, LONE_SURROGATES[where]))
    assert "\\ud" in raw_body.lower()
    before = whole_table(table)

    message = assert_error(_request(function, world, raw_body), 400)

    assert "surrogate" in message
    assert whole_table(table) == before


def test_a_surrogate_pair_escape_is_the_character_it_encodes(world: dict[str, str]):
    metadata = {"\U0001f600": "\U0001f600 ok"}
    raw_body = json.dumps(_body_with("update_model", metadata))
    assert "\\ud83d\\ude00" in raw_body

    status, body, _ = _request("update_model", world, raw_body)

    assert status == 200, body
    assert body is not None and body["model"]["metadata"] == metadata


def test_an_escaped_backslash_before_u_d800_is_plain_text(world: dict[str, str]):
    metadata = {"path": "C:\\ud800"}

    status, body, _ = _request("update_model", world, json.dumps(_body_with("update_model", metadata)))

    assert status == 200, body
    assert body is not None and body["model"]["metadata"] == metadata


# Bodies against the pre-parse nesting check --------------------------------------------------------


def _update_with_metadata(metadata_json: str) -> str:
    """A complete update_model body whose metadata is ``metadata_json`` (raw JSON text)."""
    return json.dumps({**sample_body("update_model"), "metadata": "METADATA"}).replace('"METADATA"', metadata_json)


HOSTILE_SHAPES = {
    "escaped-quotes-unterminated": '"' + '\\"' * (MEGABYTE // 2),
    "escaped-quotes-in-a-string": _update_with_metadata('{"a": "' + '\\"' * (MEGABYTE // 2) + '"}'),
    "backslashes-unterminated": '"' + "\\" * MEGABYTE,
    "bare-quotes": '"' * MEGABYTE,
    "nesting-10000": _update_with_metadata('{"a": ' + "[" * 10_000 + "]" * 10_000 + "}"),
    "nesting-half-a-million": "[" * (MEGABYTE // 2) + "]" * (MEGABYTE // 2),
    "long-string": _update_with_metadata('{"a": "' + "x" * MEGABYTE + '"}'),
    # Sent as the whole body (an array, refused once parsed), so what is timed is the check on the
    # raw text and the parse, not the validation of a document this large.
    "many-small-objects": "[" + ",".join(['{"k":[1]}'] * (MEGABYTE // 10)) + "]",
    "many-empty-arrays": "[" + ",".join(["[]"] * (MEGABYTE // 3)) + "]",
    "quoted-brackets": '"[' * (MEGABYTE // 2),
}
PARSED_IN_FULL = {"escaped-quotes-in-a-string", "long-string", "many-small-objects", "many-empty-arrays"}


@pytest.mark.parametrize("shape", sorted(HOSTILE_SHAPES))
def test_a_one_megabyte_body_of_any_shape_is_answered_within_a_second(world: dict[str, str], shape: str):
    started = time.perf_counter()
    response = _request("update_model", world, HOSTILE_SHAPES[shape])
    elapsed = time.perf_counter() - started

    assert_error(response, 400)
    limit = PARSED_TIME_LIMIT_SECONDS if shape in PARSED_IN_FULL else HOSTILE_TIME_LIMIT_SECONDS
    assert elapsed < limit, f"{shape}: {elapsed:.2f} s"


@pytest.mark.parametrize("function", BODY_ROUTES)
def test_a_one_megabyte_escaped_quote_body_is_refused_within_a_second_on_every_route(
    world: dict[str, str], function: str
):
    started = time.perf_counter()
    response = _request(function, world, HOSTILE_SHAPES["escaped-quotes-unterminated"])
    elapsed = time.perf_counter() - started

    message = assert_error(response, 400)
    assert "JSON" in message
    assert elapsed < HOSTILE_TIME_LIMIT_SECONDS, f"{function}: {elapsed:.2f} s"


def test_nesting_deeper_than_64_levels_is_refused_by_name(world: dict[str, str]):
    message = assert_error(_request("update_model", world, HOSTILE_SHAPES["nesting-10000"]), 400)
    assert "deeper than 64" in message

"""A contract's regular expressions cannot stall PIE: each route that checks a payload against a
contract gives the right answer after well under a second of validation, and a pattern PIE's
linear-time engine (RE2) cannot run is refused when the contract is registered, naming it.

``^(a+)+$`` against 29 ``a``s and a ``!`` took Python's backtracking ``re`` (through jsonschema) over
a minute, on every route below: inference (422), a subscription's stored input (a warning), a
completion through the API and an in-process job completed by the dispatcher (warnings). The time
measured is the CPU time the real handlers spend in contract validation (``validation_time``), so
a loaded test machine, or the rest of the request (moto, imports), cannot fail these tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from shared.domain import contracts
from shared.services import job_endings
from tests.integration.api_events import assert_error, call, create_model, make_active, sample_body
from tests.integration.job_helpers import (
    complete,
    dispatch,
    get_job,
    start_inference,
    start_training,
    started_job,
    table_stream,
)
from tests.integration.lifecycle_helpers import walk_to

CATASTROPHIC = "^(a+)+$"
HOSTILE = "a" * 29 + "!"
MATCHING = "a" * 29
NAMED = {"type": "object", "properties": {"name": {"type": "string", "pattern": CATASTROPHIC}}}
ECHO = {"type": "in_process", "implementation": "echo"}
# No request may spend more than a second validating; these need milliseconds.
SECOND = 1.0


@pytest.fixture
def validation_time(monkeypatch: pytest.MonkeyPatch) -> Callable[[], float]:
    """CPU seconds the handlers spent in contract validation since the last call."""
    spent: list[float] = []
    validate = contracts.schema_violations

    def timed(instance: Any, schema: Any) -> list[str]:
        started = time.thread_time()
        try:
            return validate(instance, schema)
        finally:
            spent.append(time.thread_time() - started)

    monkeypatch.setattr(contracts, "schema_violations", timed)

    def since_last_call() -> float:
        total = sum(spent)
        spent.clear()
        return total

    return since_last_call


def test_an_inference_input_against_a_catastrophic_pattern_is_a_422_at_once(
    table: Any, validation_time: Callable[[], float]
):
    create_model("named", handler_contracts={"inference": {"input_schema": NAMED}})
    make_active("named")

    status, body, _ = start_inference("named", {"name": HOSTILE})
    assert 0 < validation_time() < SECOND
    assert status == 422, body
    assert f"{HOSTILE!r} does not match {CATASTROPHIC!r}" in body["message"]

    assert started_job(start_inference("named", {"name": MATCHING}))["status"] == "queued"
    assert 0 < validation_time() < SECOND


def test_a_training_input_against_a_catastrophic_pattern_is_a_422_at_once(
    table: Any, validation_time: Callable[[], float]
):
    create_model("named", handler_contracts={"training": {"input_schema": NAMED}})

    status, body, _ = start_training("named", {"name": HOSTILE})
    assert 0 < validation_time() < SECOND
    assert status == 422, body
    assert CATASTROPHIC in body["message"]


def test_a_stored_subscription_input_against_a_catastrophic_pattern_is_a_warning_at_once(
    table: Any, validation_time: Callable[[], float]
):
    create_model("source")
    create_model("target", handler_contracts={"inference": {"input_schema": NAMED}})
    subscription = {
        "trigger_event": "training_complete",
        "target_model_id": "target",
        "target_action": "inference",
        "input_source": "stored",
        "input": {"name": HOSTILE},
    }

    status, body, _ = call("create_subscription", body=subscription, model_id="source")

    assert 0 < validation_time() < SECOND
    assert status == 201, body
    assert body["status"] == "active"
    assert [w for w in body["warnings"] if f"{HOSTILE!r} does not match {CATASTROPHIC!r}" in w], body


def test_a_completion_whose_output_meets_a_catastrophic_pattern_succeeds_with_a_warning_at_once(
    table: Any, validation_time: Callable[[], float]
):
    create_model("named", handler_contracts={"inference": {"output_schema": NAMED}})
    make_active("named")
    job = started_job(start_inference("named", {}))
    validation_time()

    status, body, _ = complete("named", job["id"], {"status": "succeeded", "output": {"name": HOSTILE}})

    assert 0 < validation_time() < SECOND
    assert status == 200, body
    assert body["job"]["status"] == "succeeded"
    assert [w for w in body["warnings"] if "output_schema" in w and CATASTROPHIC in w], body


def test_the_dispatcher_completes_an_in_process_job_against_a_catastrophic_pattern_at_once(
    table: Any, monkeypatch: pytest.MonkeyPatch, validation_time: Callable[[], float]
):
    logged: list[dict[str, Any]] = []
    monkeypatch.setattr(
        job_endings.logger, "warning", lambda message, **kwargs: logged.append({"message": message, **kwargs})
    )
    handlers = {"training": ECHO, "inference": ECHO}
    create_model("echo", handlers=handlers, handler_contracts={"inference": {"output_schema": NAMED}})
    walk_to("echo", "1", "active")
    job = started_job(start_inference("echo", {"name": HOSTILE}))
    records = table_stream().read()
    validation_time()

    assert dispatch(records) == {"batchItemFailures": []}

    assert 0 < validation_time() < SECOND
    done = get_job("echo", job["id"])
    assert (done["status"], done["output"]) == ("succeeded", {"name": HOSTILE})
    (warned,) = [entry for entry in logged if entry["message"] == "job output breaks its contract"]
    assert any(CATASTROPHIC in warning for warning in warned["extra"]["warnings"])


# Registration ----------------------------------------------------------------------------------------

UNRUNNABLE = {
    "backreference": r"^(\w)\1$",
    "lookahead": "^(?=.*[0-9])[a-z0-9]{8,}$",
    "lookbehind": r"(?<!\$)\d+",
}


def _contracts_with(pattern: str, where: str) -> dict[str, Any]:
    schema = (
        {"type": "object", "properties": {"code": {"type": "string", "pattern": pattern}}}
        if where == "pattern"
        else {"type": "object", "patternProperties": {pattern: {"type": "number"}}}
    )
    return {"inference": {"input_schema": {"type": "object"}, "output_schema": schema}}


@pytest.mark.parametrize("where", ["pattern", "patternProperties"])
@pytest.mark.parametrize("pattern", UNRUNNABLE.values(), ids=UNRUNNABLE.keys())
def test_creating_a_model_with_a_pattern_re2_cannot_run_is_a_400_naming_it(table: Any, pattern: str, where: str):
    body = {**sample_body("create_model"), "id": "unrunnable", "handler_contracts": _contracts_with(pattern, where)}

    message = assert_error(call("create_model", body=body), 400)

    assert repr(pattern) in message and "RE2" in message, message
    assert_error(call("get_model", model_id="unrunnable"), 404)


@pytest.mark.parametrize("where", ["pattern", "patternProperties"])
@pytest.mark.parametrize("pattern", UNRUNNABLE.values(), ids=UNRUNNABLE.keys())
def test_updating_a_model_with_a_pattern_re2_cannot_run_is_a_400_naming_it(table: Any, pattern: str, where: str):
    create_model("kept", handler_contracts={"inference": {"input_schema": NAMED}})
    update = {key: sample_body("update_model")[key] for key in ("name", "description", "handlers", "metadata")}
    update["handler_contracts"] = _contracts_with(pattern, where)

    message = assert_error(call("update_model", body=update, model_id="kept"), 400)

    assert repr(pattern) in message and "RE2" in message, message
    status, body, _ = call("get_model", model_id="kept")
    assert status == 200 and body["model"]["handler_contracts"]["inference"]["input_schema"] == NAMED, body


def test_a_contract_with_patterns_re2_runs_is_registered_as_given(table: Any):
    schema = {"patternProperties": {r"^x-[a-z]+$": {"type": "string"}}, "properties": {"id": {"pattern": CATASTROPHIC}}}

    created = create_model("fine", handler_contracts={"inference": {"input_schema": schema}})

    assert created["model"]["handler_contracts"]["inference"]["input_schema"] == schema

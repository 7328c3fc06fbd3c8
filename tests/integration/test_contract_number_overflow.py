"""Numbers past the largest float against ``multipleOf``: every route that checks a contract answers
as for any other payload (accepted, 422 on an input, a warning on an output or a stored input),
never 500; jsonschema alone raised ``OverflowError`` on them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.api_events import assert_error, call, create_model, make_active
from tests.integration.job_helpers import complete, start_inference, start_training, started_job

NINES = int("9" * 309)  # an odd integer past 1.8e308: a multiple of 0.5, not of 2.0
BIG_DIVISOR = int("7" * 4000)


def _contracts(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "training": {"input_schema": schema, "output_schema": schema},
        "inference": {"input_schema": schema, "output_schema": schema},
    }


def _checked(divisor: float | int) -> dict[str, Any]:
    return {"type": "object", "properties": {"n": {"multipleOf": divisor}}}


@pytest.mark.parametrize(
    ("divisor", "number"),
    [(2.0, NINES), (0.1, 10**309), (BIG_DIVISOR, 1.7e308)],
    ids=["nines-by-two", "tenth", "huge-divisor"],
)
@pytest.mark.parametrize("start", [start_inference, start_training], ids=["inference", "training"])
def test_an_input_past_the_largest_float_that_is_no_multiple_is_a_422(
    table: Any, start: Any, divisor: float | int, number: float | int
):
    create_model("overflow", handler_contracts=_contracts(_checked(divisor)))
    make_active("overflow")

    message = assert_error(start("overflow", {"n": number}), 422)

    assert "is not a multiple of" in message


@pytest.mark.parametrize("divisor", [0.5, 5e-324], ids=["half", "smallest-float"])
def test_an_input_past_the_largest_float_that_is_a_multiple_is_accepted(table: Any, divisor: float):
    create_model("overflow", handler_contracts=_contracts(_checked(divisor)))
    make_active("overflow")

    job = started_job(start_inference("overflow", {"n": NINES if divisor == 0.5 else 10**309}))

    assert job["status"] == "queued"


def test_a_completion_whose_output_overflows_succeeds_with_a_warning(table: Any):
    create_model("overflow", handler_contracts=_contracts(_checked(2.0)))
    job = started_job(start_training("overflow", {"n": 2}))

    status, body, _ = complete("overflow", job["id"], {"status": "succeeded", "output": {"n": NINES}})

    assert status == 200, body
    assert body["job"]["status"] == "succeeded"
    assert [warning for warning in body["warnings"] if "is not a multiple of" in warning], body


def test_a_stored_subscription_input_that_overflows_is_created_with_a_warning(table: Any):
    create_model("source")
    create_model("overflow", handler_contracts=_contracts(_checked(2.0)))
    subscription = {
        "trigger_event": "training_complete",
        "target_model_id": "overflow",
        "target_action": "inference",
        "input_source": "stored",
        "input": {"n": NINES},
    }

    status, body, _ = call("create_subscription", body=subscription, model_id="source")

    assert status == 201, body
    assert [warning for warning in body["warnings"] if "is not a multiple of" in warning], body

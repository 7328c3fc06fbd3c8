"""Issue 11, point 7: a handler ARN in a partition the allow-list does not name is a 422, for every
kind whose handlers are ARNs (lambda, step_functions); the default is the deployment's own, aws."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.api_events import SEED_MODEL_ID, assert_error, call, sample_body


def _lambda(partition: str) -> dict[str, Any]:
    return {"type": "lambda", "arn": f"arn:{partition}:lambda:us-west-2:123456789012:function:train"}


def _state_machine(partition: str) -> dict[str, Any]:
    return {
        "type": "step_functions",
        "state_machine_arn": f"arn:{partition}:states:us-west-2:123456789012:stateMachine:train",
    }


@pytest.mark.parametrize("partition", ["aws-cn", "aws-us-gov", "awsevil"])
@pytest.mark.parametrize("handler", [_lambda, _state_machine], ids=["lambda", "step_functions"])
def test_a_handler_in_another_partition_is_a_422_naming_the_partition(table: Any, handler: Any, partition: str):
    body = sample_body("create_model")
    body["handlers"]["training"] = handler(partition)

    message = assert_error(call("create_model", body=body), 422)

    assert f"partition {partition}" in message
    assert_error(call("get_model", model_id=SEED_MODEL_ID), 404)


@pytest.mark.parametrize("handler", [_lambda, _state_machine], ids=["lambda", "step_functions"])
def test_a_handler_in_the_deployments_partition_is_accepted(table: Any, handler: Any):
    body = sample_body("create_model")
    body["handlers"]["training"] = handler("aws")

    status, response, _ = call("create_model", body=body)

    assert status == 201, response
    assert response["model"]["handlers"]["training"] == handler("aws")

"""POST /v2/handlers/check: the handler policy create_model applies (allow-list, in-process
implementations), asked without writing, one result per pair, with the reasons a create gives."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.api_events import assert_error, call, sample_body
from tests.integration.subscription_helpers import whole_table

ECHO = {"type": "in_process", "implementation": "echo"}
REFUSED = [
    ({"type": "in_process", "implementation": "not_registered"}, "no in-process implementation named 'not_registered'"),
    ({"type": "lambda", "arn": "arn:aws:lambda:us-west-2:999999999999:function:train"}, "account 999999999999"),
    ({"type": "lambda", "arn": "arn:aws:lambda:ap-south-2:123456789012:function:train"}, "region ap-south-2"),
]


def _pair(training: dict[str, Any]) -> dict[str, Any]:
    return {"training": training, "inference": ECHO}


@pytest.mark.parametrize(("handler", "reason"), REFUSED, ids=["implementation", "account", "region"])
def test_a_handler_create_model_refuses_is_reported_with_the_creates_reason(table: Any, handler: dict, reason: str):
    create = sample_body("create_model")
    create["handlers"] = _pair(handler)
    refusal = assert_error(call("create_model", body=create), 422)

    status, body, _ = call("check_handlers", body={"handlers": [_pair(handler)]})

    assert status == 200, body
    assert body == {"results": [{"problems": [refusal]}]}
    assert reason in refusal


def test_each_pair_gets_its_own_result_in_order_and_nothing_is_written(table: Any):
    bad = {"type": "in_process", "implementation": "not_registered"}
    before = whole_table(table)

    status, body, _ = call("check_handlers", body={"handlers": [_pair(ECHO), {"training": bad, "inference": bad}]})

    assert status == 200, body
    assert body["results"][0] == {"problems": []}
    assert [problem.split(":")[0] for problem in body["results"][1]["problems"]] == [
        "training handler",
        "inference handler",
    ]
    assert whole_table(table) == before


@pytest.mark.parametrize(
    "body",
    [{"handlers": []}, {"handlers": [_pair(ECHO)] * 101}, {"handlers": [{"training": ECHO}]}, {"pairs": []}],
    ids=["none", "over-100", "half-a-pair", "unknown-field"],
)
def test_a_malformed_request_is_a_4xx_in_pies_shape(table: Any, body: dict):
    status, _, _ = response = call("check_handlers", body=body)

    assert status in (400, 422)
    assert_error(response, status)

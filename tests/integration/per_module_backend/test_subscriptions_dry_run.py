"""POST .../event-subscriptions/{id}/test: the job the subscription would create now — its resolved
input and contract warnings — or the error that would stop it. A dry run writes nothing, which each
test proves on a full scan of the table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.api_events import call, create_model, create_version
from tests.integration.lifecycle_helpers import subscribe, walk_to
from tests.integration.subscription_helpers import (
    FEATURES_INPUT,
    contracts,
    create_subscription,
    dry_run,
    lambda_handler,
    replace_model,
    update_subscription,
    whole_table,
)

RESULT_FIELDS = {"subscription_id", "would_fire", "job", "error", "warnings"}
JOB_FIELDS = {"model_id", "version", "cuts_version", "action", "input", "handler"}


@pytest.fixture
def writes_nothing(table: Any) -> Iterator[Any]:
    """Call it when the arrangement is done; at the end of the test the table must be identical."""
    snapshots: list[list[dict[str, Any]]] = []

    def arranged() -> None:
        snapshots.append(whole_table(table))

    yield arranged
    assert snapshots, "the test never marked its arrangement as done"
    assert whole_table(table) == snapshots[0], "the dry run wrote to the table"


@pytest.fixture
def active_target(table: Any) -> Any:
    """Source ``a``; target ``b`` with contracts and active version "1" (latest "2", pending)."""
    create_model("a")
    create_model("b", handler_contracts=contracts())
    walk_to("b", "1", "active")
    create_version("b", "2")
    return table


def _dry_run_ok(source: str, subscription_id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    status, result, _ = dry_run(source, subscription_id, body)
    assert status == 200, result
    assert set(result) == RESULT_FIELDS
    assert result["subscription_id"] == subscription_id
    return result


# Would fire ------------------------------------------------------------------------------------------------


def test_a_stored_inference_subscription_would_run_the_active_version_on_its_input(active_target, writes_nothing):
    subscription = create_subscription("a", "b", input={"features": [0.2, 0.4]})
    writes_nothing()

    result = _dry_run_ok("a", subscription["id"])

    assert result["would_fire"] is True
    assert result["error"] is None
    assert result["warnings"] == []
    assert set(result["job"]) == JOB_FIELDS
    assert result["job"] == {
        "model_id": "b",
        "version": "1",
        "cuts_version": False,
        "action": "inference",
        "input": {"features": [0.2, 0.4]},
        "handler": {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:infer"},
    }


def test_a_training_subscription_would_train_the_newest_version(active_target, writes_nothing):
    subscription = create_subscription("a", "b", target_action="training", input={"data_path": "s3://d"})
    writes_nothing()

    job = _dry_run_ok("a", subscription["id"])["job"]

    assert (job["version"], job["action"]) == ("2", "training")
    assert job["handler"]["arn"].endswith(":function:train")


def test_the_job_uses_the_targets_current_handler(active_target, writes_nothing):
    subscription = create_subscription("a", "b", input={"features": [1]})
    handlers = call("get_model", model_id="b")[1]["model"]["handlers"]
    replace_model("b", handlers={**handlers, "inference": lambda_handler("infer-v2")})
    writes_nothing()

    assert _dry_run_ok("a", subscription["id"])["job"]["handler"] == lambda_handler("infer-v2")


def test_a_stored_input_that_breaks_the_contract_would_fire_with_warnings(active_target, writes_nothing):
    subscription = create_subscription("a", "b", input={"features": "none"})
    writes_nothing()

    result = _dry_run_ok("a", subscription["id"])

    assert result["would_fire"] is True
    assert result["job"]["input"] == {"features": "none"}
    assert result["warnings"] == [
        "input does not match the target's inference input_schema: at /features: 'none' is not of type 'array'"
    ]


def test_a_trigger_output_subscription_would_receive_the_given_output(active_target, writes_nothing):
    subscription = create_subscription("a", "b", input_source="trigger_output", input=None)
    writes_nothing()

    good = _dry_run_ok("a", subscription["id"], {"trigger_output": {"features": [3, 4]}})
    bad = _dry_run_ok("a", subscription["id"], {"trigger_output": {"model_path": "s3://m/1"}})

    assert good["job"]["input"] == {"features": [3, 4]}
    assert good["warnings"] == []
    assert bad["would_fire"] is True
    assert bad["job"]["input"] == {"model_path": "s3://m/1"}
    assert bad["warnings"] == [
        "input does not match the target's inference input_schema: 'features' is a required property",
        "input does not match the target's inference input_schema: Additional properties are not allowed "
        "('model_path' was unexpected)",
    ]


def test_without_a_given_output_a_training_complete_forwards_what_a_manual_activation_would(
    active_target, writes_nothing
):
    subscription = create_subscription("a", "b", input_source="trigger_output", input=None)
    writes_nothing()

    for body in (None, {}):
        result = _dry_run_ok("a", subscription["id"], body)
        assert result["job"]["input"] == {"model_id": "a", "version": "1", "metadata": {}}


def test_a_stored_subscription_ignores_a_given_trigger_output(active_target, writes_nothing):
    subscription = create_subscription("a", "b", input={"features": [1]})
    writes_nothing()

    result = _dry_run_ok("a", subscription["id"], {"trigger_output": {"features": [99]}})

    assert result["job"]["input"] == {"features": [1]}


def test_a_remote_ref_in_the_target_contract_is_a_warning_and_never_fetched(table, writes_nothing, network_attempts):
    remote = "https://schemas.example.com/pie/features.json"
    create_model("a")
    create_model("b", handler_contracts=contracts(inference_input={"$ref": remote}))
    walk_to("b", "1", "active")
    subscription = create_subscription("a", "b", input={"features": [1]})
    writes_nothing()

    result = _dry_run_ok("a", subscription["id"])

    assert network_attempts == []
    assert result["would_fire"] is True
    assert len(result["warnings"]) == 1 and remote in result["warnings"][0]


# Would not fire --------------------------------------------------------------------------------------------


def _refused(source: str, subscription_id: str) -> dict[str, Any]:
    result = _dry_run_ok(source, subscription_id)
    assert result["would_fire"] is False
    assert result["job"] is None
    assert isinstance(result["error"], str) and result["error"]
    return result


def test_a_paused_subscription_would_not_fire(active_target, writes_nothing):
    subscription = create_subscription("a", "b", input={"features": [1]})
    update_subscription("a", subscription["id"], status="paused")
    writes_nothing()

    assert "paused" in _refused("a", subscription["id"])["error"]


def test_a_stale_subscription_would_not_fire(active_target, writes_nothing):
    subscription = create_subscription("a", "b", input={"features": [1]})
    replace_model("b", handler_contracts=contracts(inference_input={"type": "object", "required": ["rows"]}))
    writes_nothing()

    assert "stale" in _refused("a", subscription["id"])["error"]


def test_a_subscription_whose_target_is_gone_would_not_fire(table, writes_nothing):
    """The target vanished without the subscription being marked (written straight to the table)."""
    create_model("a")
    orphan = subscribe("a", "gone", stored_input={"features": [1]})
    writes_nothing()

    assert _refused("a", orphan.id)["error"] == "target model 'gone' no longer exists"


def test_an_inference_subscription_of_a_target_without_active_version_would_not_fire(table, writes_nothing):
    create_model("a")
    create_model("b", handler_contracts=contracts())
    subscription = create_subscription("a", "b", input={"features": [1]})
    writes_nothing()

    assert _refused("a", subscription["id"])["error"] == "model 'b' has no active version to run inference on"


def test_a_self_subscription_is_checked_against_the_model_itself(table, writes_nothing):
    create_model("a", handler_contracts=contracts(inference_input=FEATURES_INPUT))
    walk_to("a", "1", "active")
    subscription = create_subscription("a", "a", input={"features": ["x"]})
    writes_nothing()

    result = _dry_run_ok("a", subscription["id"])

    assert result["job"]["model_id"] == "a"
    assert result["warnings"] == [
        "input does not match the target's inference input_schema: at /features/0: 'x' is not of type 'number'"
    ]


# Refused requests -------------------------------------------------------------------------------------------


def test_a_malformed_dry_run_body_is_400(active_target, writes_nothing):
    subscription = create_subscription("a", "b", input={"features": [1]})
    writes_nothing()

    for body in ({"trigger_output": "not an object"}, {"trigger_output": [1]}, {"unexpected": 1}):
        status, response, _ = dry_run("a", subscription["id"], body)
        assert (status, response["success"]) == (400, False), (body, response)

"""Keeping chains honest when models change: which model updates and deletions make subscriptions
``stale``, that stale and paused subscriptions never fire, and that re-activating one re-validates
it against the target's current contract."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.api_events import assert_error, call, create_model
from tests.integration.lifecycle_helpers import jobs_of, set_status, walk_to
from tests.integration.subscription_helpers import (
    FEATURES_INPUT,
    contracts,
    create_subscription,
    get_subscription,
    lambda_handler,
    replace_model,
    update_subscription,
    update_subscription_call,
)

ROWS_INPUT = {"type": "object", "properties": {"rows": {"type": "integer"}}, "required": ["rows"]}


def _statuses(*subscriptions: dict[str, Any]) -> list[str]:
    return [get_subscription(s["source_model_id"], s["id"])["status"] for s in subscriptions]


def _new_inference_handler(model_id: str) -> dict[str, Any]:
    handlers = call("get_model", model_id=model_id)[1]["model"]["handlers"]
    return {**handlers, "inference": lambda_handler("infer-v2")}


# Targets without contracts: handlers decide --------------------------------------------------------------


@pytest.fixture
def plain_target(table: Any) -> dict[str, dict[str, Any]]:
    """``b`` (no contracts) targeted by a's stored, a's trigger_output and its own subscriptions,
    and an unrelated subscription of ``c`` to ``d``."""
    for model_id in ("a", "b", "c", "d"):
        create_model(model_id)
    return {
        "stored": create_subscription("a", "b", input={"x": 1}),
        "forwarded": create_subscription("a", "b", input_source="trigger_output", input=None, target_action="training"),
        "own": create_subscription("b", "b", trigger_event="inference_complete"),
        "unrelated": create_subscription("c", "d"),
    }


def test_a_handler_change_on_a_target_without_contracts_makes_its_subscriptions_stale(plain_target):
    replace_model("b", handlers=_new_inference_handler("b"))

    subs = plain_target
    assert _statuses(subs["stored"], subs["forwarded"], subs["own"]) == ["stale", "stale", "stale"]
    assert _statuses(subs["unrelated"]) == ["active"]


def test_an_update_that_keeps_the_handlers_leaves_subscriptions_active(plain_target):
    replace_model("b", description="only the description changes", metadata={"team": "other"})

    assert _statuses(*plain_target.values()) == ["active"] * 4


def test_a_handler_change_of_the_source_does_not_touch_its_subscriptions(plain_target):
    replace_model("a", handlers=_new_inference_handler("a"))

    assert _statuses(*plain_target.values()) == ["active"] * 4


# Targets with contracts: the subscribed action's input schema decides ------------------------------------


@pytest.fixture
def contract_target(table: Any) -> dict[str, dict[str, Any]]:
    """``b`` has contracts; ``a`` subscribes to both of its actions."""
    create_model("a")
    create_model("b", handler_contracts=contracts())
    return {
        "inference": create_subscription("a", "b", input={"features": [1]}),
        "training": create_subscription("a", "b", target_action="training", input={"data_path": "s3://d"}),
    }


def test_with_contracts_a_handler_change_alone_does_not_make_subscriptions_stale(contract_target):
    replace_model("b", handlers=_new_inference_handler("b"))

    assert _statuses(contract_target["inference"], contract_target["training"]) == ["active", "active"]


def test_a_change_to_the_subscribed_actions_input_schema_makes_only_those_stale(contract_target):
    replace_model("b", handler_contracts=contracts(inference_input=ROWS_INPUT))

    assert _statuses(contract_target["inference"], contract_target["training"]) == ["stale", "active"]


def test_a_change_to_the_other_actions_input_schema_leaves_them_active(contract_target):
    replace_model("b", handler_contracts=contracts(training_input=ROWS_INPUT))

    assert _statuses(contract_target["inference"], contract_target["training"]) == ["active", "stale"]


def test_a_change_to_the_targets_output_schemas_does_not_make_stored_subscriptions_stale(contract_target):
    replace_model(
        "b", handler_contracts=contracts(inference_output={"type": "array"}, training_output={"type": "array"})
    )

    assert _statuses(contract_target["inference"], contract_target["training"]) == ["active", "active"]


def test_a_change_to_the_sources_output_schema_makes_its_trigger_output_subscriptions_stale(table):
    create_model("a", handler_contracts=contracts())
    create_model("b", handler_contracts=contracts())
    after_training = create_subscription("a", "b", input_source="trigger_output", input=None)
    after_inference = create_subscription(
        "a", "b", input_source="trigger_output", input=None, trigger_event="inference_complete"
    )
    stored = create_subscription("a", "b", input={"features": [1]})

    replace_model("a", handler_contracts=contracts(training_output={"type": "object", "properties": {"features": {}}}))

    assert _statuses(after_training, after_inference, stored) == ["stale", "active", "active"]

    replace_model(
        "a",
        handler_contracts=contracts(
            training_output={"type": "object", "properties": {"features": {}}}, inference_output={"type": "object"}
        ),
    )

    assert _statuses(after_inference, stored) == ["stale", "active"]


def test_an_entity_version_bump_alone_is_no_change(contract_target):
    """A model's new pending version (PUT on an active model) changes nothing a subscription uses."""
    walk_to("b", "1", "active")

    replace_model("b", description="new version, same contracts")

    assert _statuses(contract_target["inference"], contract_target["training"]) == ["active", "active"]


# Deleting a model -------------------------------------------------------------------------------------


def test_deleting_a_model_makes_other_models_subscriptions_to_it_stale_and_removes_its_own(table):
    for model_id in ("a", "b", "c"):
        create_model(model_id)
    a_to_b = create_subscription("a", "b")
    c_to_b = create_subscription("c", "b", input_source="trigger_output", input=None)
    b_to_a = create_subscription("b", "a")
    b_to_b = create_subscription("b", "b")
    a_to_c = create_subscription("a", "c")

    status, _, _ = call("delete_model", model_id="b")

    assert status == 204
    assert _statuses(a_to_b, c_to_b, a_to_c) == ["stale", "stale", "active"]
    for own in (b_to_a, b_to_b):
        assert_error(call("get_subscription", model_id="b", subscription_id=own["id"]), 404)


def test_a_subscription_whose_target_is_gone_cannot_be_reactivated(table):
    create_model("a")
    create_model("b")
    gone = create_subscription("a", "b")
    call("delete_model", model_id="b")

    message = assert_error(update_subscription_call("a", gone["id"], {"status": "active"}), 422)

    assert "'b'" in message
    assert get_subscription("a", gone["id"])["status"] == "stale"


# Firing -------------------------------------------------------------------------------------------------


def test_stale_and_paused_subscriptions_never_fire_and_an_active_one_does(table):
    create_model("a")
    create_model("b")
    walk_to("b", "1", "active")
    active = create_subscription("a", "b", label="fires")
    paused = create_subscription("a", "b", label="paused")
    stale = create_subscription("a", "b", label="stale")
    replace_model("b", handlers=_new_inference_handler("b"))  # b has no contracts: all three go stale
    update_subscription("a", active["id"], status="active")
    update_subscription("a", paused["id"], status="paused")
    assert _statuses(active, paused, stale) == ["active", "paused", "stale"]
    walk_to("a", "1", "training")

    status, body, _ = set_status("a", "1", "active")

    assert status == 200, body
    assert [event["subscription_id"] for event in body["triggered_events"]] == [active["id"]]
    jobs = jobs_of(table, "b")
    assert [job["trigger"]["subscription_id"] for job in jobs] == [active["id"]]
    assert jobs[0]["handler"] == lambda_handler("infer-v2")  # the target's current handler


# Re-activation re-validates -----------------------------------------------------------------------------


def test_reactivating_a_stale_subscription_revalidates_it_against_the_new_schema(contract_target):
    subscription = contract_target["inference"]
    assert "warnings" not in subscription
    replace_model("b", handler_contracts=contracts(inference_input=ROWS_INPUT))
    assert get_subscription("a", subscription["id"])["status"] == "stale"

    reactivated = update_subscription("a", subscription["id"], status="active")

    assert reactivated["status"] == "active"
    assert reactivated["warnings"] == [
        "input does not match the target's inference input_schema: 'rows' is a required property"
    ]
    assert get_subscription("a", subscription["id"]) == reactivated

    fixed = update_subscription("a", subscription["id"], input={"rows": 3})

    assert "warnings" not in fixed
    assert fixed["status"] == "active"


def test_reactivating_with_a_new_input_validates_the_new_input(contract_target):
    subscription = contract_target["inference"]
    replace_model("b", handler_contracts=contracts(inference_input=ROWS_INPUT))

    reactivated = update_subscription("a", subscription["id"], status="active", input={"rows": 10})

    assert reactivated["status"] == "active"
    assert reactivated["input"] == {"rows": 10}
    assert "warnings" not in reactivated


def test_reactivating_a_trigger_output_subscription_recomputes_its_compatibility(table):
    create_model("a", handler_contracts=contracts(training_output={"type": "object", "properties": {"features": {}}}))
    create_model("b", handler_contracts=contracts(inference_input=FEATURES_INPUT))
    forwarded = create_subscription("a", "b", input_source="trigger_output", input=None)
    assert "warnings" not in forwarded

    replace_model("b", handler_contracts=contracts(inference_input=ROWS_INPUT))
    reactivated = update_subscription("a", forwarded["id"], status="active")

    assert reactivated["status"] == "active"
    assert reactivated["warnings"] == ["the target requires 'rows', which the source's output_schema never declares"]


def test_a_reactivated_subscription_fires_again(table):
    create_model("a")
    create_model("b")
    walk_to("b", "1", "active")
    subscription = create_subscription("a", "b")
    replace_model("b", handlers=_new_inference_handler("b"))
    walk_to("a", "1", "training")
    assert get_subscription("a", subscription["id"])["status"] == "stale"

    update_subscription("a", subscription["id"], status="active")
    _, body, _ = set_status("a", "1", "active")

    assert [event["subscription_id"] for event in body["triggered_events"]] == [subscription["id"]]
    assert "job_id" in body["triggered_events"][0]

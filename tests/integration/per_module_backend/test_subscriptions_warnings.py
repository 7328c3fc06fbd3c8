"""Contract warnings on subscriptions: a stored input that does not match the target's input_schema,
or a trigger output that visibly cannot satisfy it, is reported in ``warnings`` and never refused.
Contracts are applied offline: a remote ``$ref`` is reported, never fetched."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.api_events import create_model
from tests.integration.subscription_helpers import (
    DATA_PATH_INPUT,
    FEATURES_INPUT,
    contracts,
    create_subscription,
    get_subscription,
    update_subscription,
)

REMOTE_SCHEMA = "https://schemas.example.com/pie/features.json"
DECLARES_FEATURES = {"type": "object", "properties": {"features": {}}}


@pytest.fixture
def target_with_contracts(table: Any) -> Any:
    """Source ``a`` (no contracts) and target ``b`` whose inference takes ``{features: [number]}``
    and whose training takes ``{data_path: string}``."""
    create_model("a")
    create_model("b", handler_contracts=contracts())
    return table


def test_a_stored_input_that_matches_the_contract_has_no_warnings(target_with_contracts):
    created = create_subscription("a", "b", input={"features": [0.2, 0.4]})

    assert created["status"] == "active"
    assert "warnings" not in created


def test_every_mismatch_of_a_stored_input_is_a_readable_warning_not_a_failure(target_with_contracts):
    created = create_subscription("a", "b", input={"features": ["high", 0.4, "low"], "extra": True})

    assert created["status"] == "active"
    warnings = created["warnings"]
    assert len(warnings) == 3, warnings
    assert all(w.startswith("input does not match the target's inference input_schema: ") for w in warnings)
    assert any("/features/0" in w and "'high' is not of type 'number'" in w for w in warnings)
    assert any("/features/2" in w and "'low' is not of type 'number'" in w for w in warnings)
    assert any("'extra'" in w and "not allowed" in w for w in warnings)


def test_a_missing_required_property_is_named(target_with_contracts):
    created = create_subscription("a", "b", input={})

    assert created["warnings"] == [
        "input does not match the target's inference input_schema: 'features' is a required property"
    ]


def test_the_input_schema_of_the_target_action_is_the_one_applied(target_with_contracts):
    valid_for_training = create_subscription("a", "b", target_action="training", input={"data_path": "s3://d/1"})
    valid_for_inference_only = create_subscription("a", "b", target_action="training", input={"features": [1]})

    assert "warnings" not in valid_for_training
    assert valid_for_inference_only["warnings"] == [
        "input does not match the target's training input_schema: 'data_path' is a required property"
    ]


def test_a_target_without_contracts_accepts_any_stored_input_silently(table):
    create_model("a")
    create_model("b")

    created = create_subscription("a", "b", input={"anything": ["goes", 1]})

    assert "warnings" not in created


def test_changing_the_input_revalidates_it(target_with_contracts):
    created = create_subscription("a", "b", input={"features": ["x"]})
    assert created["warnings"]

    fixed = update_subscription("a", created["id"], input={"features": [1.5]})
    assert "warnings" not in fixed
    assert "warnings" not in get_subscription("a", fixed["id"])

    broken = update_subscription("a", created["id"], input={"rows": 3})
    assert broken["warnings"] == [
        "input does not match the target's inference input_schema: 'features' is a required property",
        "input does not match the target's inference input_schema: Additional properties are not allowed "
        "('rows' was unexpected)",
    ]
    assert broken["status"] == "active"


# trigger_output: what the source's output_schema promises against what the target's input needs ----


def _trigger_output_subscription(source: str, target: str, **changes: Any) -> dict[str, Any]:
    return create_subscription(source, target, input_source="trigger_output", input=None, **changes)


def test_an_output_that_never_declares_a_required_input_property_is_warned_about(target_with_contracts):
    create_model("source", handler_contracts=contracts(training_output={"type": "object", "properties": {"x": {}}}))

    created = _trigger_output_subscription("source", "b")

    assert created["status"] == "active"
    assert created["warnings"] == ["the target requires 'features', which the source's output_schema never declares"]


def test_different_top_level_types_are_warned_about(target_with_contracts):
    create_model("source", handler_contracts=contracts(training_output={"type": "array"}))

    created = _trigger_output_subscription("source", "b")

    assert created["warnings"] == ["the source outputs a array but the target's input must be a object"]


def test_a_compatible_output_has_no_warnings(target_with_contracts):
    output = {"type": "object", "properties": {"features": {"type": "array"}, "more": {}}}
    create_model("source", handler_contracts=contracts(training_output=output))

    created = _trigger_output_subscription("source", "b")

    assert "warnings" not in created


def test_the_output_schema_of_the_triggering_action_is_the_one_compared(target_with_contracts):
    """training_complete forwards the training output; inference_complete the inference output."""
    declares_nothing = {"type": "object", "properties": {}}
    create_model(
        "source", handler_contracts=contracts(training_output=DECLARES_FEATURES, inference_output=declares_nothing)
    )

    after_training = _trigger_output_subscription("source", "b", trigger_event="training_complete")
    after_inference = _trigger_output_subscription("source", "b", trigger_event="inference_complete")

    assert "warnings" not in after_training
    assert after_inference["warnings"] == [
        "the target requires 'features', which the source's output_schema never declares"
    ]


def test_the_input_schema_of_the_target_action_is_compared_for_trigger_outputs(target_with_contracts):
    create_model("source", handler_contracts=contracts(training_output=DECLARES_FEATURES))

    created = _trigger_output_subscription("source", "b", target_action="training")

    assert created["warnings"] == ["the target requires 'data_path', which the source's output_schema never declares"]


def test_nothing_is_warned_when_either_side_has_no_contract(table):
    create_model("plain")
    create_model("b", handler_contracts=contracts())
    create_model("source", handler_contracts=contracts(training_output={"type": "array"}))

    assert "warnings" not in _trigger_output_subscription("plain", "b")
    assert "warnings" not in _trigger_output_subscription("source", "plain")


# Remote $ref: reported, never fetched ----------------------------------------------------------------


def test_a_remote_ref_in_the_target_schema_is_a_warning_and_is_never_fetched(table, network_attempts):
    create_model("a")
    create_model("b", handler_contracts=contracts(inference_input={"$ref": REMOTE_SCHEMA}))

    created = create_subscription("a", "b", input={"features": [1]})

    assert network_attempts == []
    assert created["status"] == "active"
    assert len(created["warnings"]) == 1
    assert REMOTE_SCHEMA in created["warnings"][0]
    assert "does not fetch" in created["warnings"][0]


def test_a_remote_ref_below_the_top_is_not_fetched_either(table, network_attempts):
    schema = {"type": "object", "properties": {"features": {"$ref": REMOTE_SCHEMA}}}
    create_model("a")
    create_model("b", handler_contracts=contracts(inference_input=schema))

    created = create_subscription("a", "b", input={"features": [1]})

    assert network_attempts == []
    assert any(REMOTE_SCHEMA in w for w in created["warnings"])


def test_a_local_ref_is_followed_offline(table, network_attempts):
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {"features": FEATURES_INPUT},
        "$ref": "#/$defs/features",
    }
    create_model("a")
    create_model("b", handler_contracts=contracts(inference_input=schema))

    valid = create_subscription("a", "b", input={"features": [1]})
    invalid = create_subscription("a", "b", input={"features": "none"})

    assert network_attempts == []
    assert "warnings" not in valid
    assert invalid["warnings"] == [
        "input does not match the target's inference input_schema: at /features: 'none' is not of type 'array'"
    ]


@pytest.mark.parametrize("side", ["source output", "target input"])
def test_a_remote_ref_makes_a_trigger_output_compatibility_check_a_warning(table, network_attempts, side: str):
    """The output is not known in advance, so a schema PIE cannot read whole is worth saying."""
    remote = {"type": "object", "properties": {"features": {"$ref": REMOTE_SCHEMA}}, "required": ["features"]}
    if side == "source output":
        create_model("source", handler_contracts=contracts(training_output=remote))
        create_model("b", handler_contracts=contracts(inference_input=DATA_PATH_INPUT | {"required": []}))
    else:
        create_model("source", handler_contracts=contracts(training_output=DECLARES_FEATURES))
        create_model("b", handler_contracts=contracts(inference_input=remote))

    created = _trigger_output_subscription("source", "b")

    assert network_attempts == []
    assert created["status"] == "active"
    assert [w for w in created.get("warnings", []) if REMOTE_SCHEMA in w and "does not fetch" in w], created

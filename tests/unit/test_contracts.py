"""Handler contracts applied offline: readable violations, visible incompatibilities between an
output and an input schema, and remote ``$ref``s reported instead of fetched."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.domain import contracts
from shared.domain.entities import Model

REMOTE = "https://schemas.example.com/pie/input.json"
FEATURES = {
    "type": "object",
    "properties": {"features": {"type": "array", "items": {"type": "number"}}},
    "required": ["features"],
}


def _model(handler_contracts: dict[str, Any] | None) -> Model:
    now = datetime.now(UTC)
    handler = {"type": "in_process", "implementation": "echo"}
    return Model.model_validate(
        {
            "id": "m",
            "name": "m",
            "description": "",
            "handlers": {"training": handler, "inference": handler},
            "handler_contracts": handler_contracts,
            "metadata": {},
            "status": "pending",
            "latest_version": "1",
            "active_version": None,
            "entity_version": 1,
            "created_at": now,
            "updated_at": now,
            "created_by": "me",
        }
    )


# Finding a model's schemas ----------------------------------------------------------------------------


def test_a_model_without_contracts_has_no_schemas():
    model = _model(None)

    for action in ("training", "inference"):
        assert contracts.input_schema(model, action) is None
        assert contracts.output_schema(model, action) is None


def test_schemas_are_found_per_action_and_may_be_missing():
    model = _model({"inference": {"input_schema": FEATURES, "output_schema": {"type": "object"}}})

    assert contracts.input_schema(model, "inference") == FEATURES
    assert contracts.output_schema(model, "inference") == {"type": "object"}
    assert contracts.input_schema(model, "training") is None
    assert contracts.output_schema(model, "training") is None


# Violations ---------------------------------------------------------------------------------------------


def test_no_schema_accepts_anything():
    assert contracts.schema_violations({"x": object.__name__}, None) == []


def test_a_valid_instance_has_no_violations():
    assert contracts.schema_violations({"features": [1, 2.5]}, FEATURES) == []


def test_each_violation_says_where_and_what():
    reasons = contracts.schema_violations({"features": [1, "two", None]}, FEATURES)

    assert reasons == [
        "at /features/1: 'two' is not of type 'number'",
        "at /features/2: None is not of type 'number'",
    ]


def test_a_violation_at_the_root_has_no_location():
    assert contracts.schema_violations({}, FEATURES) == ["'features' is a required property"]
    assert contracts.schema_violations([1], FEATURES) == ["[1] is not of type 'object'"]


def test_violations_are_capped_with_a_count_of_the_rest():
    reasons = contracts.schema_violations({"features": ["x"] * 13}, FEATURES)

    assert len(reasons) == 11
    assert reasons[0] == "at /features/0: 'x' is not of type 'number'"
    assert reasons[-1] == "... and 3 more"


def test_local_references_are_followed():
    schema = {"$defs": {"n": {"type": "number"}}, "type": "array", "items": {"$ref": "#/$defs/n"}}

    assert contracts.schema_violations([1, 2], schema) == []
    assert contracts.schema_violations([1, "x"], schema) == ["at /1: 'x' is not of type 'number'"]


def test_the_standard_meta_schema_is_known_without_fetching_it(network_attempts):
    schema = {"$ref": "https://json-schema.org/draft/2020-12/schema"}

    assert contracts.schema_violations({"type": "object"}, schema) == []
    assert contracts.schema_violations({"type": 12}, schema)
    assert network_attempts == []


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": REMOTE},
        {"type": "object", "properties": {"features": {"$ref": REMOTE}}},
        {"$id": "https://schemas.example.com/pie/root.json", "properties": {"features": {"$ref": "input.json"}}},
    ],
    ids=["top", "nested", "relative-to-id"],
)
def test_a_remote_reference_is_reported_and_never_fetched(network_attempts, schema: dict[str, Any]):
    reasons = contracts.schema_violations({"features": [1]}, schema)

    assert network_attempts == []
    assert len(reasons) == 1
    assert "does not fetch" in reasons[0]


def test_the_network_guard_would_see_a_fetch(network_attempts):
    """Proves the guard: jsonschema left to its defaults does try to fetch a remote $ref."""
    import warnings

    from jsonschema import Draft202012Validator

    with warnings.catch_warnings(), pytest.raises(Exception):  # noqa: B017 (whatever jsonschema makes of the refusal)
        warnings.simplefilter("ignore")
        Draft202012Validator({"$ref": REMOTE}).validate({})

    assert network_attempts


# References PIE will not fetch --------------------------------------------------------------------------


def test_unfetched_references_lists_only_references_that_leave_the_schema(network_attempts):
    schema = {
        "$id": "https://schemas.example.com/pie/root.json",
        "$defs": {
            "local": {"type": "number"},
            "embedded": {"$id": "embedded.json", "type": "string"},
            "anchored": {"$anchor": "here", "type": "boolean"},
        },
        "properties": {
            "a": {"$ref": "#/$defs/local"},
            "b": {"$ref": "embedded.json"},
            "c": {"$ref": "#here"},
            "d": {"$ref": "https://json-schema.org/draft/2020-12/schema"},
            "e": {"$ref": "elsewhere.json"},
            "f": {"items": {"$ref": REMOTE}},
            "g": {"$ref": REMOTE},
            "h": {"const": {"$ref": "https://not.a.reference.example.com"}},
        },
    }

    assert contracts.unfetched_references(schema) == ["elsewhere.json", REMOTE]
    assert contracts.unfetched_references(None) == []
    assert network_attempts == []


# Compatibility of an output with an input ----------------------------------------------------------------


def test_nothing_to_compare_without_both_schemas():
    assert contracts.compatibility_warnings(None, FEATURES) == []
    assert contracts.compatibility_warnings({"type": "array"}, None) == []


def test_compatible_schemas_have_no_warnings():
    output = {"type": "object", "properties": {"features": {"type": "array"}, "extra": {}}}

    assert contracts.compatibility_warnings(output, FEATURES) == []


def test_different_top_level_types_are_a_warning():
    assert contracts.compatibility_warnings({"type": "array"}, FEATURES) == [
        "the source outputs a array but the target's input must be a object"
    ]


def test_each_required_property_the_output_never_declares_is_a_warning():
    expected = {"type": "object", "required": ["features", "model_path", "rows"]}
    output = {"type": "object", "properties": {"model_path": {"type": "string"}}}

    assert contracts.compatibility_warnings(output, expected) == [
        "the target requires 'features', which the source's output_schema never declares",
        "the target requires 'rows', which the source's output_schema never declares",
    ]


def test_an_output_that_declares_no_properties_is_not_second_guessed():
    """An output schema without ``properties`` says nothing about its fields: no visible mismatch."""
    assert contracts.compatibility_warnings({"type": "object"}, FEATURES) == []
    assert contracts.compatibility_warnings({}, FEATURES) == []


def test_type_lists_are_not_compared():
    output = {"type": ["object", "null"], "properties": {"features": {}}}

    assert contracts.compatibility_warnings(output, FEATURES) == []


def test_a_remote_reference_on_either_side_is_a_warning_and_is_never_fetched(network_attempts):
    output = {"type": "object", "properties": {"features": {"$ref": REMOTE}}}
    expected = {**FEATURES, "properties": {"features": {"$ref": "https://schemas.example.com/other.json"}}}

    warnings = contracts.compatibility_warnings(output, expected)

    assert network_attempts == []
    assert warnings == [
        f"the source's output_schema references {REMOTE!r}, which PIE does not fetch: "
        "compatibility was not fully checked",
        "the target's input_schema references 'https://schemas.example.com/other.json', which PIE does not "
        "fetch: compatibility was not fully checked",
    ]


def test_a_violation_quoting_a_huge_value_keeps_where_and_why_and_stays_short():
    schema = {"type": "object", "properties": {name: {"maxLength": 1} for name in "abcdefghijkl"}}
    payload = {name: name * 500_000 for name in "abcdefghijkl"}

    violations = contracts.schema_violations(payload, schema)

    assert len(violations) == 11  # ten, and a count of the rest
    assert all(len(reason) < 400 for reason in violations)
    assert violations[0].startswith("at /a: 'aaaa") and violations[0].endswith("aaa' is too long")

"""Contract validation stays fast whatever the contract and the payload: patterns run on RE2 (linear
time), keep ``re.search``'s unanchored semantics, and are refused at registration when RE2 cannot run
them; quadratic and exponential costs elsewhere in JSON Schema are bounded or stopped with a reason."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from shared.domain import contracts, json_schema
from shared.domain.json_schema import check_schema

CATASTROPHIC = "^(a+)+$"
DRAFT_7 = "http://json-schema.org/draft-07/schema#"
HOSTILE = "a" * 29 + "!"  # Python's re takes about a minute on this (it doubles with every 'a')
# One request's validation may take no more than a second; most of these take a few milliseconds.
# Time is CPU time of this thread (as PIE's budget counts it), so a loaded machine cannot fail them.
SECOND = 1.0
AT_ONCE = 0.1  # Python's re needs a minute of CPU for HOSTILE


@pytest.fixture(autouse=True, scope="module")
def _imported() -> None:
    """Timings measure validation, not the first import of jsonschema and RE2."""
    contracts.schema_violations("x", {"pattern": "x"})
    check_schema({"pattern": "x"})


@contextmanager
def within(seconds: float) -> Iterator[None]:
    started = time.thread_time()
    yield
    elapsed = time.thread_time() - started
    assert elapsed < seconds, f"took {elapsed:.2f} s"


# Same answers as re.search, for patterns both engines run -------------------------------------------

PATTERNS = [
    r"^[a-z0-9-]{1,64}$",
    r"\d{3}",
    r"^[A-Z][a-z]+(?: [A-Z][a-z]+)*$",
    r"colou?r",
    r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$",
    r"^(?:\d{1,3}\.){3}\d{1,3}$",
    r"(?i)^price",
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    r"\bmodel\b",
    r"^v\d+(\.\d+)*$",
    r"a|b",
    r"",
    r"^$",
    r"é+",
    r"^.{2}$",
]
SUBJECTS = [
    "",
    "price-model-2",
    "Price Model",
    "123",
    "a1b2c3",
    "color",
    "colour",
    "me@example.com",
    "me@@example.com",
    "192.168.0.1",
    "the model here",
    "remodel",
    "v1.2.30",
    "v1.",
    "café",
    "éé",
    "Z",
    "0f8fad5b-d9cb-469f-a165-70867728950e",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_patterns_answer_as_python_re_search_does(pattern: str):
    for subject in SUBJECTS:
        expected = re.search(pattern, subject) is not None
        assert json_schema.pattern_matches(pattern, subject) is expected, (pattern, subject)


def test_a_pattern_is_searched_anywhere_in_the_string_unless_anchored():
    assert json_schema.pattern_matches("b", "abc")
    assert not json_schema.pattern_matches("^b", "abc")
    assert contracts.schema_violations("abc", {"pattern": "b"}) == []


def test_ecma_unicode_escapes_are_understood():
    assert json_schema.pattern_matches(r"^\u00e9$", "é")
    assert json_schema.pattern_matches(r"^\u{1F600}$", "\U0001f600")
    assert not json_schema.pattern_matches(r"^\\u00e9$", "é")
    assert json_schema.pattern_matches(r"^\\u00e9$", "\\u00e9")


def test_where_python_departs_from_ecma_262_the_ecma_answer_is_given():
    # $ matches only at the very end (Python's also matches before a final newline).
    assert re.search(r"^\d+$", "42\n")
    assert contracts.schema_violations("42\n", {"pattern": r"^\d+$"})
    # \d is [0-9] (Python's also matches other scripts' digits).
    assert re.search(r"^\d$", "٣")
    assert contracts.schema_violations("٣", {"pattern": r"^\d$"})


def test_a_lone_surrogate_in_a_string_does_not_break_the_search():
    assert contracts.schema_violations("\ud800x", {"pattern": "x$"}) == []


# Catastrophic patterns are linear now --------------------------------------------------------------


def test_a_catastrophic_pattern_answers_at_once():
    with within(AT_ONCE):
        assert contracts.schema_violations(HOSTILE, {"pattern": CATASTROPHIC}) == [
            f"{HOSTILE!r} does not match {CATASTROPHIC!r}"
        ]
        assert contracts.schema_violations("a" * 29, {"pattern": CATASTROPHIC}) == []


@pytest.mark.parametrize(
    "schema",
    [
        {"patternProperties": {CATASTROPHIC: True}, "additionalProperties": False},
        {"patternProperties": {CATASTROPHIC: True}, "unevaluatedProperties": False},
        {"patternProperties": {CATASTROPHIC: False}, "additionalProperties": True},
        {"propertyNames": {"pattern": CATASTROPHIC}},
        {"allOf": [{"patternProperties": {CATASTROPHIC: True}}], "unevaluatedProperties": False},
    ],
    ids=["additional", "unevaluated", "pattern-properties", "property-names", "unevaluated-through-allOf"],
)
def test_catastrophic_property_name_patterns_answer_at_once(schema: dict[str, Any]):
    refused_if_matched = schema.get("patternProperties", {}).get(CATASTROPHIC) is False
    with within(AT_ONCE):
        assert (contracts.schema_violations({HOSTILE: 1}, schema) == []) is refused_if_matched
        assert (contracts.schema_violations({"a" * 29: 1}, schema) == []) is not refused_if_matched


def test_a_subschema_naming_another_dialect_is_still_evaluated_on_re2():
    for dialect in (DRAFT_7, "https://json-schema.org/draft/2020-12/schema"):
        name = {"$schema": dialect, "pattern": CATASTROPHIC}
        schema = {"$schema": dialect, "properties": {"name": name, "child": {"$ref": "#"}}}
        with within(AT_ONCE):
            assert contracts.schema_violations({"child": {"name": HOSTILE}}, schema) != []


def test_format_regex_is_an_annotation_and_compiles_nothing():
    with within(AT_ONCE):
        assert contracts.schema_violations("(a+)+$(?=x)\\1", {"format": "regex"}) == []


def test_a_long_string_against_a_large_pattern_is_refused_rather_than_searched():
    pattern = "[ab]*a[ab]{200}c"  # RE2's DFA keeps overflowing on this: a search is n × 200 steps
    subject = "ab" * 50_000

    with within(SECOND):
        (reason,) = contracts.schema_violations(subject, {"pattern": pattern})

    assert "100,000 bytes is too long to check against the pattern '[ab]*a[ab]{200}c'" in reason


def test_a_stored_pattern_that_re2_cannot_run_is_a_violation_not_an_error():
    """Contracts registered before patterns were checked may still hold one."""
    (reason,) = contracts.schema_violations("aa", {"pattern": r"(a)\1"})

    assert "'(a)\\\\1' cannot be run by RE2" in reason


# Other super-linear costs ----------------------------------------------------------------------------


def test_unique_items_of_many_objects_is_linear_and_exact():
    distinct = [{"id": i, "tags": ["a", i]} for i in range(5_000)]  # pairwise: 12.5 million comparisons

    with within(SECOND):
        assert contracts.schema_violations(distinct, {"uniqueItems": True}) == []
        assert contracts.schema_violations([*distinct, {"tags": ["a", 7], "id": 7}], {"uniqueItems": True})


@pytest.mark.parametrize(
    ("items", "unique"),
    [
        ([1, 1.0], False),
        ([1, True], True),
        ([0, False], True),
        ([None, False], True),
        ([[1], [True]], True),
        ([{"a": 1}, {"a": 1.0}], False),
        (["1", 1], True),
        ([{"a": [1, 2]}, {"a": [2, 1]}], True),
    ],
)
def test_unique_items_follows_json_equality(items: list[Any], unique: bool):
    assert (contracts.schema_violations(items, {"uniqueItems": True}) == []) is unique


def test_references_that_multiply_stop_within_the_budget_with_a_reason():
    depth = 40  # each level evaluates the next twice: 2**40 evaluations
    defs: dict[str, Any] = {f"d{i}": {"allOf": [{"$ref": f"#/$defs/d{i + 1}"}] * 2} for i in range(depth)}
    defs[f"d{depth}"] = {"type": "integer"}

    with within(SECOND):
        reasons = contracts.schema_violations(1, {"$defs": defs, "$ref": "#/$defs/d0"})

    assert reasons == [reasons[-1]] and "too costly to check" in reasons[-1]


@pytest.mark.parametrize(
    "schema", [{"$ref": "#"}, {"allOf": [{"$ref": "#"}]}, {"$ref": "#", "unevaluatedProperties": False}]
)
def test_a_schema_that_refers_to_itself_without_end_is_a_reason_not_an_error(schema: dict[str, Any]):
    with within(SECOND):
        assert contracts.schema_violations({"a": 1}, schema) == [
            "validation stopped: the schema refers to itself without end, or nests too deeply"
        ]


def test_a_recursive_schema_that_follows_the_payload_still_works():
    children = {"type": "array", "items": {"$ref": "#"}}
    tree = {"type": "object", "properties": {"name": {"pattern": "^[a-z]+$"}, "children": children}}
    payload: dict[str, Any] = {"name": "leaf"}
    for _ in range(30):
        payload = {"name": "node", "children": [payload]}

    assert contracts.schema_violations(payload, tree) == []


def test_multiple_of_with_extreme_numbers_answers_at_once():
    with within(AT_ONCE):
        assert contracts.schema_violations(1e308, {"multipleOf": 1e-308})
        assert contracts.schema_violations(10**4000 + 1, {"multipleOf": 7})


NINES = int("9" * 309)  # past the largest float (about 1.8e308)


@pytest.mark.parametrize(
    ("instance", "divisor", "multiple"),
    [
        (NINES, 0.5, True),
        (NINES, 2.0, False),
        (10**309, 0.1, False),  # 0.1 as a float is not a tenth: jsonschema answers the same below 1e308
        (10**309, 5e-324, True),
        (1.7e308, int("7" * 4000), False),
        (int("7" * 4000), int("7" * 3999), False),
        (3, 0.5, True),
        (0.3, 0.1, False),  # unchanged: float division, as jsonschema divides
    ],
    ids=["nines-half", "nines-two", "tenth", "smallest-float", "huge-divisor", "huge-integers", "ordinary", "floats"],
)
def test_multiple_of_past_the_largest_float_is_answered_exactly(instance: Any, divisor: Any, multiple: bool):
    with within(AT_ONCE):
        violations = contracts.schema_violations({"n": instance}, {"properties": {"n": {"multipleOf": divisor}}})

    assert (violations == []) == multiple, violations
    if not multiple:
        # A huge instance is quoted shortened (the middle elided), so the reason may be cut out.
        assert violations[0].startswith("at /n:") and len(violations[0]) < 1000


def test_an_exception_inside_validation_is_a_violation_with_a_short_reason():
    # Infinity has no exact ratio, so even the exact multipleOf cannot place it (a stored document
    # cannot hold it, but a schema check must not depend on that).
    violations = contracts.schema_violations({"n": float("inf"), "m": "x"}, {"properties": {"n": {"multipleOf": 0.5}}})

    (reason,) = violations
    assert reason.startswith("validation stopped: this payload cannot be checked against the schema")
    assert len(reason) < 300


# Registration: patterns RE2 cannot run are refused, naming them ---------------------------------------


@pytest.mark.parametrize(
    ("schema", "pattern", "location"),
    [
        ({"pattern": r"(a)\1"}, r"(a)\1", "at pattern"),
        ({"properties": {"code": {"pattern": "^(?=.*[0-9])"}}}, "^(?=.*[0-9])", "at properties/code/pattern"),
        ({"patternProperties": {"(?<!x)y": {}}}, "(?<!x)y", "at patternProperties"),
        ({"$defs": {"n": {"items": {"pattern": "(?!a)b"}}}}, "(?!a)b", "at $defs/n/items/pattern"),
        ({"properties": {"n": {"$schema": DRAFT_7, "pattern": r"(x)\1"}}}, r"(x)\1", "at properties/n/pattern"),
    ],
    ids=["backreference", "lookahead", "lookbehind-key", "negative-lookahead-in-defs", "in-another-dialect"],
)
def test_a_pattern_re2_cannot_run_is_refused_naming_it_and_where(schema: dict[str, Any], pattern: str, location: str):
    with pytest.raises(ValueError) as refused:
        check_schema(schema)

    message = str(refused.value)
    assert f"{location}: " in message, message
    assert repr(pattern) in message and "RE2" in message


def test_patterns_too_large_in_all_are_refused_quickly():
    schema = {"properties": {f"p{i}": {"pattern": f"^.{{0,1000}}{i}$"} for i in range(100)}}

    with within(SECOND), pytest.raises(ValueError, match="RE2 instructions; the limit is 20,000"):
        check_schema(schema)


def test_too_many_distinct_patterns_are_refused_quickly():
    schema = {"properties": {f"p{i}": {"pattern": f"^p{i}$"} for i in range(10_000)}}

    with within(SECOND), pytest.raises(ValueError, match="500 distinct patterns"):
        check_schema(schema)


def test_a_large_schema_is_checked_against_the_meta_schema_quickly():
    """jsonschema's own check_schema takes about a millisecond per subschema (over a minute here)."""
    schema = {"properties": {f"p{i}": {"type": "string", "minLength": 1} for i in range(15_000)}}

    with within(SECOND):
        check_schema(schema)


def test_ordinary_schemas_are_accepted_and_invalid_ones_refused():
    check_schema({"patternProperties": {"^x-": {"type": "string"}}, "properties": {"id": {"pattern": r"^\u0041\d+$"}}})
    check_schema({"$ref": "not a uri, as before"})
    with pytest.raises(ValueError, match="not a valid JSON Schema Draft 2020-12 document at type"):
        check_schema({"type": "nope"})

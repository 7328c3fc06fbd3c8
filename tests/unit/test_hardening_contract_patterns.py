"""Checking a payload against a contract costs time linear in the payload, whatever the contract says.

A contract is written by anyone holding ``models:write``; the payloads checked against it come from
every caller of the model. A ``pattern`` with nested quantifiers makes a backtracking regex engine
take time exponential in the input, so one contract could hold every inference request of a model
for the function's whole timeout.
"""

from __future__ import annotations

import time

import pytest

from shared.domain.contracts import schema_violations

NESTED_QUANTIFIER = {"type": "object", "properties": {"word": {"type": "string", "pattern": "^(a+)+$"}}}


def _seconds_to_check(length: int) -> float:
    started = time.perf_counter()
    reasons = schema_violations({"word": "a" * length + "!"}, NESTED_QUANTIFIER)
    elapsed = time.perf_counter() - started
    assert reasons, "the payload does not match the pattern, so it must be reported"
    return elapsed


@pytest.mark.xfail(
    strict=True,
    reason="BUG: contract patterns run on Python's backtracking re: '^(a+)+$' against 'aaa…a!' takes "
    "time exponential in the length (about 2x per character; ~90 s at 30 characters), so a contract can "
    "stall every request validated against it until the function times out",
)
def test_a_pattern_with_nested_quantifiers_is_checked_in_time_linear_in_the_payload():
    _seconds_to_check(1)  # imports and compiles the validator, so neither is timed below
    short = _seconds_to_check(17)
    long = _seconds_to_check(23)

    # Six more characters: a linear check barely changes, a backtracking one takes ~64 times longer.
    assert long < 4 * short + 0.05, f"{short:.4f}s for 17 characters, {long:.4f}s for 23"


def test_an_ordinary_pattern_is_checked_quickly_on_a_long_payload():
    schema = {"type": "object", "properties": {"word": {"type": "string", "pattern": "^[a-z]+$"}}}
    started = time.perf_counter()

    reasons = schema_violations({"word": "a" * 300_000 + "!"}, schema)

    assert reasons and time.perf_counter() - started < 1.0

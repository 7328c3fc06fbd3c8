"""The checks on a raw request body: nesting depth without parsing, and the parse itself."""

from __future__ import annotations

import json
import time

import pytest

from shared.domain.errors import RequestInvalidError
from shared.http.json_body import nesting_depth, parse_json_body


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("", 0),
        ("1", 0),
        ("{}", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('["[[[[", "{{{{"]', 1),
        ('["\\"[[[[", "]"]', 1),
        ('["\\\\", [[]]]', 3),
        ('["\\\\\\"[[", [1]]', 2),
        ('"\\u005b["', 0),
        ('[1, "unterminated [[[[', 1),
        ("]]][[", 0),
        ("[[[", 3),
        ("[" * 70 + "]" * 70, 70),
    ],
)
def test_nesting_depth_counts_brackets_outside_strings(text: str, depth: int):
    assert nesting_depth(text) == depth


def test_nesting_depth_agrees_with_the_parser_on_generated_documents():
    document = {"a": [{"b": 'x]\\"[{'}, [[["\\\\"]]], {"c": {"d": ['"', '\\"', "[{"]}}]}
    text = json.dumps(document)

    assert nesting_depth(text) == 5


@pytest.mark.parametrize(
    "text",
    ['"' + '\\"' * 500_000, '"' * 1_000_000, "[" * 500_000 + "]" * 500_000, '"\\' * 500_000, "[]" * 500_000],
    ids=["escaped-quotes", "quotes", "deep", "quote-backslash", "pairs"],
)
def test_nesting_depth_is_linear_on_a_megabyte(text: str):
    started = time.perf_counter()
    nesting_depth(text)
    assert time.perf_counter() - started < 1.0


def test_the_parse_refuses_an_integer_past_the_conversion_limit():
    with pytest.raises(RequestInvalidError, match="4300 digits"):
        parse_json_body('{"n": ' + "1" * 4301 + "}")


@pytest.mark.parametrize("text", ['{"a": "\\ud800"}', '{"\\udfff": 1}', '["\\uDBFF"]', '["\\ude00\\ud83d"]'])
def test_the_parse_refuses_a_lone_surrogate(text: str):
    with pytest.raises(RequestInvalidError, match="surrogate"):
        parse_json_body(text)


def test_the_parse_refuses_a_raw_lone_surrogate_in_the_text():
    with pytest.raises(RequestInvalidError, match="surrogate"):
        parse_json_body('{"a": "é\ud800"}')


def test_the_parse_reads_a_surrogate_pair_as_its_character():
    assert parse_json_body('{"\\ud83d\\ude00": "\\uD83D\\uDE00"}') == {"\U0001f600": "\U0001f600"}


def test_malformed_json_is_still_a_decode_error():
    with pytest.raises(json.JSONDecodeError):
        parse_json_body('{"a": ')

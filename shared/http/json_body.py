"""Reading a request body as PIE's JSON: checks that run on the raw text, and the parse itself.

Everything here runs on text an anonymous caller controls, before any validation, so each step is
linear in the length of the body: no regular expression that can backtrack or restart inside a
string, no recursion bounded only by the input.
"""

from __future__ import annotations

import gc
import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import accumulate, repeat
from typing import Any

from shared.domain.errors import RequestInvalidError

MAX_JSON_DEPTH = 64

# Deletes every ASCII character but brackets (str.translate keeps what the table does not name).
_ONLY_BRACKETS = {code: None for code in range(128) if chr(code) not in "[]{}"}
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
# A UTF-16 surrogate, escaped (\uD800-\uDFFF) or raw: only then can the parsed body hold one alone.
# Two searches, not one alternation: a pattern starting with a literal is scanned for far faster.
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
_RAW_SURROGATE = re.compile("[\ud800-\udfff]")


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in JSON text (strings skipped), without parsing it.

    Escapes are dropped first: a pair of backslashes, then a backslash-quote (``str.replace`` scans
    left to right, so runs of backslashes pair up as JSON pairs them). What is left of each string is
    then quote-free, so splitting on quotes alternates outside / inside strings; an unterminated
    string runs to the end. Every step is one pass in C over the text. On text that is not JSON the
    count may differ from a parser's, but only after the point where a parser stops.
    """
    unescaped = text.replace("\\\\", "").replace('\\"', "")
    outside_strings = "".join(unescaped.split('"')[::2])
    brackets = outside_strings.translate(_ONLY_BRACKETS)
    # Characters past ASCII outside strings (not JSON) are left in, and count as no step.
    return max(accumulate(map(_BRACKET_STEP.get, brackets, repeat(0)), initial=0))


def parse_json_body(text: str) -> Any:
    """The body as JSON (the resolver's deserializer). Malformed JSON raises ``JSONDecodeError``,
    which the resolver answers as invalid JSON; what Python's parser would accept but PIE cannot
    store or compare raises ``RequestInvalidError``."""
    try:
        with _collector_paused():
            document = json.loads(text)
    except json.JSONDecodeError:
        raise
    except ValueError:
        # The only other refusal of json.loads: an integer past Python's int conversion limit.
        raise RequestInvalidError(
            f"request body has an integer of more than {sys.get_int_max_str_digits()} digits"
        ) from None
    if _may_hold_a_surrogate(text) and _holds_lone_surrogate(document):
        raise RequestInvalidError(
            "request body has a lone UTF-16 surrogate (\\ud800-\\udfff) that is not half of a pair"
        )
    return document


@contextmanager
def _collector_paused() -> Iterator[None]:
    """A body of many small arrays or objects allocates hundreds of thousands of containers at once;
    each allocation burst triggers full collections that walk the whole heap (seconds per megabyte
    in a large process). Parsing creates no reference cycles, so nothing is lost by pausing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _may_hold_a_surrogate(text: str) -> bool:
    if _ESCAPED_SURROGATE.search(text) is not None:
        return True
    return not text.isascii() and _RAW_SURROGATE.search(text) is not None


def _holds_lone_surrogate(document: Any) -> bool:
    """Whether any string in the parsed body, key or value, cannot be encoded as UTF-8."""
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False

"""The one JSON Schema (Draft 2020-12) validator for handler contracts, bounded in time whatever the
contract and the payload.

jsonschema alone lets a contract stall PIE: it evaluates ``pattern`` and ``patternProperties`` with
Python's backtracking ``re`` (``^(a+)+$`` against 30 characters takes a minute), compares
``uniqueItems`` pairwise when items are objects, and follows ``$ref``s as often as a schema names
them. Here:

- every regular expression a contract carries runs on RE2, whose search time is linear in the
  subject: at most (subject bytes × the pattern's RE2 program size) steps. Patterns RE2 cannot run
  (backreferences, lookaround) are refused when the contract is registered (:func:`check_schema`),
  and a single search is refused above :data:`MAX_SEARCH_WORK` steps instead of being attempted;
- ``uniqueItems`` compares hashed canonical forms (linear instead of quadratic);
- every keyword checks a deadline (:data:`VALIDATION_SECONDS`), so a schema whose cost is the
  product of its size and the payload's, or that multiplies through ``$ref``s, stops with a reason
  instead of running on; a schema that refers to itself without end stops the same way;
- PIE applies Draft 2020-12 throughout: a subschema's ``$schema`` does not switch to another
  dialect's stock validator (which would bring Python's ``re`` back);
- ``multipleOf`` is exact where floats overflow (jsonschema divides an integer past the largest
  float before its own guard, and raises), and any other exception a keyword raises on some payload
  stops validation with a reason: the payload is refused (or warned about), never a server error.

``format`` stays an annotation (jsonschema asserts it only when given a format checker, and PIE
gives none), so ``format: regex`` never compiles the instance.
"""

from __future__ import annotations

import contextvars
import functools
import math
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import attrs
import re2
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.exceptions import Unresolvable

# CPU time for the whole validation of one payload, counted on the validating thread so that a
# loaded machine does not refuse what an idle one accepts. One RE2 search admitted just before the
# deadline adds at most MAX_SEARCH_WORK steps (about a quarter of a second at the slowest rate
# measured): no validation takes more than about 0.75 s of CPU.
VALIDATION_SECONDS = 0.5
# Subject bytes × RE2 program instructions: RE2's worst case (a pattern whose DFA keeps
# overflowing, so it falls back to simulating the NFA) measured at up to 60 ns per unit.
MAX_SEARCH_WORK = 4_000_000
# A schema's distinct patterns, and their RE2 instructions in all: compiling costs about 0.1 ms a
# pattern plus up to 3 µs an instruction, and every validation may compile them again.
MAX_SCHEMA_PATTERNS = 500
MAX_SCHEMA_PROGRAM = 20_000
# Memory for one compiled pattern (program and DFA cache); larger programs fail to compile.
PATTERN_MEMORY_BYTES = 1 << 20
# How much of an unexpected exception's text a reason quotes (it may repeat a 4,000-digit number).
REASON_CHARACTERS = 200

_OPTIONS = re2.Options()
_OPTIONS.max_mem = PATTERN_MEMORY_BYTES
_OPTIONS.log_errors = False  # a refused pattern is reported to the caller, not logged by RE2

# ECMA-262's \uXXXX and \u{X…} escapes, written \x{…} in RE2; an escaped backslash is skipped over
# so that "\\u0041" stays a backslash followed by "u0041".
_ECMA_UNICODE_ESCAPE = re.compile(r"\\\\|\\u([0-9A-Fa-f]{4})|\\u\{([0-9A-Fa-f]{1,6})\}")

_deadline: contextvars.ContextVar[float] = contextvars.ContextVar("json_schema_deadline", default=math.inf)


class UnusablePatternError(ValueError):
    """A contract pattern PIE cannot evaluate in linear time, or not against this subject."""


class _OutOfTime(Exception):
    pass


@dataclass(frozen=True)
class Outcome:
    errors: list[ValidationError]
    unfinished: str | None  # why validation stopped before looking at everything, if it did


def check_schema(schema: dict[str, Any]) -> None:
    """Raise ``ValueError`` unless ``schema`` is a Draft 2020-12 schema whose every pattern RE2 runs
    within the limits above; the message names the first offending pattern and where it is.

    The meta-schema is applied by jsonschema-rs: linear in the schema, where jsonschema's own
    ``check_schema`` spends about a millisecond per subschema resolving the meta-schema's dynamic
    references (a contract at the size limit took over a minute).
    """
    check = _PatternCheck()
    token = _pattern_check.set(check)
    try:
        errors = list(_meta_validator().iter_errors(schema))
    finally:
        _pattern_check.reset(token)
    if not errors:
        return
    for error in errors:
        # A refused pattern fails the "regex" format (or, as a patternProperties key, propertyNames).
        refused = next((name for name in _strings_in(error.instance) if name in check.problems), None)
        if refused is not None:
            raise ValueError(
                f"not a JSON Schema Draft 2020-12 document PIE can evaluate, at {_location(error)}: "
                f"{check.problems[refused]}"
            )
    first = errors[0]
    raise ValueError(f"not a valid JSON Schema Draft 2020-12 document at {_location(first)}: {first.message}")


def _strings_in(instance: Any) -> list[str]:
    if isinstance(instance, str):
        return [instance]
    return list(instance) if isinstance(instance, dict) else []


def _location(error: Any) -> str:
    return "/".join(str(part) for part in error.instance_path) or "(root)"


class _PatternCheck:
    """The ``regex`` format of one :func:`check_schema` call: RE2 compiles the pattern, and the
    schema's distinct patterns stay within :data:`MAX_SCHEMA_PATTERNS` and
    :data:`MAX_SCHEMA_PROGRAM` instructions."""

    def __init__(self) -> None:
        self.program_sizes: dict[str, int] = {}
        self.total = 0
        self.problems: dict[str, str] = {}

    def __call__(self, pattern: str) -> bool:
        if pattern in self.program_sizes:
            return True
        if self.problems:
            return pattern not in self.problems  # one refusal is enough: compile nothing more
        if len(self.program_sizes) == MAX_SCHEMA_PATTERNS:
            self.problems[pattern] = (
                f"the pattern {pattern!r} is one more than the {MAX_SCHEMA_PATTERNS} distinct patterns "
                "a schema may have"
            )
            return False
        try:
            size = _compile(pattern).programsize
        except UnusablePatternError as unusable:
            self.problems[pattern] = str(unusable)
            return False
        if self.total + size > MAX_SCHEMA_PROGRAM:
            self.problems[pattern] = (
                f"the pattern {pattern!r} brings the schema's patterns to {self.total + size:,} RE2 instructions; "
                f"the limit is {MAX_SCHEMA_PROGRAM:,} (shorten counted repetitions such as {{1,100}})"
            )
            return False
        self.program_sizes[pattern] = size
        self.total += size
        return True


_pattern_check: contextvars.ContextVar[_PatternCheck] = contextvars.ContextVar("json_schema_pattern_check")


@functools.cache
def _meta_validator() -> Any:
    # Imported here: only registering a contract needs it, not the routes that validate payloads.
    import jsonschema_rs

    def refuse_remote(uri: str) -> Any:
        raise ValueError(f"{uri} is not fetched")  # the meta-schemas are bundled; nothing else is read

    return jsonschema_rs.validator_for(
        Draft202012Validator.META_SCHEMA,
        validate_formats=True,
        # As before: "regex" is checked, on RE2; the URI formats are not (jsonschema skips them too).
        formats={
            "regex": lambda pattern: _pattern_check.get()(pattern),
            "uri": _anything,
            "uri-reference": _anything,
        },
        retriever=refuse_remote,
    )


def _anything(value: str) -> bool:
    return True


def validate(instance: Any, schema: dict[str, Any], registry: Registry) -> Outcome:
    """Every error of ``instance`` against ``schema``, found within :data:`VALIDATION_SECONDS` of CPU.

    Raises what ``referencing`` raises for a reference it cannot resolve; any other exception
    stops validation with a reason (``Outcome.unfinished``), so it counts as a violation.
    """
    errors: list[ValidationError] = []
    token = _deadline.set(time.thread_time() + VALIDATION_SECONDS)
    try:
        for error in ContractValidator(schema, registry=registry).iter_errors(instance):
            errors.append(error)
    except _OutOfTime:
        return Outcome(
            errors,
            f"validation stopped after {VALIDATION_SECONDS} s of CPU: the schema is too costly to check "
            "against this payload (simplify the schema or send a smaller payload)",
        )
    except RecursionError:
        return Outcome(errors, "validation stopped: the schema refers to itself without end, or nests too deeply")
    except Unresolvable:
        raise
    except Exception as error:  # whatever a keyword raises on a payload refuses it, never a 500
        text = str(error)
        if len(text) > REASON_CHARACTERS:
            text = text[:REASON_CHARACTERS] + "…"
        return Outcome(errors, f"validation stopped: this payload cannot be checked against the schema ({text})")
    finally:
        _deadline.reset(token)
    return Outcome(errors, None)


def pattern_matches(pattern: str, subject: str) -> bool:
    """``re.search`` semantics (unanchored) on RE2. Raises :class:`UnusablePatternError`."""
    compiled = _compile(pattern)
    encoded = subject.encode("utf-8", "surrogatepass")
    work = len(encoded) * compiled.programsize
    if work > MAX_SEARCH_WORK:
        raise UnusablePatternError(
            f"a string of {len(encoded):,} bytes is too long to check against the pattern {pattern!r} "
            f"({compiled.programsize:,} RE2 instructions): PIE searches at most {MAX_SEARCH_WORK:,} "
            "bytes × instructions (bound the string with maxLength, or simplify the pattern)"
        )
    _check_deadline()
    return compiled.search(encoded) is not None


def _compile(pattern: str) -> Any:
    try:
        translated = _ECMA_UNICODE_ESCAPE.sub(_to_re2_escape, pattern).encode("utf-8")
    except UnicodeEncodeError:
        raise UnusablePatternError(f"the pattern {pattern!r} is not valid Unicode") from None
    _check_deadline()
    try:
        return re2.compile(translated, _OPTIONS)
    except re2.error as error:
        reason = error.args[0].decode(errors="replace") if error.args and isinstance(error.args[0], bytes) else error
        raise UnusablePatternError(
            f"the pattern {pattern!r} cannot be run by RE2, the linear-time engine PIE evaluates "
            f"patterns with (it has no backreferences or lookaround): {reason}"
        ) from None


def _to_re2_escape(match: re.Match[str]) -> str:
    code = match.group(1) or match.group(2)
    return f"\\x{{{code}}}" if code else match.group(0)


def _check_deadline() -> None:
    if time.thread_time() > _deadline.get():
        raise _OutOfTime


# Keywords that evaluate regular expressions, re-implemented on RE2 --------------------------------


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "string"):
        return
    try:
        if not pattern_matches(pattern, instance):
            yield ValidationError(f"{instance!r} does not match {pattern!r}")
    except UnusablePatternError as unusable:
        yield ValidationError(str(unusable))


def _pattern_properties(
    validator: Any, patterns: dict[str, Any], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for name, value in instance.items():
            try:
                matched = pattern_matches(pattern, name)
            except UnusablePatternError as unusable:
                yield ValidationError(str(unusable))
                return
            if matched:
                yield from validator.descend(value, subschema, path=name, schema_path=pattern)


def _additional_properties(validator: Any, additional: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    try:
        extras = [name for name in instance if not _declared(name, schema)]
    except UnusablePatternError as unusable:
        yield ValidationError(str(unusable))
        return
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        if "patternProperties" in schema:
            verb = "does" if len(extras) == 1 else "do"
            joined = ", ".join(repr(each) for each in sorted(extras))
            patterns = ", ".join(repr(each) for each in sorted(schema["patternProperties"]))
            yield ValidationError(f"{joined} {verb} not match any of the regexes: {patterns}")
        else:
            yield ValidationError("Additional properties are not allowed (%s %s unexpected)" % _listed(sorted(extras)))


def _listed(names: list[str]) -> tuple[str, str]:
    """Property names and their verb, worded as jsonschema words them."""
    return ", ".join(repr(name) for name in names), "was" if len(names) == 1 else "were"


def _declared(name: str, schema: dict[str, Any]) -> bool:
    if name in schema.get("properties", {}):
        return True
    return any(pattern_matches(pattern, name) for pattern in schema.get("patternProperties", {}))


def _unevaluated_properties(validator: Any, unevaluated: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    try:
        evaluated = _evaluated_property_names(validator, instance, schema)
    except UnusablePatternError as unusable:
        yield ValidationError(str(unusable))
        return
    invalid = [
        name
        for name in instance
        if name not in evaluated
        and next(validator.descend(instance[name], unevaluated, path=name, schema_path=name), None) is not None
    ]
    if not invalid:
        return
    if unevaluated is False:
        message = "Unevaluated properties are not allowed (%s %s unexpected)"
        yield ValidationError(message % _listed(sorted(invalid)))
    else:
        message = "Unevaluated properties are not valid under the given schema (%s %s unevaluated and invalid)"
        yield ValidationError(message % _listed(invalid))


def _evaluated_property_names(validator: Any, instance: dict[str, Any], schema: Any) -> set[str]:
    """jsonschema's ``find_evaluated_property_keys_by_schema``, with patterns searched on RE2 (the
    original calls Python's ``re`` directly, out of reach of the ``patternProperties`` keyword)."""
    _check_deadline()
    if validator.is_type(schema, "boolean"):
        return set()
    evaluated: set[str] = set()

    def is_valid(subschema: Any) -> bool:
        return next(validator.descend(instance, subschema), None) is None

    for keyword in ("$ref", "$dynamicRef"):
        reference = schema.get(keyword)
        if reference is not None:
            resolved = validator._resolver.lookup(reference)
            referenced = validator.evolve(schema=resolved.contents, _resolver=resolved.resolver)
            evaluated |= _evaluated_property_names(referenced, instance, resolved.contents)

    properties = schema.get("properties")
    if validator.is_type(properties, "object"):
        evaluated |= properties.keys() & instance.keys()
    for keyword in ("additionalProperties", "unevaluatedProperties"):
        subschema = schema.get(keyword)
        if subschema is not None:
            evaluated |= {
                name for name, value in instance.items() if next(validator.descend(value, subschema), None) is None
            }
    for pattern in schema.get("patternProperties", {}):
        evaluated |= {name for name in instance if pattern_matches(pattern, name)}
    for name, subschema in schema.get("dependentSchemas", {}).items():
        if name in instance:
            evaluated |= _evaluated_property_names(validator, instance, subschema)
    for keyword in ("allOf", "oneOf", "anyOf"):
        for subschema in schema.get(keyword, []):
            if is_valid(subschema):
                evaluated |= _evaluated_property_names(validator, instance, subschema)
    if "if" in schema:
        if validator.evolve(schema=schema["if"]).is_valid(instance):
            evaluated |= _evaluated_property_names(validator, instance, schema["if"])
            if "then" in schema:
                evaluated |= _evaluated_property_names(validator, instance, schema["then"])
        elif "else" in schema:
            evaluated |= _evaluated_property_names(validator, instance, schema["else"])
    return evaluated


def _unique_items(validator: Any, unique: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not unique or not validator.is_type(instance, "array"):
        return
    seen: set[Any] = set()
    for item in instance:
        key = _canonical(item)
        if key in seen:
            yield ValidationError(f"{instance!r} has non-unique elements")
            return
        seen.add(key)


def _canonical(value: Any) -> Any:
    """A hashable form equal for equal JSON values: 1 and 1.0 are the same number, true is not 1."""
    if isinstance(value, bool) or value is None:
        return ("literal", value)
    if isinstance(value, (int, float)):
        return ("number", value)
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, list):
        return ("array", tuple(_canonical(item) for item in value))
    if isinstance(value, dict):
        return ("object", frozenset((name, _canonical(item)) for name, item in value.items()))
    return ("other", repr(value))


def _multiple_of(validator: Any, divisor: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "number"):
        return
    if _not_a_multiple(instance, divisor):
        yield ValidationError(f"{instance!r} is not a multiple of {divisor}")


def _not_a_multiple(instance: int | float, divisor: int | float) -> bool:
    """jsonschema's answer (float division when either side is a float, so ``0.3`` is still no
    multiple of ``0.1``), computed exactly where a float would overflow: an integer past 1.8e308
    divided by a float, or a float taken modulo such an integer."""
    try:
        if isinstance(divisor, float):
            quotient = instance / divisor
            return int(quotient) != quotient
        return bool(instance % divisor)
    except OverflowError:
        return (Fraction(instance) / Fraction(divisor)).denominator != 1


def _within_deadline(keyword: Callable[..., Any]) -> Callable[..., Any]:
    def checked(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
        _check_deadline()
        return keyword(validator, value, instance, schema)

    return checked


_RE2_KEYWORDS = {
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
    "unevaluatedProperties": _unevaluated_properties,
    "uniqueItems": _unique_items,
    "multipleOf": _multiple_of,
}

ContractValidator = validators.extend(
    Draft202012Validator,
    {
        name: _within_deadline(_RE2_KEYWORDS.get(name, keyword))
        for name, keyword in Draft202012Validator.VALIDATORS.items()
    },
)
# jsonschema's evolve picks the stock validator of whatever dialect a subschema's "$schema" names
# (including 2020-12's own), which would evaluate that subtree's patterns with Python's "re".
ContractValidator.evolve = lambda self, **changes: attrs.evolve(self, **changes)  # type: ignore[method-assign]

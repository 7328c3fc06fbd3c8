"""Search: the filter language of ``GET /v2/models?filter=`` and ``.../versions?filter=``, and which
index answers a filter. Pure: no I/O.

The language is the subset of MLflow's ``filter_string`` the contract names: comparisons joined by
``AND`` (any case), each ``<field> = '<value>'`` or ``name LIKE '<prefix>%'``; fields ``name``,
``status``, ``workspace``, ``tags.<key>`` for models and ``version``, ``status``, ``tags.<key>`` for
versions; strings single-quoted with ``''`` for a quote; a tag key with characters other than
letters, digits and ``_`` in backticks (``tags.`team/owner` = 'x'``). A small tokenizer and a
recursive-descent parser read it; every refusal is a ``FilterInvalidError`` naming the 0-based
position where reading stopped.

``plan_search`` picks the term an index answers (the driver), and says whether the index's own
order is the order asked for (``native``) or the candidates must be sorted (bounded).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from shared.domain.entities import MAX_FILTER_LENGTH, VERSION_PATTERN, WORKSPACE_PATTERN
from shared.domain.errors import FilterInvalidError, OrderByInvalidError
from shared.domain.tags import TAG_KEY_PATTERN

MAX_TERMS = 10

Kind = Literal["model", "version"]
Field = Literal["name", "status", "workspace", "version", "tag"]
Operator = Literal["=", "like"]
OrderField = Literal["list", "name", "created_at", "updated_at"]

_FIELDS: dict[Kind, tuple[str, ...]] = {
    "model": ("name", "status", "workspace", "tags.<key>"),
    "version": ("version", "status", "tags.<key>"),
}
_STATUSES: dict[Kind, tuple[str, ...]] = {
    "model": ("pending", "active"),
    "version": ("pending", "training", "active", "failed"),
}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORKSPACE = re.compile(WORKSPACE_PATTERN)
_VERSION = re.compile(VERSION_PATTERN)
_TAG_KEY = re.compile(TAG_KEY_PATTERN)
_OPERATOR_CHARACTERS = "!<>"


# Tokens ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: Literal["word", "string", "quoted_key", "dot", "equals", "operator", "end"]
    text: str
    position: int


def tokenize(text: str, what: str = "filter") -> list[Token]:
    """The tokens of ``text``, ending with an ``end`` token at its length."""
    tokens: list[Token] = []
    at = 0
    while at < len(text):
        character = text[at]
        if character.isspace():
            at += 1
        elif character == "'":
            start = at
            value, at = _string(text, at, what)
            tokens.append(Token("string", value, start))
        elif character == "`":
            end = text.find("`", at + 1)
            if end < 0:
                raise FilterInvalidError(what, at, "a backtick opens a tag key that is never closed")
            tokens.append(Token("quoted_key", text[at + 1 : end], at))
            at = end + 1
        elif character == ".":
            tokens.append(Token("dot", ".", at))
            at += 1
        elif character == "=":
            tokens.append(Token("equals", "=", at))
            at += 1
        elif character in _OPERATOR_CHARACTERS:
            end = at + 1
            while end < len(text) and text[end] in _OPERATOR_CHARACTERS + "=":
                end += 1
            tokens.append(Token("operator", text[at:end], at))
            at = end
        elif (word := _IDENTIFIER.match(text, at)) is not None:
            tokens.append(Token("word", word.group(), at))
            at = word.end()
        else:
            hint = " (strings are single-quoted)" if character == '"' else ""
            raise FilterInvalidError(what, at, f"unexpected character {character!r}{hint}")
    tokens.append(Token("end", "", len(text)))
    return tokens


def _string(text: str, start: int, what: str) -> tuple[str, int]:
    """The value of the single-quoted string opening at ``start`` (``''`` is a quote), and where
    reading continues."""
    parts: list[str] = []
    at = start + 1
    while True:
        end = text.find("'", at)
        if end < 0:
            raise FilterInvalidError(what, start, "a quote opens a string that is never closed")
        parts.append(text[at:end])
        if text.startswith("''", end):
            parts.append("'")
            at = end + 2
            continue
        return "".join(parts), end + 1


# The parsed filter -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    field: Field
    operator: Operator
    value: str
    position: int
    key: str | None = None  # the tag key of a ``tags.<key>`` comparison

    def holds(self, fields: Mapping[str, str], tags: Mapping[str, str]) -> bool:
        actual = tags.get(self.key or "") if self.field == "tag" else fields.get(self.field)
        if actual is None:
            return False
        if self.operator == "like":
            return actual.startswith(self.value)
        return actual == self.value


@dataclass(frozen=True)
class Filter:
    """A conjunction of comparisons (empty: everything)."""

    terms: tuple[Comparison, ...] = ()

    def matches(self, fields: Mapping[str, str], tags: Mapping[str, str]) -> bool:
        return all(term.holds(fields, tags) for term in self.terms)


def parse_filter(text: str | None, kind: Kind) -> Filter:
    if text is None or not text.strip():
        return Filter()
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterInvalidError("filter", MAX_FILTER_LENGTH, f"a filter is at most {MAX_FILTER_LENGTH} characters")
    return _Parser(tokenize(text), kind).filter()


class _Parser:
    """filter := comparison ( AND comparison )* end
    comparison := field ( '=' | LIKE ) string
    field := word | 'tags' '.' ( word | quoted_key )"""

    def __init__(self, tokens: list[Token], kind: Kind) -> None:
        self._tokens = tokens
        self._at = 0
        self._kind = kind

    def _peek(self) -> Token:
        return self._tokens[self._at]

    def _take(self) -> Token:
        token = self._tokens[self._at]
        self._at += 1
        return token

    def _fail(self, token: Token, message: str) -> FilterInvalidError:
        found = "the end of the filter" if token.kind == "end" else repr(token.text)
        return FilterInvalidError("filter", token.position, f"{message}, found {found}")

    def filter(self) -> Filter:
        terms = [self._comparison()]
        while self._peek().kind != "end":
            token = self._take()
            if token.kind != "word" or token.text.upper() != "AND":
                hint = " (only AND joins comparisons)" if token.kind == "word" and token.text.upper() == "OR" else ""
                raise self._fail(token, f"expected AND{hint}")
            if len(terms) == MAX_TERMS:
                raise FilterInvalidError("filter", token.position, f"a filter has at most {MAX_TERMS} comparisons")
            terms.append(self._comparison())
        return Filter(tuple(terms))

    def _comparison(self) -> Comparison:
        start = self._peek()
        field, key = self._field()
        operator_token = self._take()
        if operator_token.kind == "equals":
            operator: Operator = "="
        elif operator_token.kind == "word" and operator_token.text.upper() == "LIKE":
            operator = "like"
        else:
            raise self._fail(operator_token, "expected = or LIKE")
        value_token = self._take()
        if value_token.kind != "string":
            raise self._fail(value_token, "expected a single-quoted string")
        value = value_token.text
        if operator == "like":
            if field != "name":
                raise FilterInvalidError("filter", operator_token.position, "LIKE applies to name only")
            value = _like_prefix(value, value_token.position)
        else:
            _check_value(self._kind, field, value, value_token.position)
        return Comparison(field, operator, value, start.position, key)

    def _field(self) -> tuple[Field, str | None]:
        token = self._take()
        if token.kind != "word":
            raise self._fail(token, f"expected a field ({', '.join(_FIELDS[self._kind])})")
        if token.text == "tags":
            if self._take().kind != "dot":
                raise self._fail(self._tokens[self._at - 1], "expected '.' and a tag key after tags")
            key_token = self._take()
            if key_token.kind not in ("word", "quoted_key") or _TAG_KEY.fullmatch(key_token.text) is None:
                raise self._fail(
                    key_token,
                    "expected a tag key (1-128 of A-Z a-z 0-9 _ . : / -; in backticks unless "
                    "only letters, digits and _)",
                )
            return "tag", key_token.text
        if token.text not in _FIELDS[self._kind] or token.text == "tags.<key>":
            raise self._fail(token, f"expected a field of a {self._kind} ({', '.join(_FIELDS[self._kind])})")
        return token.text, None  # type: ignore[return-value]


def _like_prefix(pattern: str, position: int) -> str:
    r"""The prefix a LIKE pattern selects: it must end in ``%`` and hold no other wildcard
    (``\%``, ``\_`` and ``\\`` are the literal characters)."""
    prefix: list[str] = []
    at = 0
    while at < len(pattern):
        character = pattern[at]
        if character == "\\" and at + 1 < len(pattern) and pattern[at + 1] in "%_\\":
            prefix.append(pattern[at + 1])
            at += 2
            continue
        if character == "%" and at == len(pattern) - 1:
            return "".join(prefix)
        if character in "%_":
            raise FilterInvalidError(
                "filter",
                position + 1 + at,
                f"LIKE takes a prefix pattern ('abc%'): {character!r} is a wildcard here (write \\{character} "
                "for the character itself)",
            )
        prefix.append(character)
        at += 1
    raise FilterInvalidError("filter", position, "LIKE takes a prefix pattern that ends in % ('abc%')")


def _check_value(kind: Kind, field: Field, value: str, position: int) -> None:
    if field == "status" and value not in _STATUSES[kind]:
        raise FilterInvalidError(
            "filter", position, f"a {kind} status is one of {', '.join(_STATUSES[kind])}, not {value!r}"
        )
    if field == "workspace" and _WORKSPACE.fullmatch(value) is None:
        raise FilterInvalidError("filter", position, f"{value!r} is not a workspace name")
    if field == "version" and _VERSION.fullmatch(value) is None:
        raise FilterInvalidError("filter", position, f"{value!r} is not a version id")


# Order -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Order:
    """``list``: the plain list's order (models: by workspace, then id; versions: creation)."""

    field: OrderField
    descending: bool = False


def parse_order_by(text: str | None, kind: Kind) -> Order | None:
    """``name|created_at|updated_at`` with an optional ``ASC|DESC`` (any case); None when absent."""
    if text is None or not text.strip():
        return None
    allowed = ("name", "created_at", "updated_at") if kind == "model" else ("created_at", "updated_at")
    try:
        tokens = tokenize(text, "order_by")
    except FilterInvalidError as error:
        raise OrderByInvalidError(error.message) from None
    field = tokens[0]
    if field.kind != "word" or field.text not in allowed:
        raise OrderByInvalidError(f"order_by: expected one of {', '.join(allowed)} at position {field.position}")
    direction = tokens[1]
    descending = False
    if direction.kind == "word" and direction.text.upper() in ("ASC", "DESC"):
        descending = direction.text.upper() == "DESC"
        direction = tokens[2]
    if direction.kind != "end":
        raise OrderByInvalidError(f"order_by: expected ASC or DESC or the end at position {direction.position}")
    return Order(field.text, descending)  # type: ignore[arg-type]


# Plans -----------------------------------------------------------------------------------------

# Without statistics, selectivity is the kind of term: an exact name or version names one item; a
# tag value usually a few; a prefix more; a workspace or a status many.
_MODEL_RANK = {("name", "="): 0, ("tag", "="): 1, ("name", "like"): 2, ("workspace", "="): 3, ("status", "="): 4}
_VERSION_RANK = {("version", "="): 0, ("tag", "="): 1}


@dataclass(frozen=True)
class SearchPlan:
    """``driver``: the comparison an index answers (None: the whole list); ``order``: the order of
    the answer; ``native``: the driver's index yields that order, so pages stream from it; else
    the candidates are read whole (bounded) and sorted."""

    filter: Filter
    driver: Comparison | None
    order: Order
    native: bool


def native_order(kind: Kind, driver: Comparison | None) -> OrderField:
    if kind == "model":
        return "name" if driver is not None and driver.field == "name" else "list"
    return "list"


def plan_search(kind: Kind, search: Filter, order: Order | None) -> SearchPlan:
    ranks = _MODEL_RANK if kind == "model" else _VERSION_RANK
    candidates = sorted(
        (term for term in search.terms if (term.field, term.operator) in ranks),
        key=lambda term: (ranks[(term.field, term.operator)], -len(term.value)),
    )
    if kind == "model" and order is not None and order.field == "name":
        by_name = [term for term in candidates if term.field == "name"]
        if by_name or not candidates:
            # Every model is in the name index: ``name LIKE '%'`` is the whole list by name.
            driver = by_name[0] if by_name else Comparison("name", "like", "", 0)
            return SearchPlan(search, driver, order, native=True)
    driver = candidates[0] if candidates else None
    if order is None:
        # The plain list's order: models by the driver's index, versions newest first.
        return SearchPlan(search, driver, Order(native_order(kind, driver), descending=kind == "version"), native=True)
    if kind == "version" and order.field == "created_at":
        # A version's creation order is its place in the model's sequence, which its timestamp mirrors.
        return SearchPlan(search, driver, Order("list", order.descending), native=True)
    return SearchPlan(search, driver, order, native=native_order(kind, driver) == order.field)


def searched_workspaces(search: Filter, listed: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The workspaces a model search reads: those the caller lists (None: every one), narrowed to
    the filter's ``workspace = '...'`` terms (two different ones: none)."""
    named = {term.value for term in search.terms if term.field == "workspace"}
    if not named:
        return listed
    return tuple(sorted(named if listed is None else named & set(listed))) if len(named) == 1 else ()

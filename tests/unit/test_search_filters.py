"""The filter language (MLflow's subset, SPEC part three): what parses, what each refusal says and
where, and which index term a plan picks. Pure: no store."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.errors import FilterInvalidError, OrderByInvalidError
from shared.domain.search import (
    MAX_FILTER_LENGTH,
    MAX_TERMS,
    Comparison,
    Order,
    parse_filter,
    parse_order_by,
    plan_search,
    searched_workspaces,
)


def terms(text: str, kind: str = "model") -> list[tuple[str, str, str, str | None]]:
    return [(t.field, t.operator, t.value, t.key) for t in parse_filter(text, kind).terms]  # type: ignore[arg-type]


def refusal(text: str, kind: str = "model") -> FilterInvalidError:
    with pytest.raises(FilterInvalidError) as caught:
        parse_filter(text, kind)  # type: ignore[arg-type]
    return caught.value


def test_the_mlflow_example_parses():
    assert terms("name LIKE 'price%' AND tags.team = 'pricing'") == [
        ("name", "like", "price", None),
        ("tag", "=", "pricing", "team"),
    ]


def test_keywords_are_case_insensitive_and_space_is_free():
    assert terms("name like 'a%'   and\tstatus='active'") == [
        ("name", "like", "a", None),
        ("status", "=", "active", None),
    ]


def test_quotes_double_inside_strings_and_backticks_quote_tag_keys():
    assert terms("name = 'O''Brien'") == [("name", "=", "O'Brien", None)]
    assert terms("tags.`team/owner:x-1.2` = ''''") == [("tag", "=", "'", "team/owner:x-1.2")]
    assert terms("name = ''") == [("name", "=", "", None)]


def test_version_fields():
    assert terms("version = '3' AND status = 'training' AND tags.stage = 'x'", "version") == [
        ("version", "=", "3", None),
        ("status", "=", "training", None),
        ("tag", "=", "x", "stage"),
    ]


def test_like_escapes_name_their_characters_literally():
    assert terms(r"name LIKE 'price\_reco\%%'") == [("name", "like", "price_reco%", None)]


@pytest.mark.parametrize(
    ("text", "position", "says"),
    [
        ("name = 'abc", 7, "never closed"),
        ("name = abc", 7, "single-quoted string"),
        ('name = "abc"', 7, "single-quoted"),
        ("name == 'a'", 6, "single-quoted string"),
        ("name != 'a'", 5, "= or LIKE"),
        ("name = 'a' OR status = 'active'", 11, "only AND"),
        ("name = 'a' AND", 14, "end of the filter"),
        ("name = 'a' status = 'active'", 11, "expected AND"),
        ("owner = 'a'", 0, "expected a field"),
        ("tags = 'a'", 5, "'.' and a tag key"),
        ("tags.`a b` = 'x'", 5, "tag key"),
        ("tags.`abc = 'x'", 5, "never closed"),
        ("status LIKE 'a%'", 7, "LIKE applies to name only"),
        ("name LIKE 'a%b%'", 12, "wildcard"),
        ("name LIKE '%abc'", 11, "wildcard"),
        ("name LIKE 'a_b%'", 12, "wildcard"),
        ("name LIKE 'abc'", 10, "ends in %"),
        ("status = 'training'", 9, "pending, active"),
        ("workspace = 'a#b'", 12, "workspace"),
        ("name = 'a' AND $", 15, "unexpected character"),
        ("version = '1'", 0, "expected a field of a model"),
    ],
)
def test_a_malformed_filter_names_its_position(text: str, position: int, says: str):
    error = refusal(text)
    assert error.position == position
    assert says in error.message
    assert f"position {position}" in error.message


def test_bounds():
    assert refusal("name = 'x' AND " * MAX_TERMS + "name = 'x'").position > 0
    assert "at most" in refusal("name = '" + "x" * MAX_FILTER_LENGTH + "'").message


def test_order_by():
    assert parse_order_by(None, "model") is None
    assert parse_order_by("name", "model") == Order("name")
    assert parse_order_by("updated_at desc", "model") == Order("updated_at", True)
    assert parse_order_by("created_at ASC", "version") == Order("created_at")
    for bad, kind in [
        ("name", "version"),
        ("size", "model"),
        ("name DOWN", "model"),
        ("name ASC x", "model"),
        ("'", "model"),
    ]:
        with pytest.raises(OrderByInvalidError):
            parse_order_by(bad, kind)  # type: ignore[arg-type]


def test_the_most_selective_indexed_term_drives():
    search = parse_filter("status = 'active' AND workspace = 'w' AND tags.a = 'b' AND name LIKE 'x%'", "model")
    assert plan_search("model", search, None).driver == Comparison("tag", "=", "b", 42, "a")
    plan = plan_search("model", parse_filter("status = 'active'", "model"), None)
    assert plan.driver is not None and plan.driver.field == "status" and plan.native


def test_order_by_name_prefers_a_name_term_and_other_orders_sort():
    search = parse_filter("tags.a = 'b' AND name LIKE 'x%'", "model")
    plan = plan_search("model", search, Order("name", True))
    assert plan.driver is not None and plan.driver.field == "name" and plan.native
    plan = plan_search("model", parse_filter("tags.a = 'b'", "model"), Order("created_at"))
    assert plan.driver is not None and plan.driver.field == "tag" and not plan.native
    plan = plan_search("model", parse_filter("", "model"), Order("name"))
    assert plan.driver == Comparison("name", "like", "", 0) and plan.native


def test_versions_list_newest_first_and_created_at_is_their_own_order():
    plan = plan_search("version", parse_filter("status = 'active'", "version"), None)
    assert plan.driver is None and plan.order == Order("list", True) and plan.native
    assert plan_search("version", parse_filter("", "version"), Order("created_at")).order == Order("list", False)
    assert not plan_search("version", parse_filter("", "version"), Order("updated_at")).native


_ALPHABET = st.sampled_from(list("namelikeANDtags.`'%_=\\ statusworkspace()!<>\"\t\n#é0"))


@settings(max_examples=400, deadline=None)
@given(text=st.one_of(st.text(max_size=60), st.text(_ALPHABET, max_size=60)))
def test_any_text_parses_or_is_refused_with_a_position_inside_it(text: str):
    try:
        parse_filter(text, "model")
    except FilterInvalidError as error:
        assert 0 <= error.position <= len(text)
        assert f"position {error.position}" in error.message


def test_a_workspace_term_narrows_the_workspaces_read():
    search = parse_filter("workspace = 'a' AND tags.t = 'x'", "model")
    assert searched_workspaces(search, None) == ("a",)
    assert searched_workspaces(search, ("a", "b")) == ("a",)
    assert searched_workspaces(search, ("b",)) == ()
    assert searched_workspaces(parse_filter("workspace = 'a' AND workspace = 'b'", "model"), None) == ()
    assert searched_workspaces(parse_filter("name = 'x'", "model"), ("b",)) == ("b",)

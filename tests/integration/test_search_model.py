"""Search against a brute-force evaluation (SPEC part three, issue 25's "done when"): Hypothesis
builds a random registry (models, versions, tags, statuses, workspaces, timestamps) through the
data layer's own writes, draws random filters and orders, reads EVERY page through the list route
functions, and checks the pages together against a plain Python evaluation: no duplicates, none
missing, none extra, in the order asked for. The page budgets are drawn too, so short pages that
end on the read budget are checked the same way."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pie_local.settings import LOCAL_TABLE_NAME
from pie_local.table.dynamodb import embedded_dynamodb
from shared import runtime
from shared.data import keys, search
from shared.domain.records import ModelRecord
from shared.domain.search import Order, parse_filter, parse_order_by, plan_search
from shared.runtime import registry_store
from tests.integration.api_events import call
from tests.unit import builders

WORKSPACES = ("default", "team-a", "b")
NAMES = ("price", "price-eu", "pricing", "Price", "pr", "a_b", "a%b", "risk", "O'Hara", "")
TAG_KEYS = ("team", "stage", "a/b:c")
TAG_VALUES = ("x", "y", "x'y", "", "价")
VERSION_STATUSES = ("pending", "training", "active", "failed")


@st.composite
def registries(draw: st.DrawFn) -> list[dict[str, Any]]:
    ids = draw(
        st.lists(st.text("abcm0.-", min_size=1, max_size=4).map(lambda t: "m" + t), min_size=1, max_size=9, unique=True)
    )
    models = []
    for model_id in ids:
        version_count = draw(st.integers(1, 3))
        models.append(
            {
                "id": model_id,
                "workspace": draw(st.sampled_from(WORKSPACES)),
                "name": draw(st.sampled_from(NAMES).filter(bool)),
                "status": draw(st.sampled_from(("pending", "active"))),
                "tags": draw(st.dictionaries(st.sampled_from(TAG_KEYS), st.sampled_from(TAG_VALUES), max_size=3)),
                "created": draw(st.integers(0, 5)),
                "updated": draw(st.integers(0, 5)),
                "versions": [
                    {
                        "status": draw(st.sampled_from(VERSION_STATUSES)),
                        "tags": draw(
                            st.dictionaries(st.sampled_from(TAG_KEYS), st.sampled_from(TAG_VALUES), max_size=2)
                        ),
                        "updated": draw(st.integers(0, 5)),
                    }
                    for _ in range(version_count)
                ],
            }
        )
    return models


def quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def tag_field(key: str) -> str:
    return f"tags.{key}" if key.replace("_", "a").isalnum() else f"tags.`{key}`"


def like(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return quoted(escaped + "%")


@st.composite
def model_filters(draw: st.DrawFn) -> str:
    term = st.one_of(
        st.sampled_from(NAMES).filter(bool).map(lambda n: f"name = {quoted(n)}"),
        st.sampled_from(NAMES).flatmap(lambda n: st.integers(0, len(n)).map(lambda i: f"name LIKE {like(n[:i])}")),
        st.tuples(st.sampled_from(TAG_KEYS), st.sampled_from(TAG_VALUES)).map(
            lambda kv: f"{tag_field(kv[0])} = {quoted(kv[1])}"
        ),
        st.sampled_from(("pending", "active")).map(lambda s: f"status = {quoted(s)}"),
        st.sampled_from(WORKSPACES).map(lambda w: f"workspace = {quoted(w)}"),
    )
    return draw(st.lists(term, min_size=1, max_size=3).map(lambda ts: " AND ".join(ts)))


@st.composite
def version_filters(draw: st.DrawFn) -> str:
    term = st.one_of(
        st.sampled_from(("1", "2", "3", "9")).map(lambda v: f"version = {quoted(v)}"),
        st.tuples(st.sampled_from(TAG_KEYS), st.sampled_from(TAG_VALUES)).map(
            lambda kv: f"{tag_field(kv[0])} = {quoted(kv[1])}"
        ),
        st.sampled_from(VERSION_STATUSES).map(lambda s: f"status = {quoted(s)}"),
    )
    return draw(st.lists(term, min_size=0, max_size=3).map(lambda ts: " AND ".join(ts)))


orders = st.sampled_from(
    (None, "name", "name DESC", "created_at", "created_at desc", "updated_at ASC", "updated_at DESC")
)
version_orders = st.sampled_from((None, "created_at", "created_at DESC", "updated_at", "updated_at desc"))


def seed(models: list[dict[str, Any]]) -> None:
    store = registry_store()
    for spec in models:
        created = builders.T0 + timedelta(minutes=spec["created"])
        model = builders.model(
            spec["id"],
            workspace=spec["workspace"],
            name=spec["name"],
            status=spec["status"],
            tags=spec["tags"],
            created_at=created,
            updated_at=created + timedelta(minutes=spec["updated"]),
        )
        versions = []
        for number, version_spec in enumerate(spec["versions"], start=1):
            at = builders.T0 + timedelta(seconds=number)
            versions.append(
                builders.version(
                    spec["id"],
                    str(number),
                    workspace=spec["workspace"],
                    status=version_spec["status"],
                    tags=version_spec["tags"],
                    created_at=at,
                    updated_at=at + timedelta(minutes=version_spec["updated"]),
                )
            )
        store.create_model(ModelRecord(model, 1, 1), versions[0])
        for sequence, version in enumerate(versions[1:], start=2):
            record = store.get_model(spec["id"])
            after = record.model.model_copy(update={"entity_version": record.model.entity_version + 1})
            store.save_model(ModelRecord(after, sequence, sequence), record.model.entity_version, new_version=version)


def every_page(function: str, limit: int, query: dict[str, str], **path: str) -> list[list[dict[str, Any]]]:
    key = "models" if function == "list_models" else "versions"
    pages: list[list[dict[str, Any]]] = []
    token = None
    for _ in range(200):
        sent = {**query, "limit": str(limit), **({"next_token": token} if token else {})}
        status, body, _ = call(function, query=sent, **path)
        assert status == 200, body
        assert len(body[key]) <= limit
        pages.append(body[key])
        token = body["next_token"]
        if token is None:
            return pages
    raise AssertionError("the pages never ended")


def _model_matches(text: str, spec: dict[str, Any]) -> bool:
    """Brute force: each comparison of the filter, evaluated on the model as generated."""
    for comparison in parse_filter(text, "model").terms:
        actual = spec["tags"].get(comparison.key) if comparison.field == "tag" else spec[comparison.field]
        if actual is None:
            return False
        if comparison.operator == "like" and not actual.startswith(comparison.value):
            return False
        if comparison.operator == "=" and actual != comparison.value:
            return False
    return True


def _model_sort_key(order: Order, spec: dict[str, Any]) -> tuple[Any, ...]:
    tie = keys.model_in_workspace(spec["workspace"], spec["id"])
    value = {
        "list": "",
        "name": spec["name"],
        "created_at": spec["created"],
        "updated_at": spec["created"] + spec["updated"],
    }[order.field]
    return value, tie


@pytest.fixture
def budgets(monkeypatch: pytest.MonkeyPatch):
    def use(per_page: int) -> None:
        monkeypatch.setattr(search, "CANDIDATES_PER_PAGE", per_page)

    return use


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    models=registries(),
    text=model_filters(),
    order_by=orders,
    workspace=st.sampled_from((None, *WORKSPACES)),
    limit=st.integers(1, 4),
    per_page=st.sampled_from((200, 2, 5)),
)
def test_every_page_of_a_model_search_matches_brute_force(
    budgets: Any,
    models: list[dict[str, Any]],
    text: str,
    order_by: str | None,
    workspace: str | None,
    limit: int,
    per_page: int,
):
    budgets(per_page)
    with embedded_dynamodb(LOCAL_TABLE_NAME):
        runtime.reset()
        seed(models)
        query = {
            "filter": text,
            **({"order_by": order_by} if order_by else {}),
            **({"workspace": workspace} if workspace else {}),
        }
        pages = every_page("list_models", limit, query=query)
    answered = [model["id"] for page in pages for model in page]
    order = plan_search("model", parse_filter(text, "model"), parse_order_by(order_by, "model")).order
    expected = sorted(
        (spec for spec in models if _model_matches(text, spec) and workspace in (None, spec["workspace"])),
        key=lambda spec: _model_sort_key(order, spec),
        reverse=order.descending,
    )
    assert len(answered) == len(set(answered)), "a model was answered twice"
    assert answered == [spec["id"] for spec in expected]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    models=registries(),
    text=version_filters(),
    order_by=version_orders,
    limit=st.integers(1, 3),
    per_page=st.sampled_from((200, 1, 2)),
)
def test_every_page_of_a_version_search_matches_brute_force(
    budgets: Any, models: list[dict[str, Any]], text: str, order_by: str | None, limit: int, per_page: int
):
    budgets(per_page)
    spec = models[0]
    with embedded_dynamodb(LOCAL_TABLE_NAME):
        runtime.reset()
        seed(models)
        query = {**({"filter": text} if text else {}), **({"order_by": order_by} if order_by else {})}
        pages = every_page("list_versions", limit, model_id=spec["id"], query=query)
    answered = [version["version"] for page in pages for version in page]
    terms = parse_filter(text, "version").terms
    numbered = list(enumerate(spec["versions"], start=1))

    def matches(number: int, version: dict[str, Any]) -> bool:
        fields = {"version": str(number), "status": version["status"]}
        return all((version["tags"].get(t.key) if t.field == "tag" else fields[t.field]) == t.value for t in terms)

    order = parse_order_by(order_by, "version") or Order("created_at", True)
    if order.field == "updated_at":
        key = lambda item: (item[1]["updated"] * 60 + item[0], item[0])  # noqa: E731 - the timestamps seed() wrote
    else:
        key = lambda item: (item[0], item[0])  # noqa: E731
    expected = sorted((item for item in numbered if matches(*item)), key=key, reverse=order.descending)
    assert len(answered) == len(set(answered))
    assert answered == [str(number) for number, _ in expected]

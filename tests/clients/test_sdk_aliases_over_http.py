"""The SDK's alias calls against a real ``pie-local serve``: set, get (now and ``as_of``), list,
history page after page, delete; ``@alias`` wherever a version is named; If-Match; protection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pie_client import Conflict, Forbidden, InvalidRequest, NotFound, PieClient, Unprocessable
from tests.clients.handlers import WAITING, new_id
from tests.e2e.client import mint

pytestmark = pytest.mark.e2e

# Every scope but models:promote: the token of a CI job that may write but not promote.
WITHOUT_PROMOTE = ("--scope", "models:read", "--scope", "models:write", "--scope", "jobs:write")


def model_with_active_versions(pie: PieClient, *versions: str, **fields: object) -> str:
    """A model whose versions "1", ... are all active (Lambda handlers: no job runs by itself)."""
    model_id = new_id("alias")
    pie.create_model(model_id, name="Prices", handlers=WAITING, **fields)  # type: ignore[arg-type]
    for version in versions:
        if version != "1":
            pie.create_version(model_id, version)
        pie.set_version_status(model_id, version, "training")
        pie.set_version_status(model_id, version, "active")
    return model_id


def test_an_alias_is_set_moved_read_listed_and_deleted_and_its_history_read_page_after_page(pie: PieClient):
    model_id = model_with_active_versions(pie, "1", "2")

    first = pie.set_alias(model_id, "champion", "1", reason="first release")
    moved = pie.set_alias(model_id, "champion", "2", reason="weekly release")
    pie.set_alias(model_id, "canary", "2")
    now = pie.get_alias(model_id, "champion")
    listed = sorted((alias.name, alias.version) for alias in pie.list_aliases(model_id))
    then = pie.get_alias(model_id, "champion", as_of=first.updated_at)
    then_as_text = pie.get_alias(model_id, "champion", as_of=first.updated_at.isoformat())
    pie.delete_alias(model_id, "champion")
    history = list(pie.alias_history(model_id, "champion", page_size=1))  # one request per entry

    assert (first.name, first.model_id, first.version, first.reason) == ("champion", model_id, "1", "first release")
    assert moved.version == "2" and moved.entity_version == first.entity_version + 1
    assert (now.version, now.reason, now.updated_by) == ("2", "weekly release", first.updated_by)
    assert listed == [("canary", "2"), ("champion", "2")]
    assert then.version == "1" and then_as_text.version == "1"
    assert [(change.version, change.previous_version, change.reason) for change in history] == [
        (None, "2", None),
        ("2", "1", "weekly release"),
        ("1", None, "first release"),
    ]
    assert pie.get_alias_history(model_id, "champion", limit=1).next_token is not None
    with pytest.raises(NotFound):
        pie.get_alias(model_id, "champion")
    with pytest.raises(NotFound):  # before it existed
        pie.get_alias(model_id, "champion", as_of=first.updated_at - timedelta(seconds=1))
    with pytest.raises(NotFound):  # after the delete
        pie.get_alias(model_id, "champion", as_of=datetime.now(UTC))


def test_at_alias_names_the_version_in_paths_and_bodies(pie: PieClient):
    model_id = model_with_active_versions(pie, "1", "2")
    pie.set_alias(model_id, "champion", "1")

    read = pie.get_version(model_id, "@champion")
    lineage = pie.get_version_lineage(model_id, "@champion")
    job = pie.start_inference(model_id, {"features": [1]}, version="@champion")
    through_another_alias = pie.set_alias(model_id, "canary", "@champion")
    with pytest.raises(Conflict) as withdrawn:  # the version champion names cannot be withdrawn
        pie.set_version_status(model_id, "@champion", "failed")
    with pytest.raises(NotFound):
        pie.get_version(model_id, "@nobody")
    with pytest.raises(NotFound):
        pie.get_version_lineage(model_id, "@nobody")

    assert read.version.version == "1"
    assert lineage == []  # read through the alias: no job trained version 1
    assert job.version == "1"
    assert through_another_alias.version == "1"
    assert "champion" in withdrawn.value.message


def test_a_move_or_delete_with_a_stale_if_match_is_a_conflict_and_changes_nothing(pie: PieClient):
    model_id = model_with_active_versions(pie, "1", "2")
    first = pie.set_alias(model_id, "champion", "1")
    second = pie.set_alias(model_id, "champion", "2", if_match=first.entity_version)

    with pytest.raises(Conflict) as late_move:
        pie.set_alias(model_id, "champion", "1", if_match=first.entity_version)
    with pytest.raises(Conflict):
        pie.delete_alias(model_id, "champion", if_match=first.entity_version)
    assert late_move.value.status == 409
    assert pie.get_alias(model_id, "champion").version == "2"
    pie.delete_alias(model_id, "champion", if_match=second.entity_version)
    assert pie.list_aliases(model_id) == []


def test_a_protected_alias_is_refused_without_the_promote_scope(pie: PieClient, server, pie_home):
    model_id = model_with_active_versions(pie, "1", "2", protected_aliases=["champion"])
    pie.set_alias(model_id, "champion", "1")

    with PieClient(server.url, mint(pie_home, *WITHOUT_PROMOTE)) as ci:
        with pytest.raises(Forbidden) as refused_move:
            ci.set_alias(model_id, "champion", "2")
        with pytest.raises(Forbidden) as refused_delete:
            ci.delete_alias(model_id, "champion")
        unprotected = ci.set_alias(model_id, "canary", "2")  # models:write is enough for the others

    assert refused_move.value.status == 403 and "models:promote" in refused_move.value.message
    assert "models:promote" in refused_delete.value.message
    assert pie.get_model(model_id).protected_aliases == ["champion"]
    assert pie.get_alias(model_id, "champion").version == "1"  # not moved
    assert unprotected.version == "2"
    assert pie.set_alias(model_id, "champion", "2").version == "2"  # the default local token may


def test_refusals_are_typed(pie: PieClient):
    model_id = model_with_active_versions(pie, "1")
    pie.create_version(model_id, "2")  # pending

    with pytest.raises(Unprocessable):
        pie.set_alias(model_id, "champion", "2")
    with pytest.raises(NotFound):
        pie.set_alias(model_id, "champion", "9")
    with pytest.raises(NotFound):
        pie.delete_alias(model_id, "nobody")
    with pytest.raises(InvalidRequest, match="time zone"):  # refused before any request
        pie.get_alias(model_id, "champion", as_of=datetime(2026, 1, 1))

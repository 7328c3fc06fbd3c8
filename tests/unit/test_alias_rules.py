"""The alias rules (``shared.domain.aliases``) and the history's key order (``shared.data.keys``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.data import keys
from shared.domain import aliases
from shared.domain.access import Access
from shared.domain.errors import AliasNameInvalidError, AsOfInvalidError, ScopeMissingError
from tests.unit.builders import T0, model


def test_latest_is_never_an_alias():
    with pytest.raises(AliasNameInvalidError):
        aliases.check_name("latest")
    aliases.check_name("champion")


@pytest.mark.parametrize(
    ("reference", "alias"),
    [("@champion", "champion"), ("%40champion", "champion"), ("3", None), ("latest", None), ("v@1", None)],
)
def test_a_reference_names_an_alias_only_with_the_mark_in_front(reference: str, alias: str | None):
    assert aliases.alias_in(reference) == alias


def test_as_of_needs_an_offset_and_keeps_it():
    assert aliases.parse_as_of("2026-01-01T00:00:00Z") == T0
    assert aliases.parse_as_of("2026-01-01T01:00:00+01:00") == T0
    for bad in ("2026-01-01T00:00:00", "soon", ""):
        with pytest.raises(AsOfInvalidError):
            aliases.parse_as_of(bad)


def test_a_move_records_where_the_alias_was_and_a_delete_leaves_a_tombstone():
    first, change = aliases.moved(None, "m", "champion", "1", "launch", "ana", T0)
    assert (first.entity_version, change.previous_version, change.version) == (1, None, "1")
    second, change = aliases.moved(first, "m", "champion", "2", None, "bo", T0)
    assert (second.entity_version, change.previous_version, change.version) == (2, "1", "2")
    tombstone = aliases.deleted(second, "cy", T0)
    assert tombstone.version is None and tombstone.previous_version == "2"
    assert aliases.as_it_stood("m", "champion", tombstone, 3) is None
    assert aliases.as_it_stood("m", "champion", change, 2) == second


def test_history_keys_sort_in_time_order_whatever_the_microseconds():
    whole = T0  # isoformat() drops zero microseconds, which would sort after ".000001"
    later = T0 + timedelta(microseconds=1)
    elsewhere = datetime(2026, 1, 1, 1, 0, 0, 2, tzinfo=timezone(timedelta(hours=1)))  # T0 + 2 µs
    ordered = [keys.alias_change_key("m", "a", at, 1)["SK"] for at in (whole, later, elsewhere)]
    assert ordered == sorted(ordered)
    assert keys.alias_change_key("m", "a", whole, 2)["SK"] <= keys.alias_history_until("a", whole)
    assert keys.alias_change_key("m", "a", later, 1)["SK"] > keys.alias_history_until("a", whole)
    assert not keys.alias_change_key("m", "a-b", whole, 1)["SK"].startswith(keys.alias_history_prefix("a"))


def test_lifting_a_protection_or_promoting_onto_a_protected_alias_needs_the_promote_scope():
    plain = model()
    protected = model(protected_aliases=["champion"])
    promoting = model(protected_aliases=["champion"], promotion={"alias": "champion"})
    assert aliases.needs_promote(None, plain) is None
    assert aliases.needs_promote(None, protected) is None  # protecting is always allowed
    assert aliases.needs_promote(plain, protected) is None
    assert "champion" in (aliases.needs_promote(protected, plain) or "")
    assert "promotion" in (aliases.needs_promote(protected, promoting) or "")
    assert aliases.needs_promote(None, promoting) is not None
    assert aliases.needs_promote(promoting, promoting) is None  # unchanged
    assert aliases.needs_promote(plain, model(promotion={"alias": "champion"})) is None


def test_the_promote_scope_is_its_own_grant():
    with pytest.raises(ScopeMissingError, match="models:promote"):
        Access(subject="a", admin=True).require_promote("alias 'champion' is protected")
    Access(subject="a", promote=True).require_promote("anything")
    Access.service("pie").require_promote("the promotion policy")


def test_the_route_table_lists_the_promote_scope():
    from shared.domain.access import PROMOTE_SCOPE
    from shared.routes import ALL_SCOPES, MODELS_PROMOTE

    assert MODELS_PROMOTE == PROMOTE_SCOPE and PROMOTE_SCOPE in ALL_SCOPES


def test_utc_is_the_instant_of_history_keys():
    assert keys.alias_instant(datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))) == keys.alias_instant(
        datetime(2026, 1, 1, tzinfo=UTC)
    )

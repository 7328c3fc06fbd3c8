"""Aliases (SPEC part three): the production pointer, moved with If-Match, with a history that
answers what it pointed at at any instant, resolved wherever a version is named, protected by the
``models:promote`` scope and moved by the promotion policy on activation."""

from __future__ import annotations

import importlib
import threading
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

from shared.runtime import use_stand_in
from tests.conftest import invoke
from tests.integration.api_events import assert_error, call, create_model, create_version, event_for, with_claims
from tests.integration.job_helpers import RecordingLambda
from tests.integration.lifecycle_helpers import set_status, walk_to

MODEL = "m"


@pytest.fixture
def model(table: Any) -> str:
    """A model with two active versions, 1 and 2, and a pending 3."""
    create_model(MODEL)
    walk_to(MODEL, "1", "active")
    create_version(MODEL, "2")
    walk_to(MODEL, "2", "active")
    create_version(MODEL, "3")
    return MODEL


def set_alias(name: str, version: str, *, if_match: int | None = None, scope: str | None = None, **extra: Any):
    headers = {"If-Match": f'"{if_match}"'} if if_match is not None else None
    event = event_for("set_alias", body={"version": version, **extra}, headers=headers, model_id=MODEL, alias=name)
    if scope is not None:
        with_claims(event, scope=scope)
    return invoke("set_alias", event)


def moved(name: str, version: str, **extra: Any) -> dict[str, Any]:
    status, body, headers = set_alias(name, version, **extra)
    assert status == 200, body
    assert headers["ETag"] == f'"{body["alias"]["entity_version"]}"'
    return body["alias"]


def get_alias(name: str, as_of: str | None = None):
    query = {"as_of": as_of} if as_of is not None else None
    return call("get_alias", model_id=MODEL, alias=name, query=query)


def history(name: str, **query: str) -> dict[str, Any]:
    status, body, _ = call("get_alias_history", model_id=MODEL, alias=name, query=query or None)
    assert status == 200, body
    return body


def delete_alias(name: str, *, if_match: int | None = None, scope: str | None = None):
    headers = {"If-Match": f'"{if_match}"'} if if_match is not None else None
    event = event_for("delete_alias", headers=headers, model_id=MODEL, alias=name)
    if scope is not None:
        with_claims(event, scope=scope)
    return invoke("delete_alias", event)


# Step 1: the alias routes ---------------------------------------------------------------------


def test_an_alias_points_at_an_active_version_and_moves(model: str):
    first = moved("champion", "1", reason="first release")
    assert first["name"] == "champion" and first["version"] == "1" and first["entity_version"] == 1
    assert first["reason"] == "first release" and first["model_id"] == MODEL and first["updated_by"]

    second = moved("champion", "2", if_match=1)

    assert second["version"] == "2" and second["entity_version"] == 2
    status, body, headers = get_alias("champion")
    assert status == 200 and body["alias"] == second and headers["ETag"] == '"2"'
    status, body, _ = call("list_aliases", model_id=MODEL)
    assert status == 200 and body == {"aliases": [second]}


@pytest.mark.parametrize("version", ["3", "99"], ids=["pending", "missing"])
def test_an_alias_only_points_at_an_existing_active_version(model: str, version: str):
    assert_error(set_alias("champion", version), 422 if version == "3" else 404)
    assert_error(get_alias("champion"), 404)


@pytest.mark.parametrize("name", ["latest", "Champion", "1st", "a#b", "x" * 65])
def test_an_alias_name_is_lowercase_and_never_latest(model: str, name: str):
    assert_error(set_alias(name, "1"), 400)


def test_a_stale_if_match_moves_nothing(model: str):
    moved("champion", "1")
    assert "entity_version 1" in assert_error(set_alias("champion", "2", if_match=7), 409)
    assert get_alias("champion")[1]["alias"]["version"] == "1"
    assert_error(set_alias("challenger", "2", if_match=1), 409)  # no such alias to match


def test_twenty_racing_moves_with_the_same_if_match_one_wins(model: str):
    importlib.import_module("aws_lambda_powertools")  # two threads importing a module at once can fail
    importlib.import_module("functions.set_alias.handler")
    moved("champion", "1")
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def race(index: int) -> None:
        barrier.wait()
        statuses.append(set_alias("champion", "2" if index % 2 else "1", if_match=1, reason=f"racer {index}")[0])

    threads = [threading.Thread(target=race, args=(index,)) for index in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert Counter(statuses) == {200: 1, 409: 19}
    assert get_alias("champion")[1]["alias"]["entity_version"] == 2
    assert len(history("champion")["history"]) == 2


def test_the_history_says_who_moved_the_alias_when_and_why_newest_first(model: str):
    moved("champion", "1", reason="launch")
    moved("champion", "2", reason="better")
    moved("champion", "1", reason="rollback")

    entries = history("champion")["history"]

    assert [(e["version"], e["previous_version"], e["reason"]) for e in entries] == [
        ("1", "2", "rollback"),
        ("2", "1", "better"),
        ("1", None, "launch"),
    ]
    assert all(e["by"] for e in entries)
    page = history("champion", limit="2")
    assert len(page["history"]) == 2 and page["next_token"]
    rest = history("champion", limit="2", next_token=page["next_token"])
    assert [e["reason"] for e in rest["history"]] == ["launch"] and rest["next_token"] is None


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _as_of(instant: datetime):
    return get_alias("champion", instant.isoformat())


def test_as_of_answers_the_alias_as_it_stood_at_every_instant_of_its_history(model: str):
    moved("champion", "1", reason="launch")
    moved("champion", "2", reason="better")
    assert delete_alias("champion")[0] == 204
    moved("champion", "1", reason="back")
    entries = list(reversed(history("champion")["history"]))  # oldest first
    assert [e["version"] for e in entries] == ["1", "2", None, "1"]

    tiny = timedelta(microseconds=1)
    assert_error(_as_of(_instant(entries[0]["at"]) - tiny), 404)  # before it existed
    for entry in entries:
        at = _instant(entry["at"])
        if entry["version"] is None:  # after the delete, before it came back
            assert_error(_as_of(at), 404)
            continue
        status, body, _ = _as_of(at)
        assert status == 200, body
        assert body["alias"]["version"] == entry["version"] and body["alias"]["reason"] == entry["reason"]
    assert _as_of(_instant(entries[-1]["at"]) + timedelta(days=1))[1]["alias"]["version"] == "1"


@pytest.mark.parametrize("as_of", ["yesterday", "2026-01-01T00:00:00"], ids=["not a date", "no offset"])
def test_as_of_is_an_rfc_3339_instant_with_its_offset(model: str, as_of: str):
    moved("champion", "1")
    assert_error(get_alias("champion", as_of), 400)


def test_a_deleted_alias_is_gone_but_its_history_stays(model: str):
    moved("champion", "1")
    assert_error(delete_alias("champion", if_match=5), 409)

    assert delete_alias("champion", if_match=1)[0] == 204

    assert_error(get_alias("champion"), 404)
    assert_error(delete_alias("champion"), 404)
    assert call("list_aliases", model_id=MODEL)[1] == {"aliases": []}
    assert [e["version"] for e in history("champion")["history"]] == [None, "1"]
    assert moved("champion", "2")["entity_version"] == 3  # its numbering goes on


def test_an_alias_of_an_unknown_model_or_unknown_alias_is_a_404(model: str):
    assert_error(call("get_alias_history", model_id=MODEL, alias="nobody"), 404)
    assert_error(call("list_aliases", model_id="nope"), 404)
    assert_error(call("get_alias", model_id="nope", alias="champion"), 404)


def test_deleting_the_model_deletes_its_aliases(model: str):
    moved("champion", "1")
    assert call("delete_model", model_id=MODEL)[0] == 204
    create_model(MODEL)
    assert_error(get_alias("champion"), 404)
    assert_error(call("get_alias_history", model_id=MODEL, alias="champion"), 404)


def test_moving_an_alias_needs_write_access_to_the_models_workspace(model: str):
    event = event_for("set_alias", body={"version": "1"}, model_id=MODEL, alias="champion")
    with_claims(event, **{"pie:workspaces": "[other]"})
    assert_error(invoke("set_alias", event), 403)
    assert_error(get_alias("champion"), 404)


# Step 3: protected aliases --------------------------------------------------------------------

WRITER = "models:read models:write"
PROMOTER = "models:read models:write models:promote"


def _update_model(scope: str, **changes: Any):
    from tests.integration.api_events import sample_body

    body = {**sample_body("update_model"), **changes}
    event = event_for("update_model", body=body, model_id=MODEL)
    with_claims(event, scope=scope)
    return invoke("update_model", event)


@pytest.fixture
def protected(model: str) -> str:
    status, body, _ = _update_model(PROMOTER, protected_aliases=["champion"])
    assert status == 200, body
    assert body["model"]["protected_aliases"] == ["champion"]
    return model


def test_a_protected_alias_moves_only_with_the_promote_scope(protected: str):
    assert "models:promote" in assert_error(set_alias("champion", "1", scope=WRITER), 403)
    moved("champion", "1", scope=PROMOTER)
    assert_error(set_alias("champion", "2", scope=WRITER), 403)
    assert_error(delete_alias("champion", scope=WRITER), 403)
    assert get_alias("champion")[1]["alias"]["version"] == "1"
    assert moved("challenger", "2", scope=WRITER)["version"] == "2"  # not protected
    assert delete_alias("champion", scope=PROMOTER)[0] == 204


def test_the_protection_cannot_be_lifted_without_the_promote_scope(protected: str):
    assert_error(_update_model(WRITER, protected_aliases=[]), 403)
    assert_error(_update_model(WRITER), 403)  # a full replacement that omits it lifts it too
    assert _update_model(WRITER, protected_aliases=["champion", "canary"])[0] == 200  # adding is fine
    assert _update_model(PROMOTER, protected_aliases=[])[0] == 200


def test_a_model_can_be_created_with_protected_aliases(table: Any):
    created = create_model(MODEL, protected_aliases=["champion"])
    assert created["model"]["protected_aliases"] == ["champion"]
    walk_to(MODEL, "1", "active")
    assert_error(set_alias("champion", "1", scope=WRITER), 403)


# Step 2: @alias names a version wherever a version is named -----------------------------------


def test_a_version_path_resolves_an_alias(model: str):
    moved("champion", "1")

    status, body, _ = call("get_version", model_id=MODEL, model_version="@champion")
    assert status == 200, body
    assert body["version"]["version"] == "1"
    status, body, _ = call("get_version_lineage", model_id=MODEL, model_version="@champion")
    assert status == 200, body
    assert_error(call("get_version", model_id=MODEL, model_version="@nobody"), 404)
    assert_error(call("get_version", model_id=MODEL, model_version="@Bad"), 400)


def test_a_status_change_through_an_alias_changes_the_version_it_points_at(model: str):
    moved("champion", "1")
    moved("canary", "2")
    assert_error(set_status(MODEL, "@nobody", "failed"), 404)
    status, body, _ = set_status(MODEL, "@canary", "active")  # already active: a no-op on version 2
    assert status == 200, body
    assert body["version"]["version"] == "2"


@pytest.fixture
def lambda_client(table: Any) -> RecordingLambda:
    client = RecordingLambda()
    use_stand_in("lambda", client)
    return client


def test_job_bodies_resolve_an_alias(model: str, lambda_client: RecordingLambda):
    moved("champion", "1")

    status, body, _ = call("start_inference", body={"input": {"x": 1}, "version": "@champion"}, model_id=MODEL)

    assert status == 202, body
    assert body["job"]["version"] == "1"
    assert_error(call("start_inference", body={"input": {}, "version": "@nobody"}, model_id=MODEL), 404)
    assert_error(call("start_training", body={"input": {}, "version": "@nobody"}, model_id=MODEL), 404)


def test_a_percent_encoded_alias_mark_resolves_too(model: str):
    """The SDK percent-encodes every path segment: ``@`` arrives as ``%40``."""
    moved("champion", "2")
    event = event_for("get_version", model_id=MODEL, model_version="@champion")
    assert "%40champion" in event["rawPath"]
    event["pathParameters"]["model_version"] = "%40champion"
    status, body, _ = invoke("get_version", event)
    assert status == 200, body
    assert body["version"]["version"] == "2"


# Step 4: the promotion policy, and withdrawing an aliased version -----------------------------


def test_withdrawing_a_version_an_alias_points_at_is_a_409_naming_the_alias(model: str):
    moved("champion", "1")
    moved("backup", "1")

    message = assert_error(set_status(MODEL, "1", "failed"), 409)

    assert "'backup', 'champion'" in message and "move the alias first" in message
    assert call("get_version", model_id=MODEL, model_version="1")[1]["version"]["status"] == "active"
    moved("champion", "2")
    assert delete_alias("backup")[0] == 204
    assert set_status(MODEL, "1", "failed")[0] == 200  # nothing points at it any more


@pytest.fixture
def promoting(table: Any) -> str:
    create_model(MODEL, promotion={"alias": "champion"})
    return MODEL


def test_the_promotion_policy_moves_its_alias_when_a_version_becomes_active(promoting: str):
    walk_to(MODEL, "1", "training")
    assert_error(get_alias("champion"), 404)  # training is not active: nothing moves

    walk_to(MODEL, "1", "active")

    alias = get_alias("champion")[1]["alias"]
    assert (alias["version"], alias["updated_by"], alias["reason"]) == ("1", "pie", "activated")
    create_version(MODEL, "2")
    walk_to(MODEL, "2", "active")
    assert get_alias("champion")[1]["alias"]["version"] == "2"
    assert [(e["version"], e["previous_version"], e["by"]) for e in history("champion")["history"]] == [
        ("2", "1", "pie"),
        ("1", None, "pie"),
    ]
    assert set_status(MODEL, "2", "active")[0] == 200  # a no-op transition moves nothing
    assert len(history("champion")["history"]) == 2


def test_rolling_back_is_moving_the_alias_to_an_earlier_active_version(promoting: str):
    walk_to(MODEL, "1", "active")
    create_version(MODEL, "2")
    walk_to(MODEL, "2", "active")

    moved("champion", "1", reason="rollback", if_match=2)

    assert get_alias("champion")[1]["alias"]["version"] == "1"
    assert set_status(MODEL, "2", "failed")[0] == 200  # no alias points at it any more


def test_a_succeeded_training_job_moves_the_promoted_alias(promoting: str, lambda_client: RecordingLambda):
    from tests.integration.job_helpers import complete, start_training, started_job

    job = started_job(start_training(MODEL, {"data_path": "s3://x"}))
    assert_error(get_alias("champion"), 404)

    status, body, _ = complete(MODEL, job["id"], {"status": "succeeded", "output": {"model_path": "s3://m"}})

    assert status == 200, body
    alias = get_alias("champion")[1]["alias"]
    assert (alias["version"], alias["updated_by"], alias["reason"]) == (job["version"], "pie", "activated")


def test_a_promotion_onto_a_protected_alias_needs_the_promote_scope_to_declare(model: str):
    assert_error(_update_model(WRITER, protected_aliases=["champion"], promotion={"alias": "champion"}), 403)
    assert _update_model(PROMOTER, protected_aliases=["champion"], promotion={"alias": "champion"})[0] == 200
    walk_to(MODEL, "4", "active")  # the PUT of an active model cut version 4: a writer activates it
    assert get_alias("champion")[1]["alias"]["version"] == "4"  # the policy moves it, scope or not


def test_an_alias_can_be_moved_to_where_another_alias_points(model: str):
    moved("candidate", "2")
    assert moved("champion", "@candidate", reason="weekly release")["version"] == "2"
    assert_error(set_alias("champion", "@nobody"), 404)


def test_activation_by_a_caller_without_the_promote_scope_moves_a_protected_promoted_alias(table: Any):
    """Activation is the authorised act: the policy, declared with models:promote, moves it."""
    from tests.integration.api_events import sample_body

    body = {**sample_body("create_model"), "id": MODEL, "protected_aliases": ["champion"]}
    event = event_for("create_model", body={**body, "promotion": {"alias": "champion"}})
    assert invoke("create_model", with_claims(event, scope=PROMOTER))[0] == 201  # declaring it needs the scope
    walk_to(MODEL, "1", "training")
    event = event_for("set_version_status", body={"status": "active"}, model_id=MODEL, model_version="1")
    with_claims(event, scope=WRITER)

    status, body, _ = invoke("set_version_status", event)

    assert status == 200, body
    assert get_alias("champion")[1]["alias"]["version"] == "1"
    assert_error(set_alias("champion", "1", scope=WRITER), 403)  # by hand it still needs the scope


def test_deleting_a_model_with_protected_aliases_needs_the_promote_scope(protected: str):
    moved("champion", "1", scope=PROMOTER)
    event = event_for("delete_model", model_id=MODEL)
    with_claims(event, scope=WRITER)
    assert "models:promote" in assert_error(invoke("delete_model", event), 403)
    assert get_alias("champion")[1]["alias"]["version"] == "1"

    event = event_for("delete_model", model_id=MODEL)
    with_claims(event, scope=PROMOTER)
    assert invoke("delete_model", event)[0] == 204


@pytest.mark.parametrize(
    "walk",
    [
        [],  # the model's creation cuts version 1: pending
        ["training"],
        ["training", "failed"],
        ["training", "pending"],
        ["failed"],
        ["failed", "pending"],
        ["failed", "training"],
    ],
    ids=lambda walk: "->".join(["pending", *walk]),
)
def test_the_promotion_policy_moves_its_alias_on_activation_and_never_otherwise(promoting: str, walk: list[str]):
    create_version(MODEL, "2")  # a version's creation moves nothing either
    for status in walk:
        code, body, _ = set_status(MODEL, "1", status)
        assert code == 200, body

    assert_error(get_alias("champion"), 404)
    assert_error(call("get_alias_history", model_id=MODEL, alias="champion"), 404)


def test_a_failed_training_job_moves_no_promoted_alias(promoting: str, lambda_client: RecordingLambda):
    from tests.integration.job_helpers import complete, start_training, started_job

    job = started_job(start_training(MODEL, {"data_path": "s3://x"}))

    status, body, _ = complete(MODEL, job["id"], {"status": "failed", "error": "diverged"})

    assert status == 200, body
    assert_error(get_alias("champion"), 404)


def test_a_withdrawn_version_reactivated_later_moves_the_promoted_alias_again(promoting: str):
    walk_to(MODEL, "1", "active")
    create_version(MODEL, "2")
    walk_to(MODEL, "2", "active")
    moved("champion", "1", reason="rollback")
    assert set_status(MODEL, "2", "failed")[0] == 200
    assert get_alias("champion")[1]["alias"]["version"] == "1"  # a withdrawal moves nothing

    for status in ("training", "active"):
        assert set_status(MODEL, "2", status)[0] == 200

    assert get_alias("champion")[1]["alias"]["version"] == "2"

"""The model registry's decisions, on in-memory stores: creation, updates under concurrency and
If-Match, version numbering, deletes, and who may see what."""

from __future__ import annotations

import pytest

from shared.domain.access import Access
from shared.domain.entities import Handlers
from shared.domain.errors import (
    ConcurrentUpdateError,
    EntityVersionMismatchError,
    HandlerNotAllowedError,
    ModelAlreadyExistsError,
    ModelNotFoundError,
    VersionAlreadyExistsError,
    WorkspaceAccessDeniedError,
    WorkspaceImmutableError,
)
from shared.domain.requests import CreateVersionRequest, UpdateModelRequest
from tests.unit.builders import ECHO, T0
from tests.unit.services.conftest import ADMIN, World

ALICE = Access("alice", frozenset({"alice"}))
FAIL = {"type": "in_process", "implementation": "fail"}


def update(world: World, model_id: str = "m", if_match: int | None = None, access: Access = ADMIN, **fields):
    body = {"name": "renamed", "description": "d", "handlers": {"training": ECHO, "inference": ECHO}, "metadata": {}}
    request = UpdateModelRequest.model_validate({**body, **fields})
    return world.registry.update_model(model_id, request, "bob", if_match, access)


def new_version(world: World, number: str, model_id: str = "m", if_match: int | None = None):
    return world.registry.create_version(model_id, CreateVersionRequest(version=number), "bob", ADMIN, if_match)


# Creating ---------------------------------------------------------------------------------------


def test_a_new_model_is_pending_with_a_pending_first_version(world: World):
    created = world.create("m", metadata={"team": "pricing"})
    assert (created.model.status, created.model.latest_version, created.model.active_version) == ("pending", "1", None)
    assert (created.model.created_by, created.model.created_at, created.model.entity_version) == ("alice", T0, 1)
    assert created.version.status == "pending"
    assert [(c.status, c.by) for c in created.version.status_history] == [("pending", "alice")]
    assert world.table.model("m") == created.model
    assert world.table.version("m", "1") == created.version


def test_a_taken_model_id_is_a_conflict_and_the_first_model_stays(world: World):
    world.create("m", description="first")
    with pytest.raises(ModelAlreadyExistsError):
        world.create("m", description="second")
    assert world.table.model("m").description == "first"


def test_a_taken_id_in_a_hidden_workspace_is_the_same_conflict_naming_no_workspace(world: World):
    """Ids are global, so the 409 stays (docs/decisions.md); it says no more than that the id is taken."""
    world.create("m", workspace="alice-secret-team")
    bob = Access("bob", frozenset({"bob"}), private_reads=True)
    with pytest.raises(ModelAlreadyExistsError) as taken:
        world.create("m", access=bob)
    assert taken.value.message == "model 'm' already exists"
    assert world.table.model("m").workspace == "alice-secret-team"


def test_a_model_goes_to_the_callers_only_workspace_and_not_to_anothers(world: World):
    assert world.create("m", access=ALICE).model.workspace == "alice"
    with pytest.raises(WorkspaceAccessDeniedError):
        world.create("n", access=ALICE, workspace="bob")
    assert "n" not in world.table.models


def test_a_handler_outside_the_allow_list_stores_nothing(world: World):
    outside = {"type": "in_process", "implementation": "not_allowed"}
    with pytest.raises(HandlerNotAllowedError):
        world.create("m", handlers={"training": outside, "inference": ECHO})
    assert world.table.models == {}


# Updating ---------------------------------------------------------------------------------------


def test_a_model_deleted_right_after_an_update_is_written_is_a_404_for_the_model(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    """A delete that lands between the update's write and its read of the latest version."""
    world.create()
    store = world.stores.registry
    read_version = store.get_version

    def deleted_first(model_id: str, version: str):
        store.delete_model(model_id)
        return read_version(model_id, version)

    monkeypatch.setattr(store, "get_version", deleted_first)

    with pytest.raises(ModelNotFoundError, match="'m'"):
        update(world)


def test_updating_a_pending_model_replaces_its_fields_without_a_new_version(world: World):
    world.create()
    world.clock.advance(60)
    updated = update(world, name="renamed", metadata={"k": 1})
    assert (updated.model.name, updated.model.metadata, updated.model.entity_version) == ("renamed", {"k": 1}, 2)
    assert updated.model.updated_at == world.clock.now
    assert updated.version.version == "1"
    assert sorted(v for (_, v) in world.table.versions) == ["1"]


def test_updating_an_active_model_cuts_a_pending_version_past_the_highest_number(world: World):
    world.create()
    new_version(world, "7")
    new_version(world, "beta")
    world.activate("m", "7")
    updated = update(world, handlers={"training": FAIL, "inference": ECHO})
    assert (updated.version.version, updated.version.status) == ("8", "pending")
    assert updated.version.handlers == Handlers.model_validate({"training": FAIL, "inference": ECHO})
    assert (updated.model.latest_version, updated.model.active_version) == ("8", "7")


def test_if_match_on_the_current_entity_version_updates(world: World):
    world.create()
    assert update(world, if_match=1).model.entity_version == 2


def test_a_stale_if_match_is_refused_before_anything_is_written(world: World):
    world.create()
    writes = world.table.writes
    with pytest.raises(EntityVersionMismatchError) as refused:
        update(world, if_match=7)
    assert "7" in refused.value.message
    assert world.table.writes == writes
    assert world.table.model("m").name == "m"


def test_without_if_match_a_lost_race_is_retried_on_fresh_state(world: World):
    world.create()
    world.concurrently(lambda: world.touch_model("m", metadata={"by": "other"}))
    updated = update(world, name="mine")
    assert (updated.model.name, updated.model.entity_version) == ("mine", 3)
    assert world.table.model("m").entity_version == 3


def test_with_if_match_a_lost_race_is_the_callers_conflict(world: World):
    world.create()
    world.concurrently(lambda: world.touch_model("m"))
    with pytest.raises(EntityVersionMismatchError) as refused:
        update(world, if_match=1, name="mine")
    assert "2" in refused.value.message  # the entity_version the caller must read again
    assert world.table.model("m").description == "changed meanwhile"


def test_a_writer_that_always_wins_ends_in_a_concurrent_update_error(world: World):
    world.create()
    world.always_concurrently(lambda: world.touch_model("m"))
    with pytest.raises(ConcurrentUpdateError):
        update(world, name="mine")
    assert world.table.model("m").name == "m"


def test_a_model_deleted_between_read_and_write_is_not_found(world: World):
    world.create()
    world.concurrently(lambda: world.stores.registry.delete_model("m"))
    with pytest.raises(ModelNotFoundError):
        update(world)


def test_a_models_workspace_never_changes(world: World):
    world.create()
    with pytest.raises(WorkspaceImmutableError):
        update(world, workspace="other")


def test_an_update_by_a_member_of_another_workspace_is_denied(world: World):
    world.create()
    with pytest.raises(WorkspaceAccessDeniedError):
        update(world, access=ALICE)
    assert world.table.model("m").entity_version == 1


def test_changing_a_models_handlers_marks_subscriptions_targeting_it_stale(world: World):
    world.create("source")
    world.create("target")
    subscription = world.subscribe("source", "target")
    update(world, "target", name="same handlers")
    assert world.table.subscription("source", subscription.id).status == "active"
    update(world, "target", handlers={"training": ECHO, "inference": FAIL})
    assert world.table.subscription("source", subscription.id).status == "stale"


# Versions ---------------------------------------------------------------------------------------


def test_a_new_version_is_pending_and_becomes_the_latest(world: World):
    world.create()
    created = new_version(world, "2")
    assert (created.version.status, created.model.latest_version, created.model.entity_version) == ("pending", "2", 2)
    assert world.registry.get_version("m", "latest", ADMIN).version.version == "2"


def test_a_taken_version_is_a_conflict(world: World):
    world.create()
    with pytest.raises(VersionAlreadyExistsError):
        new_version(world, "1")
    assert world.table.model("m").latest_version == "1"


def test_a_version_is_cut_on_fresh_state_after_a_lost_race(world: World):
    world.create()
    world.concurrently(lambda: world.touch_model("m"))
    created = new_version(world, "2")
    assert created.model.entity_version == 3
    assert created.model.description == "changed meanwhile"


def test_a_new_version_with_a_stale_if_match_on_its_model_is_a_conflict_and_cuts_nothing(world: World):
    world.create()
    with pytest.raises(EntityVersionMismatchError):
        new_version(world, "2", if_match=99)
    assert (world.table.model("m").latest_version, world.table.model("m").entity_version) == ("1", 1)
    assert ("m", "2") not in world.table.versions


def test_a_new_version_with_its_models_if_match_is_cut(world: World):
    world.create()
    assert new_version(world, "2", if_match=1).model.entity_version == 2


def test_a_new_version_with_if_match_that_loses_a_race_is_the_callers_conflict(world: World):
    world.create()
    world.concurrently(lambda: world.touch_model("m"))
    with pytest.raises(EntityVersionMismatchError):
        new_version(world, "2", if_match=1)
    assert world.table.model("m").latest_version == "1"


def test_versions_list_newest_first_and_a_missing_model_is_not_found(world: World):
    world.create()
    for number in ("2", "3"):
        new_version(world, number)
    first = world.registry.list_versions("m", 2, None, ADMIN)
    rest = world.registry.list_versions("m", 2, first.next_token, ADMIN)
    assert [v.version for v in first.versions + rest.versions] == ["3", "2", "1"]
    assert rest.next_token is None
    with pytest.raises(ModelNotFoundError):
        world.registry.list_versions("nope", 2, None, ADMIN)


# Deleting and reading ---------------------------------------------------------------------------


def test_deleting_a_model_removes_it_and_stales_subscriptions_targeting_it(world: World):
    world.create("source")
    world.create("target")
    subscription = world.subscribe("source", "target")
    world.registry.delete_model("target", ADMIN)
    with pytest.raises(ModelNotFoundError):
        world.registry.get_model("target", ADMIN)
    assert ("target", "1") not in world.table.versions
    assert world.table.subscription("source", subscription.id).status == "stale"


def test_a_conditional_delete_of_a_changed_model_is_a_conflict_and_deletes_nothing(world: World):
    world.create()
    world.touch_model("m")
    with pytest.raises(EntityVersionMismatchError):
        world.registry.delete_model("m", ADMIN, if_match=1)
    assert world.table.model("m").entity_version == 2
    world.registry.delete_model("m", ADMIN, if_match=2)
    assert "m" not in world.table.models


def test_private_reads_hide_other_workspaces_models_as_missing(world: World):
    world.create("mine", workspace="alice")
    world.create("theirs", workspace="bob")
    private = Access("alice", frozenset({"alice"}), private_reads=True)
    assert world.registry.get_model("mine", private).decoded().model.id == "mine"
    with pytest.raises(ModelNotFoundError):
        world.registry.get_model("theirs", private)
    with pytest.raises(ModelNotFoundError):
        world.registry.get_version("theirs", "1", private)
    assert [m.id for m in world.registry.list_models(10, None, None, private).decoded().models] == ["mine"]
    assert [m.id for m in world.registry.list_models(10, None, None, ALICE).decoded().models] == ["mine", "theirs"]


def test_models_list_by_status_and_jobs_of_a_missing_model_are_not_found(world: World):
    for model_id in ("a", "b", "c"):
        world.create(model_id)
    world.activate("b")
    assert [m.id for m in world.registry.list_models(10, None, "active", ADMIN).decoded().models] == ["b"]
    first = world.registry.list_models(2, None, None, ADMIN).decoded()
    rest = world.registry.list_models(2, first.next_token, None, ADMIN).decoded()
    assert [m.id for m in first.models + rest.models] == ["a", "b", "c"]
    with pytest.raises(ModelNotFoundError):
        world.jobs.list("nope", 10, None, None, ADMIN)

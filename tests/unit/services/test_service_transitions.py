"""Moving versions through their lifecycle on in-memory stores: legal and illegal moves, the no-op,
what activation and withdrawal do to the model, and what training→active fires."""

from __future__ import annotations

import pytest

from shared.domain.errors import (
    ConcurrentUpdateError,
    EntityVersionMismatchError,
    IllegalTransitionError,
    VersionNotFoundError,
)
from shared.domain.lifecycle import STATUS_HISTORY_LIMIT
from shared.domain.requests import CreateVersionRequest
from shared.domain.triggers import job_id_for
from tests.unit.services.conftest import ADMIN, World


@pytest.fixture
def chain(world: World) -> World:
    """``source`` fires an inference of ``target`` (active at version 1) when it finishes training."""
    world.create("source")
    world.create("target")
    world.activate("target")
    return world


def test_a_legal_move_records_who_when_and_why(world: World):
    world.create()
    world.clock.advance(5)
    moved = world.lifecycle.set_status("m", "1", "training", "started by hand", "bob", ADMIN)
    assert (moved.version.status, moved.version.status_message, moved.version.entity_version) == (
        "training",
        "started by hand",
        2,
    )
    assert [(c.status, c.by, c.at) for c in moved.version.status_history][-1] == ("training", "bob", world.clock.now)
    assert world.table.version("m", "1") == moved.version
    assert world.table.model("m").entity_version == 1  # training does not change the model


def test_a_version_moved_hundreds_of_times_with_long_messages_still_moves_keeping_its_newest_history(
    world: World,
):
    world.create()
    moves = 400  # 348 such moves froze a version at the item limit
    for i in range(moves):
        status = "failed" if i % 2 == 0 else "pending"
        world.clock.advance(1)
        world.lifecycle.set_status("m", "1", status, f"{i:04d}" + "m" * 996, "bob", ADMIN)

    version = world.table.version("m", "1")
    assert version.status == "pending" and version.entity_version == moves + 1
    assert len(version.status_history) == STATUS_HISTORY_LIMIT
    assert version.status_history_dropped == moves + 1 - STATUS_HISTORY_LIMIT  # the creation's change too
    assert [c.status_message[:4] for c in version.status_history if c.status_message] == [
        f"{i:04d}" for i in range(moves - STATUS_HISTORY_LIMIT, moves)
    ]
    assert version.status_history[-1].at == world.clock.now


def test_an_illegal_move_names_the_allowed_ones_and_changes_nothing(world: World):
    world.create()
    with pytest.raises(IllegalTransitionError, match="training, failed"):
        world.move("m", "active")
    assert world.table.version("m", "1").status == "pending"


def test_setting_the_current_status_again_is_a_no_op_that_writes_nothing(world: World):
    world.create()
    writes = world.table.writes
    same = world.move("m", "pending")
    assert (same.version.entity_version, same.triggered_events) == (1, [])
    assert world.table.writes == writes


def test_activation_makes_the_version_the_models_active_one(world: World):
    world.create()
    activated = world.activate("m")
    assert (activated.model.status, activated.model.active_version) == ("active", "1")
    assert world.table.model("m") == activated.model


def test_withdrawing_the_active_version_falls_back_to_the_previous_active_one(world: World):
    world.create()
    world.activate("m")
    world.registry.create_version("m", CreateVersionRequest(version="2"), "bob", ADMIN)
    world.activate("m", "2")
    assert world.move("m", "failed", "2").model.active_version == "1"
    withdrawn = world.move("m", "failed", "1")
    assert (withdrawn.model.status, withdrawn.model.active_version) == ("pending", None)


def test_training_complete_fires_the_sources_active_subscriptions(chain: World):
    fired = chain.subscribe("source", "target")
    chain.subscribe("source", "target", trigger_event="inference_complete")
    paused = chain.subscribe("source", "target")
    chain.table.subscriptions[("source", paused.id)] = paused.model_copy(update={"status": "paused"}).model_dump_json()
    chain.move("source", "training")
    done = chain.move("source", "active")
    [event] = done.triggered_events
    assert (event.subscription_id, event.error) == (fired.id, None)
    job = chain.table.job("target", event.job_id)
    assert (job.action, job.version, job.status) == ("inference", "1", "queued")
    assert job.input == {"model_id": "source", "version": "1", "metadata": {}}
    assert (job.trigger.source_model_id, job.trigger.source_version, job.trigger.depth) == ("source", "1", 1)
    assert job.id == job_id_for("source/1@3", fired.id)  # the same transition always names the same job


def test_a_subscription_that_cannot_fire_is_reported_and_the_transition_still_happens(world: World):
    world.create("source")
    world.create("target")  # never activated: nothing to run inference on
    subscription = world.subscribe("source", "target")
    world.move("source", "training")
    done = world.move("source", "active")
    assert [(e.subscription_id, e.job_id) for e in done.triggered_events] == [(subscription.id, None)]
    assert "no active version" in done.triggered_events[0].error
    assert world.table.jobs == {}
    assert world.table.version("source", "1").status == "active"


def test_a_model_subscribed_to_itself_runs_its_newly_active_version(world: World):
    world.create()
    world.subscribe("m", "m")
    world.move("m", "training")
    [event] = world.move("m", "active").triggered_events
    assert world.table.job("m", event.job_id).version == "1"


def test_other_moves_fire_nothing(chain: World):
    chain.subscribe("source", "target")
    chain.move("source", "training")
    assert chain.move("source", "failed").triggered_events == []
    assert chain.table.jobs == {}


def test_a_stale_if_match_is_a_conflict(world: World):
    world.create()
    with pytest.raises(EntityVersionMismatchError):
        world.move("m", "training", if_match=2)
    assert world.move("m", "training", if_match=1).version.status == "training"


def test_of_two_identical_concurrent_moves_one_writes_and_the_other_answers_the_no_op(chain: World):
    chain.subscribe("source", "target")
    chain.move("source", "training")
    chain.concurrently(lambda: chain.move("source", "active"))
    second = chain.move("source", "active")
    assert second.triggered_events == []
    assert second.version.entity_version == 3  # the first move's write, read back
    assert len(chain.table.jobs) == 1  # fired once


def test_a_version_changed_by_another_writer_is_moved_from_its_new_state(world: World):
    world.create()
    world.concurrently(lambda: world.move("m", "training"))
    failed = world.move("m", "failed")  # read as pending, lost to the move to training, read again
    assert [c.status for c in failed.version.status_history] == ["pending", "training", "failed"]
    assert world.table.version("m", "1").entity_version == 3


def test_a_version_deleted_meanwhile_is_not_found(world: World):
    world.create()
    world.concurrently(lambda: world.stores.registry.delete_model("m"))
    with pytest.raises(VersionNotFoundError):
        world.move("m", "training")


def test_a_version_that_keeps_changing_ends_in_a_concurrent_update_error(world: World):
    world.create()

    def touch_version() -> None:
        current = world.stores.registry.get_version("m", "1")
        changed = current.model_copy(update={"entity_version": current.entity_version + 1})
        world.stores.outbox.commit([world.stores.outbox.version_update(changed, current)], [], "m", "other")

    world.always_concurrently(touch_version)
    with pytest.raises(ConcurrentUpdateError):
        world.move("m", "training")
    assert world.table.version("m", "1").status == "pending"

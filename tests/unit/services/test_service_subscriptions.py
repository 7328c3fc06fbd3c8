"""Event subscriptions on in-memory stores: warnings that never block, updates under If-Match and
concurrency, the dry run, and staleness when the models they chain change."""

from __future__ import annotations

import pytest

from shared.domain.access import Access
from shared.domain.errors import (
    EntityVersionMismatchError,
    SubscriptionInputError,
    SubscriptionNotFoundError,
    TargetModelUnknownError,
    WorkspaceAccessDeniedError,
)
from shared.domain.requests import CreateSubscriptionRequest, UpdateModelRequest, UpdateSubscriptionRequest
from tests.unit.builders import ECHO
from tests.unit.services.conftest import ADMIN, World

NEEDS_X = {"type": "object", "required": ["x"], "properties": {"x": {"type": "number"}}}
GIVES_Y = {"type": "object", "properties": {"y": {"type": "number"}}}


def contracts(input_schema=None, output_schema=None, action: str = "inference") -> dict:
    return {action: {"input_schema": input_schema, "output_schema": output_schema}}


def update(world: World, subscription, if_match: int | None = None, **fields):
    request = UpdateSubscriptionRequest.model_validate(fields)
    return world.subscriptions.update(subscription.source_model_id, subscription.id, request, ADMIN, if_match)


# Creating ---------------------------------------------------------------------------------------


def test_a_subscription_is_created_active_in_its_sources_workspace(world: World):
    world.create("source", workspace="team")
    world.create("target", workspace="team")
    created = world.subscribe("source", "target", label="nightly")
    assert (created.id, created.status, created.workspace, created.warnings) == (
        world.ids.issued[-1],
        "active",
        "team",
        [],
    )
    assert world.table.subscription("source", created.id) == created


def test_a_stored_input_that_breaks_the_targets_contract_is_a_warning_not_a_refusal(world: World):
    world.create("source")
    world.create("target", handler_contracts=contracts(NEEDS_X))
    created = world.subscribe("source", "target", input_source="stored", input={"x": "no"})
    assert len(created.warnings) == 1 and "input_schema" in created.warnings[0]
    assert world.table.subscription("source", created.id).status == "active"


def test_a_trigger_output_the_target_cannot_take_is_a_warning(world: World):
    world.create("source", handler_contracts=contracts(output_schema=GIVES_Y, action="training"))
    world.create("target", handler_contracts=contracts(NEEDS_X))
    created = world.subscribe("source", "target")
    assert created.warnings == ["the target requires 'x', which the source's output_schema never declares"]


def test_closing_a_cycle_is_a_warning_naming_it(world: World):
    for model_id in ("a", "b", "c"):
        world.create(model_id)
    world.subscribe("a", "b")
    world.subscribe("b", "c")
    closing = world.subscribe("c", "a")
    assert any("a cycle" in w and "c -> a -> b -> c" in w for w in closing.warnings)
    world.create("d")
    assert world.subscribe("a", "d").warnings == []  # a branch out of a cycle closes none


def test_a_target_that_does_not_exist_or_is_hidden_is_unknown(world: World):
    world.create("source", workspace="alice")
    world.create("hidden", workspace="bob")
    with pytest.raises(TargetModelUnknownError):
        world.subscribe("source", "nope")
    private = Access("alice", frozenset({"alice"}), private_reads=True)
    request = {"trigger_event": "training_complete", "target_model_id": "hidden"}
    request |= {"target_action": "inference", "input_source": "trigger_output"}
    with pytest.raises(TargetModelUnknownError):
        world.subscriptions.create("source", CreateSubscriptionRequest.model_validate(request), private)
    with pytest.raises(WorkspaceAccessDeniedError):  # visible, but not theirs to fire into
        world.subscriptions.create(
            "source", CreateSubscriptionRequest.model_validate(request), Access("alice", frozenset({"alice"}))
        )
    assert world.table.subscriptions == {}


# Updating and deleting --------------------------------------------------------------------------


def test_pausing_and_relabelling_bump_the_entity_version(world: World):
    world.create("s")
    created = world.subscribe("s", "s")
    paused = update(world, created, status="paused", label="later")
    assert (paused.status, paused.label, paused.entity_version) == ("paused", "later", 2)
    assert world.table.subscription("s", created.id) == paused


def test_input_must_fit_the_subscriptions_input_source(world: World):
    world.create("s")
    stored = world.subscribe("s", "s", input_source="stored", input={"a": 1})
    forwarded = world.subscribe("s", "s")
    with pytest.raises(SubscriptionInputError):
        update(world, stored, input=None)
    with pytest.raises(SubscriptionInputError):
        update(world, forwarded, input={"a": 2})


def test_changing_a_stored_input_revalidates_it(world: World):
    world.create("source")
    world.create("target", handler_contracts=contracts(NEEDS_X))
    created = world.subscribe("source", "target", input_source="stored", input={"x": 1})
    assert created.warnings == []
    assert update(world, created, input={"x": "no"}).warnings != []


def test_if_match_guards_updates_and_deletes(world: World):
    world.create("s")
    created = world.subscribe("s", "s")
    with pytest.raises(EntityVersionMismatchError):
        update(world, created, if_match=2, label="x")
    update(world, created, if_match=1, label="x")
    with pytest.raises(EntityVersionMismatchError):
        world.subscriptions.delete("s", created.id, ADMIN, if_match=1)
    world.subscriptions.delete("s", created.id, ADMIN, if_match=2)
    with pytest.raises(SubscriptionNotFoundError):
        world.subscriptions.get("s", created.id, ADMIN)


def test_a_lost_race_is_retried_without_if_match_and_a_conflict_with_it(world: World):
    world.create("s")
    created = world.subscribe("s", "s")

    def relabel() -> None:
        current = world.stores.subscriptions.get("s", created.id)
        changed = current.model_copy(update={"label": "other", "entity_version": current.entity_version + 1})
        world.stores.subscriptions.save(changed, current.entity_version)

    world.concurrently(relabel)
    paused = update(world, created, status="paused")
    assert (paused.status, paused.label, paused.entity_version) == ("paused", "other", 3)
    world.concurrently(relabel)
    with pytest.raises(EntityVersionMismatchError):
        update(world, paused, if_match=3, status="active")
    assert world.table.subscription("s", created.id).status == "paused"


# Dry run ----------------------------------------------------------------------------------------


def test_a_dry_run_shows_the_job_it_would_queue_and_writes_nothing(world: World):
    world.create("source")
    world.create("target", handler_contracts=contracts(NEEDS_X))
    world.activate("target")
    created = world.subscribe("source", "target")
    writes = world.table.writes
    result = world.subscriptions.dry_run("source", created.id, {"x": 1}, ADMIN)
    assert (result.would_fire, result.error, result.warnings) == (True, None, [])
    assert (result.job.model_id, result.job.version, result.job.action, result.job.input) == (
        "target",
        "1",
        "inference",
        {"x": 1},
    )
    assert world.table.writes == writes and world.table.jobs == {}
    sample = world.subscriptions.dry_run("source", created.id, None, ADMIN)  # the manual activation's output
    assert sample.job.input == {"model_id": "source", "version": "1", "metadata": {}}
    assert "input_schema" in sample.warnings[0]


@pytest.mark.parametrize(
    ("arrange", "reason"),
    [
        ("pause", "the subscription is paused"),
        ("delete_target", "no longer exists"),
        ("inactive_target", "no active version"),
    ],
)
def test_a_dry_run_says_why_it_would_not_fire(world: World, arrange: str, reason: str):
    world.create("source")
    world.create("target")
    if arrange != "inactive_target":
        world.activate("target")
    created = world.subscribe("source", "target")
    if arrange == "pause":
        update(world, created, status="paused")
    if arrange == "delete_target":
        world.stores.registry.delete_model("target")
    result = world.subscriptions.dry_run("source", created.id, None, ADMIN)
    assert (result.would_fire, result.job) == (False, None)
    assert reason in result.error


def test_a_dry_run_treats_a_target_hidden_from_the_caller_as_gone(world: World):
    world.create("source", workspace="alice")
    world.create("target", workspace="bob")
    world.activate("target")
    created = world.subscribe("source", "target")
    private = Access("alice", frozenset({"alice"}), private_reads=True)
    result = world.subscriptions.dry_run("source", created.id, None, private)
    assert (result.would_fire, result.error) == (False, "target model 'target' no longer exists")
    assert world.subscriptions.dry_run("source", created.id, None, ADMIN).would_fire


# Staleness --------------------------------------------------------------------------------------


def test_with_contracts_only_a_change_of_the_subscribed_input_schema_stales(world: World):
    world.create("source")
    world.create("target", handler_contracts=contracts(NEEDS_X))
    created = world.subscribe("source", "target")

    def change_target(handler_contracts) -> None:
        body = {"name": "t", "description": "", "metadata": {}, "handlers": {"training": ECHO, "inference": ECHO}}
        request = UpdateModelRequest.model_validate({**body, "handler_contracts": handler_contracts})
        world.registry.update_model("target", request, "bob", None, ADMIN)

    change_target({**contracts(NEEDS_X), "training": {"input_schema": GIVES_Y}})
    assert world.table.subscription("source", created.id).status == "active"
    change_target(contracts(GIVES_Y))
    assert world.table.subscription("source", created.id).status == "stale"


def test_a_trigger_output_subscription_stales_when_its_source_changes_what_it_forwards(world: World):
    world.create("source", handler_contracts=contracts(output_schema=GIVES_Y, action="training"))
    world.create("target")
    forwarded = world.subscribe("source", "target")
    stored = world.subscribe("source", "target", input_source="stored", input={})
    before, after = (
        world.table.model("source"),
        world.table.model("source").model_copy(update={"handler_contracts": None}),
    )
    world.subscriptions.mark_stale_after_change(before, after)
    assert world.table.subscription("source", forwarded.id).status == "stale"
    assert world.table.subscription("source", stored.id).status == "active"


def test_marking_stale_a_subscription_deleted_meanwhile_is_nothing_to_do(world: World):
    world.create("source")
    world.create("target")
    created = world.subscribe("source", "target")
    world.concurrently(lambda: world.stores.subscriptions.delete("source", created.id))
    world.subscriptions.mark_stale_targeting("target")
    assert world.table.subscriptions == {}

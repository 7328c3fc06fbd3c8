"""The in-memory fakes (``tests/unit/fakes.py``) against the DynamoDB stores: the same scenarios,
the same outcomes, so the service unit tests that run on the fakes test what production does."""

from __future__ import annotations

import json
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from pie_local.settings import LOCAL_TABLE_NAME
from shared.data.errors import ItemExistsError, StaleEntityError
from shared.data.jobs import JobStore
from shared.data.outbox import JobWriteConflictError, OutboxWriter
from shared.data.page_tokens import PageTokenCodec
from shared.data.store import RegistryStore
from shared.data.subscriptions import SubscriptionStore
from shared.domain.errors import (
    ItemTooLargeError,
    JobNotFoundError,
    ModelNotFoundError,
    PageTokenInvalidError,
    SubscriptionNotFoundError,
    VersionNotFoundError,
)
from tests.unit import builders
from tests.unit.fakes import Stores


@pytest.fixture(params=["fake", "dynamodb"])
def stores(request: pytest.FixtureRequest) -> Any:
    if request.param == "fake":
        return Stores()
    client = request.getfixturevalue("table")
    codec = PageTokenCodec(b"contract")
    registry = RegistryStore(client, LOCAL_TABLE_NAME, lambda: codec)
    return SimpleNamespace(
        registry=registry,
        subscriptions=SubscriptionStore(client, LOCAL_TABLE_NAME, lambda: codec),
        jobs=JobStore(client, LOCAL_TABLE_NAME, lambda: codec),
        outbox=OutboxWriter(client, LOCAL_TABLE_NAME),
    )


def create(stores: Any, model_id: str = "m", **changes: Any) -> None:
    stores.registry.create_model(builders.record(model_id, **changes), builders.version(model_id))


def bumped(model_id: str, entity_version: int, sequence: int = 1, **changes: Any):
    return builders.record(model_id, sequence=sequence, entity_version=entity_version, **changes)


def all_pages(list_page, limit: int) -> list[Any]:
    found, token = [], None
    while True:
        page = list_page(limit, token)
        found.extend(page.items)
        if page.next_token is None:
            return found
        token = page.next_token


# Models and versions ------------------------------------------------------------------------------


def test_a_created_model_and_its_first_version_read_back_as_written(stores: Any):
    create(stores, metadata={"team": "pricing"})
    record = stores.registry.get_model("m")
    assert record == builders.record("m", metadata={"team": "pricing"})
    assert stores.registry.get_version("m", "1") == builders.version("m")
    assert stores.registry.get_model_and_version("m", "1") == (record, builders.version("m"))


def test_creating_a_model_that_exists_is_refused_and_changes_nothing(stores: Any):
    create(stores)
    with pytest.raises(ItemExistsError):
        stores.registry.create_model(builders.record("m", name="other"), builders.version("m", description="x"))
    assert stores.registry.get_model("m").model.name == "m"
    assert stores.registry.get_version("m", "1").description == ""


def test_reads_of_what_does_not_exist(stores: Any):
    create(stores)
    with pytest.raises(ModelNotFoundError):
        stores.registry.get_model("nope")
    with pytest.raises(VersionNotFoundError):
        stores.registry.get_version("m", "9")
    with pytest.raises(ModelNotFoundError):
        stores.registry.get_model_and_version("nope", "1")
    with pytest.raises(VersionNotFoundError):
        stores.registry.get_model_and_version("m", "9")
    assert set(stores.registry.get_models({"m", "nope"})) == {"m"}


def test_a_save_on_the_read_entity_version_wins_and_a_stale_one_names_the_current(stores: Any):
    create(stores)
    stores.registry.save_model(bumped("m", 2, name="renamed"), 1)
    assert stores.registry.get_model("m").model.name == "renamed"
    with pytest.raises(StaleEntityError) as stale:
        stores.registry.save_model(bumped("m", 2, name="lost"), 1)
    assert (stale.value.current, stale.value.entity) == (2, "model")
    with pytest.raises(StaleEntityError) as gone:
        stores.registry.save_model(bumped("ghost", 2), 1)
    assert gone.value.current is None


def test_a_save_with_a_new_version_is_all_or_nothing(stores: Any):
    create(stores)
    stores.registry.save_model(bumped("m", 2, sequence=2, latest_version="2"), 1, builders.version("m", "2"))
    assert stores.registry.get_version("m", "2") == builders.version("m", "2")
    with pytest.raises(ItemExistsError):
        stores.registry.save_model(bumped("m", 3, sequence=3, name="lost"), 2, builders.version("m", "2"))
    assert stores.registry.get_model("m").model.entity_version == 2  # the model's write was undone
    with pytest.raises(StaleEntityError) as stale:
        stores.registry.save_model(bumped("m", 3, sequence=3), 1, builders.version("m", "3"))
    assert stale.value.current == 2
    with pytest.raises(VersionNotFoundError):  # the version's write was undone
        stores.registry.get_version("m", "3")


def test_an_oversized_document_is_refused(stores: Any):
    with pytest.raises(ItemTooLargeError):
        create(stores, metadata={"blob": "x" * 400_000})
    with pytest.raises(ModelNotFoundError):
        stores.registry.get_model("m")


def test_models_page_in_workspace_then_id_order_each_once(stores: Any):
    for model_id, workspace in [("b", "default"), ("a", "default"), ("c", "team"), ("d", "zeta"), ("e", "team")]:
        create(stores, model_id, workspace=workspace, status="active" if model_id in "ace" else "pending")
    every = all_pages(lambda limit, token: stores.registry.list_models(limit, token, None), 2)
    assert [json.loads(m.text)["id"] for m in every] == [
        "c",
        "e",
        "d",
        "a",
        "b",
    ]  # named workspaces first, then default
    active = all_pages(lambda limit, token: stores.registry.list_models(limit, token, "active"), 1)
    assert [json.loads(m.text)["id"] for m in active] == ["c", "e", "a"]
    scoped = all_pages(lambda limit, token: stores.registry.list_models(limit, token, None, ("team", "default")), 2)
    assert [json.loads(m.text)["id"] for m in scoped] == ["c", "e", "a", "b"]
    assert stores.registry.list_models(10, None, None).next_token is None  # the last page says so


def test_a_page_token_only_continues_the_list_that_issued_it(stores: Any):
    for model_id in "abc":
        create(stores, model_id)
    token = stores.registry.list_models(1, None, None).next_token
    assert token is not None
    with pytest.raises(PageTokenInvalidError):
        stores.registry.list_models(1, token, "active")
    with pytest.raises(PageTokenInvalidError):
        stores.registry.list_versions("a", 1, token)
    with pytest.raises(PageTokenInvalidError):
        stores.registry.list_models(1, "not-a-token", None)


def test_versions_list_newest_first(stores: Any):
    create(stores)
    for n in range(2, 5):
        stores.registry.save_model(bumped("m", n, sequence=n), n - 1, builders.version("m", str(n)))
    listed = all_pages(lambda limit, token: stores.registry.list_versions("m", limit, token), 3)
    assert [v.version for v in listed] == ["4", "3", "2", "1"]
    assert stores.registry.list_versions("nope", 3, None).items == []


def test_deleting_a_model_takes_its_versions_subscriptions_and_jobs(stores: Any):
    create(stores)
    create(stores, "other")
    mine, theirs = builders.subscription("m", "other"), builders.subscription("other", "m")
    stores.subscriptions.put_new(mine)
    stores.subscriptions.put_new(theirs)
    stores.outbox.commit([], [builders.job("m")], "m", "seed")
    stores.registry.delete_model("m")
    with pytest.raises(ModelNotFoundError):
        stores.registry.get_model("m")
    with pytest.raises(VersionNotFoundError):
        stores.registry.get_version("m", "1")
    with pytest.raises(SubscriptionNotFoundError):
        stores.subscriptions.get("m", mine.id)
    assert stores.jobs.list_page("m", 10, None, None).items == []
    assert stores.subscriptions.get("other", theirs.id) == theirs  # another model's subscription stays
    with pytest.raises(ModelNotFoundError):
        stores.registry.delete_model("m")


def test_a_conditional_delete_of_a_changed_model_keeps_everything(stores: Any):
    create(stores)
    stores.registry.save_model(bumped("m", 2), 1)
    with pytest.raises(StaleEntityError) as stale:
        stores.registry.delete_model("m", 1)
    assert stale.value.current == 2
    assert stores.registry.get_version("m", "1").version == "1"
    stores.registry.delete_model("m", 2)
    with pytest.raises(StaleEntityError) as gone:
        stores.registry.delete_model("m", 2)
    assert gone.value.current is None


# Subscriptions -----------------------------------------------------------------------------------


def test_subscription_writes_are_conditional_on_their_entity_version(stores: Any):
    subscription = builders.subscription()
    stores.subscriptions.put_new(subscription)
    assert stores.subscriptions.get("m", subscription.id) == subscription
    labelled = subscription.model_copy(update={"label": "x", "entity_version": 2})
    stores.subscriptions.save(labelled, 1)
    with pytest.raises(StaleEntityError) as stale:
        stores.subscriptions.save(subscription.model_copy(update={"entity_version": 2}), 1)
    assert (stale.value.current, stale.value.entity) == (2, "subscription")
    with pytest.raises(StaleEntityError) as lost:
        stores.subscriptions.mark_stale(subscription, builders.T0)  # as read before the label
    assert lost.value.current == 2
    stores.subscriptions.mark_stale(labelled, builders.T0)
    assert stores.subscriptions.get("m", subscription.id).status == "stale"


def test_subscription_deletes(stores: Any):
    subscription = builders.subscription()
    stores.subscriptions.put_new(subscription)
    with pytest.raises(StaleEntityError) as stale:
        stores.subscriptions.delete("m", subscription.id, 7)
    assert stale.value.current == 1
    stores.subscriptions.delete("m", subscription.id, 1)
    with pytest.raises(SubscriptionNotFoundError):
        stores.subscriptions.delete("m", subscription.id)
    with pytest.raises(SubscriptionNotFoundError):
        stores.subscriptions.delete("m", subscription.id, 1)
    with pytest.raises(SubscriptionNotFoundError):
        stores.subscriptions.get("m", subscription.id)


def test_subscriptions_by_source_and_by_target(stores: Any):
    ids = sorted(str(i) * 8 + "-0000-4000-8000-000000000000" for i in range(1, 6))
    made = [builders.subscription("m", "t" if i % 2 else "u", id=sid) for i, sid in enumerate(ids)]
    made.append(builders.subscription("x", "t"))
    for subscription in made:
        stores.subscriptions.put_new(subscription)
    paged = all_pages(lambda limit, token: stores.subscriptions.list_page("m", limit, token), 2)
    assert [s.id for s in paged] == ids
    assert [s.id for s in stores.subscriptions.list_of_source("m")] == ids
    targeting_t = {s.id for s in stores.subscriptions.list_by_target("t")}
    assert targeting_t == {made[1].id, made[3].id, made[5].id}


# The outbox and jobs --------------------------------------------------------------------------------


def test_a_commit_writes_the_guarded_changes_and_the_fired_jobs_together(stores: Any):
    create(stores)
    before = stores.registry.get_version("m", "1")
    moved = before.model_copy(update={"status": "training", "entity_version": 2})
    fired = builders.job("t")
    stores.outbox.commit([stores.outbox.version_update(moved, before)], [fired], "m", "change")
    assert stores.registry.get_version("m", "1") == moved
    assert stores.jobs.get("t", fired.id) == fired


def test_a_stale_guard_fails_the_whole_commit_naming_the_entity(stores: Any):
    create(stores)
    record, before = stores.registry.get_model_and_version("m", "1")
    moved = before.model_copy(update={"status": "training", "entity_version": 2})
    stores.outbox.commit([stores.outbox.version_update(moved, before)], [], "m", "first")
    again = before.model_copy(update={"status": "failed", "entity_version": 2})
    model = replace(record, model=record.model.model_copy(update={"entity_version": 2}))
    fired = builders.job("t")
    guarded = [stores.outbox.model_put(model, 1), stores.outbox.version_update(again, before)]
    with pytest.raises(StaleEntityError) as stale:
        stores.outbox.commit(guarded, [fired], "m", "second")
    assert (stale.value.entity, stale.value.current) == ("version", 2)
    assert stores.registry.get_model("m").model.entity_version == 1  # the model's put was undone
    with pytest.raises(JobNotFoundError):
        stores.jobs.get("t", fired.id)


def test_a_completion_only_moves_a_version_bound_to_its_job(stores: Any):
    create(stores)
    before = stores.registry.get_version("m", "1")
    bound = before.model_copy(update={"status": "training", "training_job_id": "job-a", "entity_version": 2})
    stores.outbox.commit([stores.outbox.version_update(bound, before)], [], "m", "bind")
    active = bound.model_copy(update={"status": "active", "training_job_id": None, "entity_version": 3})
    with pytest.raises(StaleEntityError):
        stores.outbox.commit([stores.outbox.version_update(active, bound, completing_job="job-b")], [], "m", "b")
    stores.outbox.commit([stores.outbox.version_update(active, bound, completing_job="job-a")], [], "m", "a")
    assert stores.registry.get_version("m", "1").status == "active"


def test_a_fired_job_that_exists_fails_the_commit(stores: Any):
    create(stores)
    fired = builders.job("t")
    stores.outbox.commit([], [fired], "m", "first")
    before = stores.registry.get_version("m", "1")
    moved = before.model_copy(update={"status": "failed", "entity_version": 2})
    with pytest.raises(JobWriteConflictError):
        stores.outbox.commit([stores.outbox.version_update(moved, before)], [fired], "m", "again")
    assert stores.registry.get_version("m", "1").status == "pending"


def test_a_job_put_is_conditional_on_status_and_entity_version(stores: Any):
    queued = builders.job()
    stores.outbox.commit([], [queued], "m", "seed")
    dispatched = queued.model_copy(update={"status": "dispatched", "entity_version": 2})
    stores.outbox.commit([stores.outbox.job_put(dispatched, queued)], [], "m", "claim")
    with pytest.raises(StaleEntityError) as stale:
        stores.outbox.commit([stores.outbox.job_put(dispatched, queued)], [], "m", "claim again")
    assert (stale.value.entity, stale.value.current) == ("job", 2)
    ghost = builders.job()
    with pytest.raises(StaleEntityError) as gone:
        stores.outbox.commit([stores.outbox.job_put(ghost, ghost)], [], "m", "ghost")
    assert gone.value.current is None


def test_jobs_list_newest_first_by_model_and_status_and_in_the_log(stores: Any):
    made = [builders.job("m", minutes=i, status="failed" if i % 2 else "queued") for i in range(5)]
    made.append(builders.job("other", minutes=10))
    stores.outbox.commit([], made, "m", "seed")
    newest_first = [j.id for j in reversed(made[:5])]
    assert [j.id for j in all_pages(lambda limit, token: stores.jobs.list_page("m", limit, token, None), 2)] == (
        newest_first
    )
    failed = all_pages(lambda limit, token: stores.jobs.list_page("m", limit, token, "failed"), 1)
    assert [j.id for j in failed] == [made[3].id, made[1].id]
    logged = all_pages(lambda limit, token: stores.jobs.log_page(limit, token, None, None, None), 2)
    assert [j.id for j in logged] == [made[5].id, *newest_first]
    since = (builders.T0.replace(minute=3)).isoformat()
    recent = all_pages(lambda limit, token: stores.jobs.log_page(limit, token, None, "m", since), 5)
    assert [j.id for j in recent] == [made[4].id, made[3].id]
    with pytest.raises(JobNotFoundError):
        stores.jobs.get("m", builders.job().id)

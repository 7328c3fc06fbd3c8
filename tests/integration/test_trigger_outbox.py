"""The transactional outbox: training→active fires each active training_complete subscription
exactly once, atomically with the transition, however many subscriptions and however often retried."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shared import runtime
from shared.data.entities import FANOUTS, JOBS
from shared.data.items import TRANSACTION_ITEM_LIMIT
from shared.domain.entities import Job
from shared.domain.triggers import job_id_for, root_of_transition
from shared.runtime import dynamodb_client
from shared.runtime import outbox as runtime_outbox
from tests.integration.api_events import assert_error, create_model, create_version
from tests.integration.lifecycle_helpers import jobs_of, set_status, subscribe, walk_to


@pytest.fixture
def source_and_target(table):
    """Model ``a`` with version 1 in training; model ``b`` with an active version to run."""
    create_model("a")
    create_model("b")
    walk_to("b", "1", "active")
    walk_to("a", "1", "training")
    return table


def test_training_to_active_fires_each_active_subscription_once_with_its_input(source_and_target):
    stored = subscribe("a", "b", stored_input={"features": [1, 2]})
    forwarded = subscribe("a", "b", input_source="trigger_output")

    status, body, _ = set_status("a", "1", "active")

    assert status == 200, body
    events = {e["subscription_id"]: e for e in body["triggered_events"]}
    assert set(events) == {stored.id, forwarded.id}
    jobs = {job["id"]: job for job in jobs_of(source_and_target, "b")}
    assert set(jobs) == {events[stored.id]["job_id"], events[forwarded.id]["job_id"]}
    stored_job = jobs[events[stored.id]["job_id"]]
    assert stored_job["status"] == "queued"
    assert stored_job["action"] == "inference"
    assert stored_job["version"] == "1"
    assert stored_job["input"] == {"features": [1, 2]}
    assert stored_job["trigger"] == {
        "subscription_id": stored.id,
        "source_model_id": "a",
        "source_version": "1",
        "source_job_id": None,
        "depth": 1,
        "root_job_id": root_of_transition("a/1@3"),  # a status set by hand is its chain's root
    }
    forwarded_job = jobs[events[forwarded.id]["job_id"]]
    assert forwarded_job["input"] == {"model_id": "a", "version": "1", "metadata": {}}


def test_only_active_training_complete_subscriptions_fire(source_and_target):
    fires = subscribe("a", "b", stored_input={})
    subscribe("a", "b", stored_input={}, status="paused")
    subscribe("a", "b", stored_input={}, status="stale")
    subscribe("a", "b", stored_input={}, event="inference_complete")

    _, body, _ = set_status("a", "1", "active")

    assert [e["subscription_id"] for e in body["triggered_events"]] == [fires.id]
    assert len(jobs_of(source_and_target, "b")) == 1


@pytest.mark.parametrize(
    ("walk", "transition"),
    [([], "training"), (["training"], "failed"), (["training", "active"], "failed"), (["failed"], "training")],
)
def test_other_transitions_fire_nothing(table, walk: list[str], transition: str):
    create_model("a")
    create_model("b")
    walk_to("b", "1", "active")
    subscribe("a", "b", stored_input={})
    for step in walk:
        set_status("a", "1", step)
    jobs_before = len(jobs_of(table, "b"))

    _, body, _ = set_status("a", "1", transition)

    assert body["triggered_events"] == []
    assert len(jobs_of(table, "b")) == jobs_before


def test_subscriptions_that_cannot_fire_report_why(source_and_target):
    no_active_version = subscribe("a", "c_pending", stored_input={})
    create_model("c_pending")
    gone = subscribe("a", "deleted", stored_input={})
    fires = subscribe("a", "b", stored_input={})

    _, body, _ = set_status("a", "1", "active")

    events = {e["subscription_id"]: e for e in body["triggered_events"]}
    assert set(events[no_active_version.id]) == {"subscription_id", "error"}
    assert "no active version" in events[no_active_version.id]["error"]
    assert "no longer exists" in events[gone.id]["error"]
    assert set(events[fires.id]) == {"subscription_id", "job_id"}
    assert len(jobs_of(source_and_target, "c_pending")) == 0


def test_a_training_subscription_trains_the_targets_newest_version(source_and_target):
    create_version("b", "2")
    subscription = subscribe("a", "b", action="training", stored_input={"epochs": 3})

    _, body, _ = set_status("a", "1", "active")

    (job,) = jobs_of(source_and_target, "b")
    assert job["id"] == body["triggered_events"][0]["job_id"]
    assert (job["action"], job["version"], job["input"]) == ("training", "2", {"epochs": 3})
    assert job["trigger"]["subscription_id"] == subscription.id


@pytest.fixture
def large_budget(monkeypatch):
    """A deployment whose chains may cause more jobs than one transaction holds."""
    monkeypatch.setenv("PIE_CHAIN_JOB_BUDGET", "1000")
    runtime.reset()


def test_fan_out_past_one_transaction_creates_each_job_exactly_once(source_and_target, large_budget, monkeypatch):
    subscriptions = [subscribe("a", "b", stored_input={"n": n}) for n in range(100)]
    transaction_sizes = record_transaction_sizes(monkeypatch)

    status, body, _ = set_status("a", "1", "active")

    assert status == 200
    assert len(body["triggered_events"]) == 100
    assert {e["subscription_id"] for e in body["triggered_events"]} == {s.id for s in subscriptions}
    jobs = jobs_of(source_and_target, "b")
    assert len(jobs) == 100
    assert {job["id"] for job in jobs} == {e["job_id"] for e in body["triggered_events"]}
    assert sorted(job["input"]["n"] for job in jobs) == list(range(100))
    assert all(size <= TRANSACTION_ITEM_LIMIT for size in transaction_sizes)
    # The transition, the model, the budget, its version.status_changed event, 95 jobs and one
    # fan-out item; then the 5 left.
    assert transaction_sizes == [100, 5]


def test_only_the_first_hundred_subscriptions_of_an_event_fire(source_and_target, large_budget):
    subscriptions = [subscribe("a", "b", stored_input={"n": n}) for n in range(103)]

    _, body, _ = set_status("a", "1", "active")

    events = body["triggered_events"]
    assert sorted(e["subscription_id"] for e in events) == sorted(s.id for s in subscriptions)
    assert all("job_id" in e for e in events[:100])
    assert all("first 100 active subscriptions" in e["error"] for e in events[100:])
    assert len(events) == 103
    assert len(jobs_of(source_and_target, "b")) == 100


def test_redelivered_fan_out_items_never_create_a_second_job(source_and_target, large_budget):
    for n in range(100):
        subscribe("a", "b", stored_input={"n": n})
    set_status("a", "1", "active")
    fanout_items = source_and_target.query(
        TableName="pie-local",
        KeyConditionExpression="PK = :pk AND begins_with(SK, :f)",
        ExpressionAttributeValues={":pk": {"S": "MODEL#a"}, ":f": {"S": "FANOUT#"}},
    )["Items"]
    assert fanout_items, "100 jobs and the change cannot fit in one transaction: the overflow is in the outbox"
    outbox = runtime_outbox()

    for _ in range(3):
        for item in fanout_items:
            outbox.materialize(list(FANOUTS.decode(item).jobs))

    assert len(jobs_of(source_and_target, "b")) == 100


def test_concurrent_identical_transitions_fire_exactly_once(source_and_target):
    subscriptions = [subscribe("a", "b", stored_input={"n": n}) for n in range(5)]
    start = threading.Barrier(20)

    def race(_: int):
        start.wait()
        return set_status("a", "1", "active")

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(race, range(20)))

    firing = [body for status, body, _ in responses if status == 200 and body["triggered_events"]]
    assert len(firing) == 1
    assert len(firing[0]["triggered_events"]) == len(subscriptions)
    for status, body, _ in responses:
        assert status in (200, 409), body
        if status == 200 and body is not firing[0]:
            assert body["triggered_events"] == []
    assert len(jobs_of(source_and_target, "b")) == len(subscriptions)


def test_a_failing_job_condition_leaves_the_version_and_every_job_untouched(source_and_target):
    subscriptions = [subscribe("a", "b", stored_input={"n": n}) for n in range(3)]
    # The job the second subscription would create already exists: its put's condition fails.
    transition = "a/1@3"
    blocker = Job.model_validate(
        {
            "id": job_id_for(transition, subscriptions[1].id),
            "model_id": "b",
            "version": "1",
            "action": "inference",
            "status": "succeeded",
            "input": {"planted": True},
            "handler": {"type": "in_process", "implementation": "echo"},
            "trigger": None,
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        }
    )
    dynamodb_client().put_item(TableName="pie-local", Item=JOBS.encode(blocker))

    assert_error(set_status("a", "1", "active"), 409)

    _, version, _ = set_status("a", "1", "training")  # the no-op: still training
    assert version["version"]["status"] == "training"
    assert version["model"]["active_version"] is None
    jobs = jobs_of(source_and_target, "b")
    assert [job["input"] for job in jobs] == [{"planted": True}]


def test_a_failed_transaction_leaves_the_version_and_jobs_untouched(source_and_target, monkeypatch):
    subscribe("a", "b", stored_input={})
    client = dynamodb_client()

    def refuse(**_: Any):
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "injected"}},
            "TransactWriteItems",
        )

    monkeypatch.setattr(client, "transact_write_items", refuse)
    status, body, _ = set_status("a", "1", "active")
    monkeypatch.undo()

    assert status == 500
    assert body == {"success": False, "message": "internal error", "request_id": body["request_id"]}
    _, after, _ = set_status("a", "1", "training")
    assert after["version"]["status"] == "training"
    assert jobs_of(source_and_target, "b") == []


def test_job_ids_are_deterministic_per_transition_and_subscription():
    assert job_id_for("a/1@3", "s1") == job_id_for("a/1@3", "s1")
    assert job_id_for("a/1@3", "s1") != job_id_for("a/1@5", "s1")
    assert job_id_for("a/1@3", "s1") != job_id_for("a/1@3", "s2")


def record_transaction_sizes(monkeypatch) -> list[int]:
    client = dynamodb_client()
    original = client.transact_write_items
    sizes: list[int] = []

    def recording(**kwargs: Any):
        sizes.append(len(kwargs["TransactItems"]))
        return original(**kwargs)

    monkeypatch.setattr(client, "transact_write_items", recording)
    return sizes

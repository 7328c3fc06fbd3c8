"""The firing index (``shared.data.subscriptions``): beside each active subscription, its copy under
its event, so a firing reads the active subscriptions of its event and not every subscription its
source model has. Every write keeps it exact; a model an older PIE wrote is read whole until the
migration (``shared.data.migrations``) indexes it, and fires the same either way."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pie_local.settings import LOCAL_TABLE_NAME
from shared.data import keys
from shared.data.entities import ACTIVE_SUBSCRIPTIONS, FIRING_INDEXES, SUBSCRIPTIONS
from shared.data.migrations import FIRING_INDEX, index_active_subscriptions, run_pending
from shared.domain import job_events
from shared.domain.entities import Subscription
from shared.runtime import dynamodb_client, subscription_store
from tests.integration.api_events import call, create_model
from tests.integration.lifecycle_helpers import jobs_of, set_status, subscribe, walk_to
from tests.integration.subscription_helpers import (
    create_subscription,
    lambda_handler,
    replace_model,
    update_subscription,
)

Json = dict[str, Any]


def partition(client: Any, model_id: str) -> list[Json]:
    items: list[Json] = []
    query: Json = {
        "TableName": LOCAL_TABLE_NAME,
        "KeyConditionExpression": "PK = :pk",
        "ExpressionAttributeValues": {":pk": {"S": keys.model_partition(model_id)}},
        "ConsistentRead": True,
    }
    while True:
        page = client.query(**query)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def assert_indexed(client: Any, model_id: str) -> dict[str, str]:
    """The model's index is exact: a marker per event, and an entry, holding the subscription's
    document as stored, for each active subscription and for nothing else. Returns the statuses."""
    items = partition(client, model_id)
    subscriptions = {item["SK"]["S"]: item for item in items if SUBSCRIPTIONS.holds(item)}
    entries = {item["SK"]["S"]: item["doc"]["S"] for item in items if ACTIVE_SUBSCRIPTIONS.holds(item)}
    markers = {FIRING_INDEXES.decode(item).event for item in items if FIRING_INDEXES.holds(item)}
    expected = {}
    for item in subscriptions.values():
        subscription = SUBSCRIPTIONS.decode(item)
        if subscription.status == "active":
            entry_key = ACTIVE_SUBSCRIPTIONS.key(subscription)["SK"]
            expected[entry_key] = item["doc"]["S"]
    assert entries == expected
    assert markers == set(job_events.EVENT_NAMES)
    for item in items:  # the index is never listed by target (GSI1): only the subscription is
        if ACTIVE_SUBSCRIPTIONS.holds(item) or FIRING_INDEXES.holds(item):
            assert not {"GSI1PK", "GSI1SK", "GSI2PK", "LSI1SK"} & set(item)
    return {SUBSCRIPTIONS.decode(item).id: SUBSCRIPTIONS.decode(item).status for item in subscriptions.values()}


def test_every_route_that_writes_a_subscription_keeps_the_index_exact(table: Any):
    for model_id in ("a", "b", "c"):
        create_model(model_id)
    assert_indexed(table, "a")
    first = create_subscription("a", "b")["id"]
    second = create_subscription("a", "c", trigger_event="inference_complete")["id"]
    assert assert_indexed(table, "a") == {first: "active", second: "active"}

    update_subscription("a", first, status="paused")
    update_subscription("a", second, label="renamed")
    assert assert_indexed(table, "a") == {first: "paused", second: "active"}
    assert (
        json.loads(next(i for i in partition(table, "a") if ACTIVE_SUBSCRIPTIONS.holds(i))["doc"]["S"])["label"]
        == "renamed"
    )

    update_subscription("a", first, status="active")
    assert assert_indexed(table, "a") == {first: "active", second: "active"}

    replace_model("b", handlers={"training": lambda_handler("t2"), "inference": lambda_handler("i2")})
    assert assert_indexed(table, "a") == {first: "stale", second: "active"}

    status, body, _ = call("delete_subscription", model_id="a", subscription_id=second)
    assert status == 204, body
    assert assert_indexed(table, "a") == {first: "stale"}

    status, body, _ = call("delete_model", model_id="a")
    assert status == 204, body
    assert partition(table, "a") == []


def test_the_index_stays_exact_over_random_writes_of_the_store(table: Any):
    """Creates, status changes, relabels, stale marks and deletes (conditional or not) in a random
    order: after each, the index and the firing's read agree with the subscriptions."""
    create_model("a")
    store = subscription_store()
    rng = random.Random(20261207)
    live: dict[str, Subscription] = {}
    for step in range(120):
        choice = rng.random()
        if not live or choice < 0.25:
            made = subscribe(
                "a",
                "b",
                event=rng.choice(job_events.EVENT_NAMES[:2]),
                stored_input={"n": step},
                status=rng.choice(["active", "paused"]),
            )
            live[made.id] = made
        else:
            current = store.get("a", rng.choice(sorted(live)))
            if choice < 0.6:
                changed = current.model_copy(
                    update={
                        "status": rng.choice(["active", "paused", "stale"]),
                        "label": f"step {step}",
                        "entity_version": current.entity_version + 1,
                    }
                )
                store.save(changed, current.entity_version)
                live[changed.id] = changed
            elif choice < 0.75:
                store.mark_stale(current, datetime.now(UTC))
            else:
                store.delete("a", current.id, current.entity_version if choice < 0.87 else None)
                del live[current.id]
        statuses = assert_indexed(table, "a")
        assert set(statuses) == set(live)
        for event in job_events.EVENT_NAMES:
            every = store.list_of_source("a")
            assert store.active_of_source("a", event) == [
                s for s in every if s.status == "active" and s.trigger_event == event
            ]


@contextmanager
def items_read(client: Any) -> Iterator[list[tuple[str, int]]]:
    """Each Query and Scan the client makes inside the block, with how many items it read."""
    read: list[tuple[str, int]] = []

    def count(http_response: Any, parsed: Json, model: Any, **_: Any) -> None:
        if model.name in ("Query", "Scan"):
            read.append((model.name, parsed.get("ScannedCount", 0)))

    client.meta.events.register("after-call.dynamodb", count)
    try:
        yield read
    finally:
        client.meta.events.unregister("after-call.dynamodb", count)


def _fire(table: Any, source: str, paused: int) -> tuple[list[str], list[tuple[str, int]]]:
    create_model(source)
    walk_to(source, "1", "training")
    fired = [subscribe(source, "b", stored_input={"n": n}).id for n in range(3)]
    for n in range(paused):
        subscribe(source, "b", stored_input={"n": n}, status=rng_status(n))
    with items_read(dynamodb_client()) as read:  # the client the route functions use
        status, body, _ = set_status(source, "1", "active")
    assert status == 200, body
    assert sorted(event["subscription_id"] for event in body["triggered_events"]) == sorted(fired)
    return fired, read


def rng_status(n: int) -> str:
    return ("paused", "stale")[n % 2]


def test_a_firing_reads_the_same_however_many_inactive_subscriptions_its_model_has(table: Any):
    create_model("b")
    walk_to("b", "1", "active")

    _, alone = _fire(table, "few", paused=0)
    _, beside_many = _fire(table, "many", paused=400)

    assert beside_many == alone  # the same calls, each reading as many items
    assert alone == [("Query", 3 + 1)]  # the firing's: the three entries and the marker
    assert len(jobs_of(table, "b")) == 6


# An older PIE's table ---------------------------------------------------------------------------


def _legacy(client: Any, model_id: str) -> None:
    """Make the model look as an older PIE left it: subscriptions, no index."""
    for item in partition(client, model_id):
        if ACTIVE_SUBSCRIPTIONS.holds(item) or FIRING_INDEXES.holds(item):
            client.delete_item(TableName=LOCAL_TABLE_NAME, Key={"PK": item["PK"], "SK": item["SK"]})


def test_a_model_from_before_the_index_fires_the_same_before_and_after_the_migration(table: Any):
    create_model("b")
    walk_to("b", "1", "active")
    create_model("a")
    walk_to("a", "1", "training")
    fires = subscribe("a", "b", stored_input={"n": 1})
    subscribe("a", "b", stored_input={"n": 2}, status="paused")
    subscribe("a", "b", stored_input={"n": 3}, event="inference_complete")
    _legacy(table, "a")
    later = subscribe("a", "b", stored_input={"n": 4})  # written by this PIE before the migration ran
    store = subscription_store()

    assert [s.id for s in store.active_of_source("a", "training_complete")] == sorted([fires.id, later.id])
    status, body, _ = call("create_subscription", model_id="a", body={**_body("b"), "label": "room"})
    assert status == 201, body  # the room check reads the old way too

    assert index_active_subscriptions(table, LOCAL_TABLE_NAME) >= 2
    statuses = assert_indexed(table, "a")
    assert list(statuses.values()).count("active") == 4

    status, body, _ = set_status("a", "1", "active")
    assert status == 200, body
    assert len(body["triggered_events"]) == 3
    assert run_pending(table, LOCAL_TABLE_NAME) == {}  # recorded as finished: nothing to do again


def _body(target: str) -> Json:
    return {
        "trigger_event": "training_complete",
        "target_model_id": target,
        "target_action": "inference",
        "input_source": "stored",
        "input": {"n": 5},
    }


def test_the_migration_never_indexes_a_subscription_as_it_was_before_a_change(table: Any, monkeypatch):
    """A subscription paused between the migration's read and its write: the write's condition
    fails, the migration reads it again, and the index holds what is stored."""
    create_model("a")
    subscribe("a", "b", stored_input={})
    _legacy(table, "a")
    store = subscription_store()
    real = table.transact_write_items
    changed: list[str] = []

    def pause_first(**request: Any) -> Any:
        if not changed:
            current = store.list_of_source("a")[0]
            changed.append(current.id)
            paused = current.model_copy(update={"status": "paused", "entity_version": current.entity_version + 1})
            store.save(paused, current.entity_version)
        return real(**request)

    monkeypatch.setattr(table, "transact_write_items", pause_first)
    index_active_subscriptions(table, LOCAL_TABLE_NAME)
    monkeypatch.undo()

    assert changed and assert_indexed(table, "a") == {changed[0]: "paused"}


def test_a_model_deleted_during_the_migration_is_left_with_nothing(table: Any, monkeypatch):
    create_model("a")
    _legacy(table, "a")
    real = table.query
    deleted: list[bool] = []

    def deleted_meanwhile(**request: Any) -> Any:
        answer = real(**request)
        prefix = request.get("ExpressionAttributeValues", {}).get(":prefix", {}).get("S")
        if prefix == keys.subscription_prefix() and not deleted:
            deleted.append(True)
            assert call("delete_model", model_id="a")[0] == 204
        return answer

    monkeypatch.setattr(table, "query", deleted_meanwhile)
    index_active_subscriptions(table, LOCAL_TABLE_NAME)
    monkeypatch.undo()

    assert deleted and partition(table, "a") == []


@pytest.mark.parametrize("existing", [0, 3])
def test_pie_local_migrates_a_data_directory_an_older_pie_wrote(tmp_path: Any, existing: int):
    from pie_local.server import local_backend

    data = tmp_path / "data"
    with local_backend(data_dir=data) as client:
        create_model("b")
        create_model("a")
        for n in range(existing):
            subscribe("a", "b", stored_input={"n": n})
        _legacy(client, "a")
        client.delete_item(
            TableName=LOCAL_TABLE_NAME, Key={k: {"S": v} for k, v in keys.migration_key(FIRING_INDEX).items()}
        )
    with local_backend(data_dir=data) as client:
        statuses = assert_indexed(client, "a")
        assert list(statuses.values()) == ["active"] * existing


def test_the_migrate_command_migrates_once_then_says_it_is_done(table: Any, capsys: pytest.CaptureFixture[str]):
    from tools import migrate

    create_model("a")
    subscribe("a", "b", stored_input={})
    _legacy(table, "a")
    table.delete_item(
        TableName=LOCAL_TABLE_NAME, Key={k: {"S": v} for k, v in keys.migration_key(FIRING_INDEX).items()}
    )

    first = migrate.main(["--table", LOCAL_TABLE_NAME, "--region", "us-east-1"])
    first_out = capsys.readouterr().out
    second = migrate.main(["--table", LOCAL_TABLE_NAME, "--region", "us-east-1"])
    second_out = capsys.readouterr().out
    missing = migrate.main(["--table", "no-such-table", "--region", "us-east-1"])
    refused = capsys.readouterr()

    assert (first, first_out) == (0, "firing-index: migrated 1 models\n")
    assert assert_indexed(table, "a") != {}
    assert (second, second_out) == (0, "firing-index: already done\n")
    assert missing == 1 and "migrate:" in refused.err and "no-such-table" in refused.err


def test_a_data_directory_the_previous_release_wrote_is_migrated_and_fires_the_same(tmp_path: Any):
    """``data/data-dir-before-the-firing-index`` was written by the release before the index
    (commit db6157c) through its route functions: models ``upstream`` (version 1 in training) and
    ``downstream`` (active), and three subscriptions of ``upstream``: one active on
    training_complete (label "fires"), one paused, one on inference_complete."""
    from pie_local.server import local_backend

    data = tmp_path / "data"
    shutil.copytree(Path(__file__).parent / "data" / "data-dir-before-the-firing-index", data)
    with local_backend(data_dir=data) as client:
        statuses = assert_indexed(client, "upstream")
        labels = {s.label: s.id for s in subscription_store().list_of_source("upstream")}
        with items_read(dynamodb_client()) as read:
            status, body, _ = set_status("upstream", "1", "active")

    assert sorted(statuses.values()) == ["active", "active", "paused"]
    assert status == 200, body
    assert [event["subscription_id"] for event in body["triggered_events"]] == [labels["fires"]]
    assert read == [("Query", 1 + 1)]  # the marker and the one entry of training_complete

"""Alias events (SPEC part three, "Aliases"): a subscription with ``trigger_event: alias_set`` and
``alias: <name>`` fires when that alias of its source model moves to another version — exactly once
per move, never on a no-op, through the outbox in the move's own transaction (also when the
promotion policy moves the alias on activation), under the chain's depth and budget rules; a
redelivered stream record fires nothing twice. The dry run and the impact view know about them
and agree with the firing."""

from __future__ import annotations

import importlib
import threading
from collections import Counter
from typing import Any

import pytest

from shared.domain.triggers import alias_transition, job_id_for, root_of_transition
from shared.runtime import dynamodb_client, use_stand_in
from tests.conftest import invoke
from tests.integration.api_events import assert_error, call, create_model, create_version, event_for, with_claims
from tests.integration.job_helpers import (
    RecordingLambda,
    complete,
    dispatch,
    drain,
    start_training,
    started_job,
    table_stream,
)
from tests.integration.lifecycle_helpers import jobs_of, set_status, walk_to
from tests.integration.subscription_helpers import (
    create_subscription,
    create_subscription_call,
    dry_run,
    update_subscription,
)

SOURCE, TARGET = "a", "b"


@pytest.fixture
def lambda_client(table: Any) -> RecordingLambda:
    client = RecordingLambda()
    use_stand_in("lambda", client)
    return client


@pytest.fixture
def models(lambda_client: RecordingLambda) -> str:
    """Source ``a`` with versions 1 and 2 active; target ``b`` with an active version to run."""
    create_model(SOURCE)
    walk_to(SOURCE, "1", "active")
    create_version(SOURCE, "2")
    walk_to(SOURCE, "2", "active")
    create_model(TARGET)
    walk_to(TARGET, "1", "active")
    return SOURCE


def follow(alias: str = "champion", **changes: Any) -> dict[str, Any]:
    """A subscription of ``a``'s ``alias`` that runs ``b``'s inference on the move it receives."""
    body = {"trigger_event": "alias_set", "alias": alias, "input_source": "trigger_output", "input": None}
    return create_subscription(SOURCE, changes.pop("target", TARGET), **{**body, **changes})


def set_alias(name: str, version: str, model_id: str = SOURCE, **extra: Any):
    event = event_for("set_alias", body={"version": version, **extra}, model_id=model_id, alias=name)
    return invoke("set_alias", event)


def moved(name: str, version: str, model_id: str = SOURCE) -> dict[str, Any]:
    status, body, _ = set_alias(name, version, model_id)
    assert status == 200, body
    return body["alias"]


def target_jobs(model_id: str = TARGET) -> list[dict[str, Any]]:
    return [job for job in jobs_of(dynamodb_client(), model_id) if job["trigger"] is not None]


# Firing ---------------------------------------------------------------------------------------


def test_a_move_fires_each_subscription_of_that_alias_once_with_the_move_as_trigger_output(models: str):
    first, second = follow(), follow(label="second")
    other_alias = follow("canary")
    other_event = create_subscription(SOURCE, TARGET)  # training_complete

    alias = moved("champion", "1")

    jobs = {job["trigger"]["subscription_id"]: job for job in target_jobs()}
    assert set(jobs) == {first["id"], second["id"]}
    transition = alias_transition(SOURCE, "champion", alias["entity_version"])
    for subscription in (first, second):
        job = jobs[subscription["id"]]
        assert job["id"] == job_id_for(transition, subscription["id"])
        assert (job["action"], job["version"], job["status"]) == ("inference", "1", "queued")
        assert job["input"] == {"model_id": SOURCE, "alias": "champion", "version": "1", "previous_version": None}
        assert job["trigger"] == {
            "subscription_id": subscription["id"],
            "source_model_id": SOURCE,
            "source_version": "1",
            "source_job_id": None,
            "depth": 1,
            "root_job_id": root_of_transition(transition),  # a move by hand is a root of its own
        }
    assert other_alias["id"] not in jobs and other_event["id"] not in jobs

    moved("champion", "2")

    inputs = Counter((job["trigger"]["subscription_id"], job["input"]["previous_version"]) for job in target_jobs())
    assert inputs == Counter([(first["id"], None), (second["id"], None), (first["id"], "1"), (second["id"], "1")])


def test_a_no_op_move_and_a_delete_fire_nothing(models: str):
    follow()
    moved("champion", "1")
    assert len(target_jobs()) == 1

    status, body, _ = set_alias("champion", "1", reason="same version, new reason")
    assert status == 200 and body["alias"]["reason"] == "same version, new reason"
    moved("champion", "@champion")
    assert call("delete_alias", model_id=SOURCE, alias="champion")[0] == 204
    moved("canary", "2")  # another alias of the same model

    assert len(target_jobs()) == 1


def test_twenty_racing_moves_to_one_version_fire_once(models: str):
    importlib.import_module("aws_lambda_powertools")  # two threads importing a module at once can fail
    importlib.import_module("functions.set_alias.handler")
    subscription = follow()
    moved("champion", "1")
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def race() -> None:
        barrier.wait()
        statuses.append(set_alias("champion", "2")[0])

    threads = [threading.Thread(target=race) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # Each racer either moved it (the first) or found it there (a no-op), or lost every retry (409).
    assert 200 in statuses and set(statuses) <= {200, 409} and len(statuses) == 20
    moves = [job for job in target_jobs() if job["input"]["version"] == "2"]
    assert len(moves) == 1 and moves[0]["trigger"]["subscription_id"] == subscription["id"]


def test_paused_and_stale_subscriptions_do_not_fire(models: str):
    paused, stale = follow(), follow()
    update_subscription(SOURCE, paused["id"], status="paused")
    update_subscription(SOURCE, stale["id"], status="stale")

    moved("champion", "1")

    assert target_jobs() == []


def test_the_move_and_its_jobs_are_one_transaction(models: str, monkeypatch):
    follow()
    client = dynamodb_client()
    original = client.transact_write_items
    transactions: list[list[dict[str, Any]]] = []

    def recording(**kwargs: Any):
        transactions.append(kwargs["TransactItems"])
        return original(**kwargs)

    monkeypatch.setattr(client, "transact_write_items", recording)
    moved("champion", "1")

    (transaction,) = transactions
    keys = [
        (op.get("Put") or op.get("Update") or op.get("ConditionCheck"))["Item" if "Put" in op else "Key"]["SK"]["S"]
        for op in transaction
    ]
    assert "ALIAS#champion" in keys
    assert any(key.startswith("JOB#") for key in keys)


def test_a_move_whose_job_cannot_be_written_moves_nothing(models: str):
    """The job exists already (planted): the move's transaction is refused whole."""
    subscription = follow()
    from shared.data.entities import JOBS
    from shared.domain.entities import Job

    planted = Job.model_validate(
        {
            "id": job_id_for(alias_transition(SOURCE, "champion", 1), subscription["id"]),
            "model_id": TARGET,
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
    dynamodb_client().put_item(TableName="pie-local", Item=JOBS.encode(planted))

    assert_error(set_alias("champion", "1"), 409)

    assert_error(call("get_alias", model_id=SOURCE, alias="champion"), 404)


# The promotion policy ---------------------------------------------------------------------------


@pytest.fixture
def promoting(lambda_client: RecordingLambda) -> str:
    create_model(SOURCE, promotion={"alias": "champion"})
    create_model(TARGET)
    walk_to(TARGET, "1", "active")
    return SOURCE


def test_an_activation_that_moves_the_promoted_alias_fires_its_subscriptions_in_the_same_change(promoting: str):
    alias_subscription = follow()
    training_subscription = create_subscription(SOURCE, TARGET)  # training_complete, stored input
    walk_to(SOURCE, "1", "training")

    status, body, _ = set_status(SOURCE, "1", "active")

    assert status == 200, body
    events = {event["subscription_id"]: event for event in body["triggered_events"]}
    assert set(events) == {alias_subscription["id"], training_subscription["id"]}
    jobs = {job["id"]: job for job in target_jobs()}
    alias_job = jobs[events[alias_subscription["id"]]["job_id"]]
    assert alias_job["input"] == {"model_id": SOURCE, "alias": "champion", "version": "1", "previous_version": None}
    assert alias_job["id"] == job_id_for(alias_transition(SOURCE, "champion", 1), alias_subscription["id"])
    # One root: the status change's, at its depth.
    training_job = jobs[events[training_subscription["id"]]["job_id"]]
    assert alias_job["trigger"]["root_job_id"] == training_job["trigger"]["root_job_id"]
    assert alias_job["trigger"]["depth"] == training_job["trigger"]["depth"] == 1

    assert set_status(SOURCE, "1", "active")[1]["triggered_events"] == []  # a no-op moves and fires nothing
    assert len(target_jobs()) == 2


def test_a_succeeded_training_job_fires_the_promoted_alias_at_its_next_link(promoting: str):
    subscription = follow()
    job = started_job(start_training(SOURCE, {"data_path": "s3://x"}))

    status, body, _ = complete(SOURCE, job["id"], {"status": "succeeded", "output": {"model_path": "s3://m"}})

    assert status == 200, body
    (event,) = body["triggered_events"]
    assert event["subscription_id"] == subscription["id"]
    (fired,) = target_jobs()
    # The job is its chain's root: what its success fires is the first link, as its training_complete is.
    assert fired["trigger"]["depth"] == 1 and fired["trigger"]["root_job_id"] == job["id"]
    assert fired["trigger"]["source_job_id"] == job["id"]
    assert fired["input"]["version"] == job["version"]


def test_a_failed_training_job_moves_no_alias_and_fires_nothing(promoting: str):
    follow()
    job = started_job(start_training(SOURCE, {"data_path": "s3://x"}))

    status, body, _ = complete(SOURCE, job["id"], {"status": "failed", "error": "diverged"})

    assert status == 200, body
    assert_error(call("get_alias", model_id=SOURCE, alias="champion"), 404)
    assert target_jobs() == []


def test_alias_events_count_against_the_chains_depth_limit(promoting: str, monkeypatch):
    """``up`` trains ``a`` (promoting champion) at depth 1, the limit: when that training succeeds,
    the promoted alias moves and its subscriptions would be depth 2, which the limit stops."""
    from shared import runtime

    monkeypatch.setenv("PIE_MAX_CHAIN_DEPTH", "1")
    runtime.reset()
    create_model("up")
    create_subscription("up", SOURCE, target_action="training", input={"data_path": "s3://a"})
    follow()
    stream = table_stream()
    upstream = started_job(start_training("up", {"data_path": "s3://up"}))
    assert complete("up", upstream["id"], {"status": "succeeded", "output": {}})[0] == 200
    drain(stream)
    (triggered,) = target_jobs(SOURCE)

    _, body, _ = complete(SOURCE, triggered["id"], {"status": "succeeded", "output": {}})

    (event,) = body["triggered_events"]
    assert "depth 2 exceeds the limit of 1" in event["error"]
    assert target_jobs() == []
    assert call("get_alias", model_id=SOURCE, alias="champion")[1]["alias"]["version"] == triggered["version"]


# Redelivery ------------------------------------------------------------------------------------


def test_redelivered_stream_records_of_alias_moves_fire_nothing_twice(models: str, lambda_client: RecordingLambda):
    follow()
    follow(label="second")
    stream = table_stream()
    moved("champion", "1")
    moved("champion", "2")
    drain(stream)

    history = table_stream()
    records: list[dict[str, Any]] = []
    while batch := history.read():
        records += batch
    for _ in range(3):
        assert dispatch(records) == {"batchItemFailures": []}

    jobs = target_jobs()
    assert len(jobs) == 4  # two subscriptions, two moves
    assert Counter(lambda_client.invoked_job_ids()) == Counter({job["id"]: 1 for job in jobs})


# Subscriptions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"trigger_event": "alias_set"}, "alias is required"),
        ({"trigger_event": "alias_set", "alias": "latest"}, "'latest' is not an alias"),
        ({"trigger_event": "alias_set", "alias": "Not An Alias"}, "alias"),
        ({"trigger_event": "training_complete", "alias": "champion"}, "only for an alias event"),
    ],
)
def test_an_alias_subscription_names_its_alias_and_no_other_does(models: str, changes: dict, reason: str):
    assert reason in assert_error(create_subscription_call(SOURCE, TARGET, **changes), 400)


def test_an_alias_subscription_reads_back_with_its_alias(models: str):
    created = follow()
    assert (created["trigger_event"], created["alias"]) == ("alias_set", "champion")
    status, body, _ = call("get_subscription", model_id=SOURCE, subscription_id=created["id"])
    assert status == 200 and body["alias"] == "champion"
    training = create_subscription(SOURCE, TARGET)
    assert "alias" not in training


def test_a_target_contract_the_alias_move_cannot_satisfy_is_a_warning(models: str):
    from tests.integration.subscription_helpers import contracts, replace_model

    replace_model(TARGET, handler_contracts=contracts())
    created = follow()
    assert any("'features'" in warning for warning in created["warnings"])


def test_an_alias_subscription_across_workspaces_follows_the_subscription_rules(table: Any):
    from tests.integration.api_events import sample_body
    from tests.integration.subscription_helpers import subscription_body

    both = {"pie:workspaces": "[team-a team-b]"}
    for model_id, workspace in ((SOURCE, "team-a"), (TARGET, "team-b")):
        event = event_for("create_model", body={**sample_body("create_model"), "id": model_id, "workspace": workspace})
        assert invoke("create_model", with_claims(event, **both))[0] == 201
    body = {"trigger_event": "alias_set", "alias": "champion", "input_source": "trigger_output", "input": None}

    def create(claims: dict[str, str]):
        event = event_for("create_subscription", body=subscription_body(TARGET, **body), model_id=SOURCE)
        return invoke("create_subscription", with_claims(event, **claims))

    # A subscription fires into its target: the caller must be able to write both models.
    assert "model 'b' belongs to workspace 'team-b'" in assert_error(create({"pie:workspaces": "[team-a]"}), 403)
    assert "model 'a' belongs to workspace 'team-a'" in assert_error(create({"pie:workspaces": "[team-b]"}), 403)
    status, created, _ = create(both)
    assert status == 201 and created["workspace"] == "team-a" and created["alias"] == "champion"


# The dry run and the impact view -----------------------------------------------------------------

TARGET_STATES = ("active", "pending", "deleted", "paused", "training under another job")


def _arrange(state: str, action: str) -> dict[str, Any]:
    create_model(SOURCE)
    walk_to(SOURCE, "1", "active")
    create_model(TARGET)
    stored = {"training": {"data_path": "s3://b"}, "inference": {"features": [0.2]}}[action]
    subscription = follow(target_action=action, input_source="stored", input=stored)
    if state == "active":
        walk_to(TARGET, "1", "active")
    elif state == "deleted":
        assert call("delete_model", model_id=TARGET)[0] == 204
    elif state == "paused":
        update_subscription(SOURCE, subscription["id"], status="paused")
    elif state == "training under another job":
        started_job(start_training(TARGET, {"data_path": "s3://direct"}, version="1"))
    return subscription


@pytest.mark.parametrize("action", ["inference", "training"])
@pytest.mark.parametrize("state", TARGET_STATES)
def test_the_dry_run_says_what_the_move_then_does(lambda_client: RecordingLambda, state: str, action: str):
    subscription = _arrange(state, action)
    status, dry, _ = dry_run(SOURCE, subscription["id"])
    assert status == 200, dry
    versions_before = {v["version"] for v in call("list_versions", model_id=TARGET)[1].get("versions", [])}

    alias = moved("champion", "1")

    fired = [
        job
        for job in target_jobs()
        if job["id"] == job_id_for(alias_transition(SOURCE, "champion", alias["entity_version"]), subscription["id"])
    ]
    assert dry["would_fire"] == bool(fired), dry
    if fired:
        assert dry["job"]["version"] == fired[0]["version"]
        assert dry["job"]["cuts_version"] == (fired[0]["version"] not in versions_before)
        assert dry["job"]["input"] == fired[0]["input"]


def test_the_dry_run_imagines_the_alias_moving_from_where_it_points(models: str):
    subscription = follow()
    moved("champion", "1")

    status, dry, _ = dry_run(SOURCE, subscription["id"])

    assert status == 200 and dry["would_fire"], dry
    assert dry["job"]["input"] == {"model_id": SOURCE, "alias": "champion", "version": "2", "previous_version": "1"}


def _impact(model_id: str, **query: str):
    return call("get_model_impact", model_id=model_id, query=query)


def test_the_impact_of_an_alias_move_shows_its_subscriptions(models: str):
    fires = follow()
    follow("canary")

    status, body, _ = _impact(SOURCE, event="alias_set", alias="champion")

    assert status == 200, body
    impact = body["impact"]
    assert (impact["event"], impact["alias"], impact["total_jobs"]) == ("alias_set", "champion", 1)
    assert [node["subscription_id"] for node in impact["children"]] == [fires["id"]]
    assert impact["children"][0]["would_fire"] is True


@pytest.mark.parametrize(
    ("query", "reason"),
    [({"event": "alias_set"}, "needs the alias"), ({"event": "training_complete", "alias": "champion"}, "omit alias")],
)
def test_the_impact_of_an_alias_event_names_the_alias_and_no_other_does(models: str, query: dict, reason: str):
    assert reason in assert_error(_impact(SOURCE, **query), 400)


def test_a_training_the_tree_queues_on_a_promoting_model_shows_its_alias_subscriptions(lambda_client):
    """a --training_complete--> b (training); b promotes champion; b --alias_set champion--> c."""
    create_model("a")
    create_model("b", promotion={"alias": "champion"})
    create_model("c")
    walk_to("c", "1", "active")
    trains_b = create_subscription("a", "b", target_action="training", input={"data_path": "s3://b"})
    on_champion = create_subscription(
        "b", "c", trigger_event="alias_set", alias="champion", input_source="trigger_output", input=None
    )

    _, body, _ = _impact("a", event="training_complete")

    (node,) = body["impact"]["children"]
    assert node["subscription_id"] == trains_b["id"] and node["would_fire"]
    assert [child["subscription_id"] for child in node["children"]] == [on_champion["id"]]
    assert node["children"][0]["would_fire"] and body["impact"]["total_jobs"] == 2

    # The real chain does the same: a's training succeeds, b's triggered training succeeds, c runs.
    stream = table_stream()
    job = started_job(start_training("a", {"data_path": "s3://a"}))
    assert complete("a", job["id"], {"status": "succeeded", "output": {}})[0] == 200
    drain(stream)
    (b_job,) = target_jobs("b")
    assert complete("b", b_job["id"], {"status": "succeeded", "output": {}})[0] == 200
    (c_job,) = target_jobs("c")
    assert c_job["trigger"]["subscription_id"] == on_champion["id"]
    assert c_job["trigger"]["depth"] == 2 and c_job["trigger"]["root_job_id"] == job["id"]


def test_a_move_that_retrains_its_own_model_cuts_the_next_version_in_the_same_change(models: str):
    subscription = follow(target=SOURCE, target_action="training", input_source="stored", input={"data_path": "s3"})

    moved("champion", "2")

    (job,) = target_jobs(SOURCE)
    assert job["trigger"]["subscription_id"] == subscription["id"]
    assert job["version"] == "3"  # 2 is active: the next version is cut for it, in the move's transaction
    status, body, _ = call("get_version", model_id=SOURCE, model_version="3")
    assert status == 200 and body["version"]["status"] == "training"
    assert call("get_model", model_id=SOURCE)[1]["model"]["latest_version"] == "3"

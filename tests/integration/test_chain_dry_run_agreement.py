"""The subscription dry run and the real firing agree (SPEC part three, "Continuous chains").

For every state a subscription's target can be in, the test sets that state, asks the dry run
(``POST .../event-subscriptions/{id}/test``) what the subscription would do, then makes the event
happen — a version of the source set ``training → active`` by hand, or a training job of the
source completed by its handler — and compares: fired or not, the error, the version the job acts
on, and whether that version was cut for it. A job that fired is then dispatched: it starts, it is
never failed because of its target's state.

The dry run imagines the event as a root's first link (no chain above it, the whole job budget
left). The depth limit and the job budget stop only deeper links, so for those the tests show the
dry run agreeing with a first link, and the real deeper firing reporting the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from shared import runtime
from shared.runtime import use_stand_in
from tests.integration.api_events import call, create_model, create_version
from tests.integration.job_helpers import (
    RecordingLambda,
    complete,
    drain,
    get_job,
    start_training,
    started_job,
    table_stream,
)
from tests.integration.lifecycle_helpers import jobs_of, set_status, subscribe, walk_to
from tests.integration.subscription_helpers import create_subscription, dry_run, update_subscription

STORED_INPUT = {"training": {"data_path": "s3://b"}, "inference": {"features": [0.2, 0.4]}}
TARGET_STATES = (
    "pending",
    "training under another job",
    "active",
    "failed",
    "deleted",
    "deleted, its subscription not yet stale",
    "stale subscription",
    "paused",
)


@dataclass(frozen=True)
class Decision:
    """What a subscription did, or would do: fire a job on ``version`` (cut for it or not), or not
    fire, for ``error`` (None when the subscription is not even reported)."""

    fires: bool
    error: str | None = None
    version: str | None = None
    cuts_version: bool | None = None


@pytest.fixture
def lambda_client(table: Any) -> RecordingLambda:
    client = RecordingLambda()
    use_stand_in("lambda", client)
    return client


def _versions(model_id: str) -> set[str]:
    status, body, _ = call("list_versions", model_id=model_id)
    if status == 404:
        return set()
    assert status == 200, body
    return {version["version"] for version in body["versions"]}


def _delete_model(model_id: str) -> None:
    status, body, _ = call("delete_model", model_id=model_id)
    assert status == 204, body


def _arrange(state: str, action: str) -> str:
    """Source ``a`` (version 1 pending), target ``b`` in ``state``, and ``a → b`` on
    training_complete running ``action``; returns the subscription's id."""
    create_model("a")
    create_model("b")
    stored = STORED_INPUT[action]
    if state == "deleted, its subscription not yet stale":
        # The moment between the target's delete and its subscriptions being marked stale.
        _delete_model("b")
        return subscribe("a", "b", action=action, stored_input=stored).id
    subscription = create_subscription("a", "b", target_action=action, input=stored)["id"]
    if state == "training under another job":
        started_job(start_training("b", {"data_path": "s3://direct"}, version="1"))
    elif state in ("active", "failed"):
        walk_to("b", "1", state)
    elif state == "deleted":
        _delete_model("b")
    elif state == "stale subscription":
        update_subscription("a", subscription, status="stale")
    elif state == "paused":
        update_subscription("a", subscription, status="paused")
    return subscription


def _dry_decision(source: str, subscription_id: str) -> Decision:
    status, result, _ = dry_run(source, subscription_id)
    assert status == 200, result
    if not result["would_fire"]:
        return Decision(False, result["error"])
    return Decision(True, None, result["job"]["version"], result["job"]["cuts_version"])


def _fire_by_transition(source: str, version: str = "1") -> list[dict[str, Any]]:
    """A version of the source set ``training → active`` by hand (a root of its own)."""
    walk_to(source, version, "training")
    status, body, _ = set_status(source, version, "active")
    assert status == 200, body
    return body["triggered_events"]


def _fire_by_job(source: str) -> list[dict[str, Any]]:
    """A training of the source, dispatched to its handler, which completes it."""
    job = started_job(start_training(source, {"data_path": "s3://a"}))
    drain(table_stream())
    status, body, _ = complete(source, job["id"], {"status": "succeeded", "output": {"model_path": source}})
    assert status == 200, body
    return body["triggered_events"]


def _real_decision(events: list[dict[str, Any]], subscription_id: str, target: str, before: set[str]) -> Decision:
    mine = [event for event in events if event["subscription_id"] == subscription_id]
    if not mine:
        return Decision(False)
    (event,) = mine
    if "job_id" not in event:
        return Decision(False, event["error"])
    job = get_job(target, event["job_id"])
    return Decision(True, None, job["version"], job["version"] not in before)


def _assert_agree(dry: Decision, real: Decision) -> None:
    if real.fires or real.error is not None:
        assert real == dry
    else:  # a subscription that is not active is not reported by the firing: the dry run says why
        assert not dry.fires and dry.error is not None, dry


def _assert_started(target: str, job_id: str, action: str) -> None:
    """The fired job is dispatched, not failed, and a training holds its version."""
    drain(table_stream())
    job = get_job(target, job_id)
    assert job["status"] == "dispatched", job
    if action == "training":
        status, body, _ = call("get_version", model_id=target, model_version=job["version"])
        assert status == 200, body
        version = body["version"]
        assert (version["status"], version["training_job_id"]) == ("training", job_id), version
        assert version["lineage"] == {"job_id": job_id, "trigger": job["trigger"]}


def _check_agreement(state: str, action: str, fire: Any) -> tuple[Decision, Decision]:
    subscription = _arrange(state, action)
    dry = _dry_decision("a", subscription)
    before = _versions("b")
    jobs_before = {job["id"] for job in jobs_of(runtime.dynamodb_client(), "b")}

    events = fire("a")

    real = _real_decision(events, subscription, "b", before)
    _assert_agree(dry, real)
    fired = [job for job in jobs_of(runtime.dynamodb_client(), "b") if job["id"] not in jobs_before]
    assert len(fired) == (1 if real.fires else 0), fired
    if real.fires:
        _assert_started("b", fired[0]["id"], action)
    return dry, real


NOT_ACTIVE = {
    "deleted": Decision(False, "the subscription is stale: it does not fire"),
    "deleted, its subscription not yet stale": Decision(False, "target model 'b' no longer exists"),
    "stale subscription": Decision(False, "the subscription is stale: it does not fire"),
    "paused": Decision(False, "the subscription is paused: it does not fire"),
}
NO_ACTIVE_VERSION = Decision(False, "model 'b' has no active version to run inference on")
# What the dry run says in each state: a training takes the newest version when it can be trained
# now, else cuts the next; an inference still needs an active version.
EXPECTED = {
    "training": {
        "pending": Decision(True, None, "1", False),
        "training under another job": Decision(True, None, "2", True),
        "active": Decision(True, None, "2", True),
        "failed": Decision(True, None, "1", False),
        **NOT_ACTIVE,
    },
    "inference": {
        "pending": NO_ACTIVE_VERSION,
        "training under another job": NO_ACTIVE_VERSION,
        "active": Decision(True, None, "1", False),
        "failed": NO_ACTIVE_VERSION,
        **NOT_ACTIVE,
    },
}


@pytest.mark.parametrize("state", TARGET_STATES)
def test_a_training_subscription_fired_by_a_transition_does_what_its_dry_run_said(lambda_client, state):
    dry, _ = _check_agreement(state, "training", _fire_by_transition)

    assert dry == EXPECTED["training"][state]


@pytest.mark.parametrize("state", TARGET_STATES)
def test_a_training_subscription_fired_by_a_completed_job_does_what_its_dry_run_said(lambda_client, state):
    dry, _ = _check_agreement(state, "training", _fire_by_job)

    assert dry == EXPECTED["training"][state]


@pytest.mark.parametrize("state", TARGET_STATES)
def test_an_inference_subscription_does_what_its_dry_run_said(lambda_client, state):
    dry, _ = _check_agreement(state, "inference", _fire_by_transition)

    assert dry == EXPECTED["inference"][state]


# Depth and budget: only a deeper link is stopped ---------------------------------------------------


def _chain_a_b_c() -> tuple[str, str]:
    for model_id in ("a", "b", "c"):
        create_model(model_id)
    a_to_b = create_subscription("a", "b", target_action="training", input=STORED_INPUT["training"])["id"]
    b_to_c = create_subscription("b", "c", target_action="training", input=STORED_INPUT["training"])["id"]
    return a_to_b, b_to_c


def _second_link(a_to_b: str) -> list[dict[str, Any]]:
    """A's training job (a root) fires B's training; B's job completes: what that fires."""
    (event,) = _fire_by_job("a")
    assert event["subscription_id"] == a_to_b and "job_id" in event, event
    drain(table_stream())
    status, body, _ = complete("b", event["job_id"], {"status": "succeeded", "output": {"model_path": "b"}})
    assert status == 200, body
    return body["triggered_events"]


@pytest.mark.parametrize(
    ("setting", "error"),
    [
        ("PIE_MAX_CHAIN_DEPTH", "chain depth 2 exceeds the limit of 1: not fired"),
        ("PIE_CHAIN_JOB_BUDGET", "the chain's job budget of 1 jobs (root job '{root}') is spent: not fired"),
    ],
)
def test_a_link_past_the_depth_limit_or_the_budget_is_reported_and_the_dry_run_answers_for_a_first_link(
    lambda_client, monkeypatch: pytest.MonkeyPatch, setting: str, error: str
):
    monkeypatch.setenv(setting, "1")
    runtime.reset()
    a_to_b, b_to_c = _chain_a_b_c()
    first_link = _dry_decision("b", b_to_c)
    assert first_link == Decision(True, None, "1", False)

    events = _second_link(a_to_b)

    (root,) = [job["id"] for job in jobs_of(runtime.dynamodb_client(), "a")]
    assert events == [{"subscription_id": b_to_c, "error": error.format(root=root)}]
    assert jobs_of(runtime.dynamodb_client(), "c") == []
    # The dry run's answer is the first link's: B's version set active by hand (a new root) fires
    # C's training exactly as it said.
    create_version("b", "2")
    before = _versions("c")
    events = _fire_by_transition("b", "2")
    real = _real_decision(events, b_to_c, "c", before)
    assert real == first_link
    _assert_started("c", events[0]["job_id"], "training")

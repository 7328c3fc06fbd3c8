"""The pure firing decision (``firing_of``) and the plan built from it (``plan_firing``), and the dry
run answering with that same decision: what fires, with what job, or with what message it does not."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.domain.access import Access
from shared.domain.entities import Job, Model, Subscription, Version
from shared.domain.errors import ModelNotFoundError
from shared.domain.records import ModelRecord
from shared.domain.supervision import DEFAULT_BACKOFF_SECONDS, DEFAULT_SUBSCRIPTION_ATTEMPTS
from shared.domain.triggers import (
    ChainLimits,
    TargetState,
    TriggerSource,
    firing_of,
    job_id_for,
    plan_firing,
    training_slot,
)
from shared.services.subscriptions import SubscriptionService

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SUBSCRIPTION_ID = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
OTHER_ID = "2c5f39cb-3fb2-22e3-994f-1127d4ddb538"
INFER = {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:infer"}
TRAIN = {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:train"}
OUTPUT = {"model_id": "a", "version": "1", "metadata": {"auc": 0.9}}
ADMIN = Access("admin", frozenset(), admin=True)


def model(model_id: str = "b", active: str | None = "1", latest: str | None = "2") -> Model:
    return Model.model_validate(
        {
            "id": model_id,
            "name": model_id,
            "description": "",
            "handlers": {"inference": INFER, "training": TRAIN},
            "handler_contracts": None,
            "metadata": {},
            "status": "active" if active else "pending",
            "latest_version": latest,
            "active_version": active,
            "entity_version": 1,
            "created_at": NOW,
            "updated_at": NOW,
            "created_by": "tester",
        }
    )


def subscription(**changes: Any) -> Subscription:
    base = {
        "id": SUBSCRIPTION_ID,
        "source_model_id": "a",
        "trigger_event": "training_complete",
        "target_model_id": "b",
        "target_action": "inference",
        "input_source": "stored",
        "input": {"features": [1]},
        "status": "active",
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Subscription.model_validate({**base, **changes})


def source(**changes: Any) -> TriggerSource:
    base = {"model_id": "a", "event": "training_complete", "transition": "a/1@3", "output": OUTPUT, "version": "1"}
    return TriggerSource(**{**base, **changes})


def state(target: Model | None = None, latest_status: str = "pending") -> TargetState:
    """A target whose newest version (``latest_version``) is ``latest_status``; a cut takes "3"."""
    return TargetState(target or model(), latest_status, next_number=3)


def fire(
    sub: Subscription,
    target: Model | None = None,
    max_depth: int = 8,
    latest_status: str = "pending",
    budget_left: int | None = None,
    **source_changes: Any,
) -> Job | str:
    target_state = state(target, latest_status) if target is not None else None
    fired = firing_of(source(**source_changes), sub, target_state, NOW, ChainLimits(max_depth=max_depth), budget_left)
    return fired if isinstance(fired, str) else fired.job


# What fires --------------------------------------------------------------------------------------------


def test_a_stored_inference_subscription_runs_the_targets_active_version_on_its_input():
    job = fire(subscription(), model())
    assert isinstance(job, Job)
    assert (job.model_id, job.version, job.action, job.status) == ("b", "1", "inference", "queued")
    assert job.input == {"features": [1]}
    assert job.handler.model_dump(exclude_none=True) == INFER
    assert job.id == job_id_for("a/1@3", SUBSCRIPTION_ID)
    assert job.trigger is not None
    assert job.trigger.model_dump() == {
        "subscription_id": SUBSCRIPTION_ID,
        "source_model_id": "a",
        "source_version": "1",
        "source_job_id": None,
        "depth": 1,
        "root_job_id": None,
    }
    assert (job.max_attempts, job.backoff_seconds) == (DEFAULT_SUBSCRIPTION_ATTEMPTS, DEFAULT_BACKOFF_SECONDS)


def test_a_training_subscription_trains_the_targets_newest_version():
    job = fire(subscription(target_action="training"), model(active=None, latest="2"))
    assert isinstance(job, Job)
    assert (job.version, job.action, job.handler.model_dump(exclude_none=True)) == ("2", "training", TRAIN)


def test_a_trigger_output_subscription_receives_the_sources_output():
    job = fire(subscription(input_source="trigger_output", input=None), model())
    assert isinstance(job, Job) and job.input == OUTPUT


def test_an_empty_source_output_is_an_empty_input():
    job = fire(subscription(input_source="trigger_output", input=None), model(), output={})
    assert isinstance(job, Job) and job.input == {}


def test_the_subscriptions_retry_policy_is_the_jobs():
    job = fire(subscription(retry={"max_attempts": 5, "backoff_seconds": 7}), model())
    assert isinstance(job, Job) and (job.max_attempts, job.backoff_seconds) == (5, 7)


def test_the_chain_depth_and_source_job_are_carried():
    job = fire(subscription(), model(), depth=8, job_id=OTHER_ID)
    assert isinstance(job, Job) and job.trigger is not None
    assert (job.trigger.depth, job.trigger.source_job_id) == (8, OTHER_ID)


# Why it does not ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["paused", "stale"])
def test_a_subscription_that_is_not_active_does_not_fire(status: str):
    assert fire(subscription(status=status), model()) == f"the subscription is {status}: it does not fire"


def test_a_gone_target_does_not_fire():
    assert fire(subscription(), None) == "target model 'b' no longer exists"


def test_a_chain_deeper_than_the_limit_does_not_fire():
    assert fire(subscription(), model(), max_depth=3, depth=4) == "chain depth 4 exceeds the limit of 3: not fired"


def test_an_inference_of_a_target_without_an_active_version_does_not_fire():
    assert fire(subscription(), model(active=None)) == "model 'b' has no active version to run inference on"


# The plan ----------------------------------------------------------------------------------------------


def test_the_plan_queues_each_firing_and_reports_each_refusal_of_the_events_active_subscriptions():
    fires = subscription()
    refused = subscription(id=OTHER_ID, target_model_id="gone")
    paused = subscription(id="3d6a4adc-4ac3-43f4-aa50-2238e5eec649", status="paused")
    other_event = subscription(id="4e7b5bed-5bd4-44a5-bb61-3349f6ffd75a", trigger_event="inference_complete")

    plan = plan_firing(source(), [fires, refused, paused, other_event], {"b": state()}, NOW)

    assert [job.id for job in plan.jobs] == [job_id_for("a/1@3", SUBSCRIPTION_ID)]
    assert [event.model_dump(exclude_none=True) for event in plan.events] == [
        {"subscription_id": SUBSCRIPTION_ID, "job_id": plan.jobs[0].id},
        {"subscription_id": OTHER_ID, "error": "target model 'gone' no longer exists"},
    ]
    assert plan.jobs[0] == fire(fires, model())


def test_planning_the_same_transition_again_plans_the_same_job():
    first = plan_firing(source(), [subscription()], {"b": state()}, NOW)
    again = plan_firing(source(), [subscription()], {"b": state()}, NOW)
    assert first == again
    assert plan_firing(source(transition="a/1@5"), [subscription()], {"b": state()}, NOW).jobs[0].id != first.jobs[0].id


# The dry run decides as the firing does ------------------------------------------------------------------


class _Models:
    """Models whose newest versions are pending (as ``fire`` assumes), numbered up to 2."""

    def __init__(self, *models: Model) -> None:
        self._models = {m.id: m for m in models}

    def get_models(self, model_ids: set[str]) -> dict[str, Model]:
        return {i: self._models[i] for i in model_ids if i in self._models}

    def get_model_records(self, model_ids: set[str]) -> dict[str, ModelRecord]:
        return {i: ModelRecord(self._models[i], 2, 2) for i in model_ids if i in self._models}

    def get_versions(self, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], Version]:
        return {pair: _pending(*pair) for pair in wanted if pair[0] in self._models}

    def get_model(self, model_id: str) -> Any:
        raise ModelNotFoundError(model_id)


def _pending(model_id: str, version: str) -> Version:
    return Version.model_validate(
        {
            "model_id": model_id,
            "version": version,
            "description": "",
            "metadata": {},
            "status": "pending",
            "status_message": None,
            "status_history": [],
            "handlers": {"inference": INFER, "training": TRAIN},
            "handler_contracts": None,
            "entity_version": 1,
            "created_at": NOW,
            "updated_at": NOW,
            "created_by": "tester",
        }
    )


class _Subscriptions:
    def __init__(self, sub: Subscription) -> None:
        self._sub = sub

    def get(self, source_model_id: str, subscription_id: str) -> Subscription:
        return self._sub

    def list_of_source(self, source_model_id: str) -> list[Subscription]:
        return [self._sub]

    def active_of_source(self, source_model_id: str, event: str) -> list[Subscription]:
        return [s for s in [self._sub] if s.status == "active" and s.trigger_event == event]


class _Budgets:
    def used(self, root_job_id: str) -> int:
        return 0


def dry_run(sub: Subscription, *models: Model, trigger_output: dict[str, Any] | None = None) -> Any:
    service = SubscriptionService(_Models(model("a"), *models), _Subscriptions(sub), lambda: NOW, _Budgets())
    return service.dry_run("a", sub.id, trigger_output, ADMIN)


@pytest.mark.parametrize(
    ("sub", "target"),
    [
        (subscription(status="paused"), model()),
        (subscription(status="stale"), model()),
        (subscription(target_model_id="gone"), None),
        (subscription(), model(active=None)),
    ],
)
def test_the_dry_run_refuses_with_the_firings_message(sub: Subscription, target: Model | None):
    result = dry_run(sub, *([target] if target else []))
    assert (result.would_fire, result.job) == (False, None)
    assert result.error == fire(sub, target, depth=1)


@pytest.mark.parametrize(
    "sub",
    [subscription(), subscription(target_action="training"), subscription(input_source="trigger_output", input=None)],
)
def test_the_dry_run_shows_the_job_the_firing_would_queue(sub: Subscription):
    result = dry_run(sub, model(), trigger_output=OUTPUT)
    job = fire(sub, model(), depth=1)
    assert isinstance(job, Job) and result.would_fire and result.error is None
    assert result.job.model_dump(exclude={"cuts_version"}) == job.model_dump(
        include={"model_id", "version", "action", "input", "handler"}
    )
    assert result.job.cuts_version is False


def test_the_dry_run_without_an_output_sends_what_a_transition_of_the_sources_newest_version_would():
    result = dry_run(subscription(input_source="trigger_output", input=None), model())
    assert result.job.input == {"model_id": "a", "version": "2", "metadata": {}}


# Continuous chains: a training acts on the newest version, or cuts the next ---------------------------


@pytest.mark.parametrize(("status", "version", "cuts"), [("pending", "2", False), ("failed", "2", False)])
def test_a_training_acts_on_the_newest_version_when_it_can_train_now(status: str, version: str, cuts: bool):
    assert training_slot(state(model(), status)) == training_slot(state(model(), status)).__class__(version, cuts)


@pytest.mark.parametrize("status", ["active", "training"])
def test_a_training_of_a_busy_or_trained_newest_version_cuts_the_next(status: str):
    slot = training_slot(state(model(latest="2"), status))
    assert not isinstance(slot, str) and (slot.version, slot.cuts) == ("3", True)
    job = fire(subscription(target_action="training"), model(latest="2"), latest_status=status)
    assert isinstance(job, Job) and job.version == "3"


def test_no_target_state_refuses_a_training_at_firing_time_but_a_missing_model():
    for status in ("pending", "training", "active", "failed", None):
        job = fire(subscription(target_action="training"), model(active=None), latest_status=status)
        assert isinstance(job, Job), status


def test_two_trainings_of_one_target_in_one_plan_act_on_two_versions():
    first = subscription(target_action="training")
    second = subscription(id=OTHER_ID, target_action="training")
    plan = plan_firing(source(), [first, second], {"b": state(model(latest="2"), "pending")}, NOW)
    assert [job.version for job in plan.jobs] == ["2", "3"]
    assert [(slot.version, slot.cuts) for slot in plan.slots.values()] == [("2", False), ("3", True)]


def test_a_spent_budget_stops_a_firing_and_names_the_budget():
    assert "job budget of 64" in fire(subscription(), model(), budget_left=0, root_job_id=OTHER_ID)
    subs = [subscription(id=str(uuid.UUID(int=i))) for i in range(5)]
    plan = plan_firing(source(root_job_id=OTHER_ID), subs, {"b": state()}, NOW, ChainLimits(), budget_left=3)
    assert len(plan.jobs) == 3
    assert [bool(event.error) for event in plan.events] == [False, False, False, True, True]
    assert OTHER_ID in plan.events[-1].error


def test_at_most_a_hundred_subscriptions_of_one_event_fire():
    subs = [subscription(id=str(uuid.UUID(int=i))) for i in range(103)]
    plan = plan_firing(source(), subs, {"b": state()}, NOW, ChainLimits(job_budget=1000))
    assert len(plan.jobs) == 100
    assert all("first 100" in event.error for event in plan.events[100:])

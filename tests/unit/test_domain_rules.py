"""The pure rules under the services, without stores: which status may follow which, what a
transition does to its version and model, and which jobs an event fires."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.domain.entities import RetryPolicy, StatusChange, Version
from shared.domain.errors import IllegalTransitionError
from shared.domain.lifecycle import NEXT_STATUSES, STATUS_HISTORY_LIMIT, bounded_history, check_transition
from shared.domain.records import ModelRecord
from shared.domain.triggers import ChainLimits, TargetState, TriggerSource, job_id_for, plan_firing
from shared.domain.versions import model_after, moved_version
from tests.unit import builders
from tests.unit.builders import T0

LATER = T0 + timedelta(minutes=5)
STATUSES = ("pending", "training", "active", "failed")

# The lifecycle ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "requested"),
    [(c, r) for c in STATUSES for r in STATUSES if c != r],
)
def test_every_pair_of_statuses_is_either_a_move_or_refused_naming_the_allowed(current: str, requested: str):
    legal = {
        ("pending", "training"),
        ("pending", "failed"),
        ("training", "active"),
        ("training", "failed"),
        ("training", "pending"),
        ("failed", "pending"),
        ("failed", "training"),
        ("active", "failed"),
    }
    if (current, requested) in legal:
        assert check_transition(current, requested) is True
    else:
        with pytest.raises(IllegalTransitionError) as refused:
            check_transition(current, requested)
        assert ", ".join(NEXT_STATUSES[current]) in refused.value.message


@pytest.mark.parametrize("status", STATUSES)
def test_setting_the_same_status_is_the_no_op(status: str):
    assert check_transition(status, status) is False


# A version's move, and the model after it ---------------------------------------------------------


def test_a_moved_version_appends_history_and_binds_only_when_told():
    before = builders.version(training_job_id=None)
    moved = moved_version(before, "training", "why", "bob", LATER, training_job_id="job")
    assert (moved.status, moved.status_message, moved.training_job_id) == ("training", "why", "job")
    assert (moved.entity_version, moved.updated_at) == (2, LATER)
    assert [(c.status, c.by, c.at) for c in moved.status_history] == [
        ("pending", "tester", T0),
        ("training", "bob", LATER),
    ]
    assert before.status == "pending"  # the input is not changed
    assert moved_version(moved, "failed", None, "bob", LATER).training_job_id is None  # any other move unbinds


def changes(count: int, message: str = "m" * 1000) -> list[StatusChange]:
    return [
        StatusChange(status="failed" if i % 2 else "pending", status_message=message, at=T0, by="bob")
        for i in range(count)
    ]


def size(version: Version) -> int:
    return len(version.model_dump_json().encode())


def test_a_history_keeps_its_newest_changes_and_counts_the_ones_it_dropped():
    history = changes(STATUS_HISTORY_LIMIT + 7)
    bounded = bounded_history(builders.version(status_history=history, status_history_dropped=3), 10**9)
    assert bounded.status_history == history[7:]
    assert bounded.status_history_dropped == 3 + 7


def test_a_history_within_its_limits_is_kept_whole_and_not_marked():
    history = changes(STATUS_HISTORY_LIMIT)
    version = builders.version(status_history=history)
    assert bounded_history(version, size(version)) == version
    assert "status_history_dropped" not in version.model_dump()


def test_a_version_with_large_metadata_keeps_only_the_newest_changes_that_fit_and_always_the_newest():
    version = builders.version(metadata={"blob": "x" * 20_000}, status_history=changes(10))
    room = size(version) - 3_500  # about three changes less than it holds
    bounded = bounded_history(version, room)
    assert size(bounded) <= room
    assert bounded.status_history == version.status_history[-len(bounded.status_history) :]
    assert bounded.status_history_dropped == 10 - len(bounded.status_history) >= 3
    assert bounded.metadata == version.metadata
    # Nothing left to drop: the newest change stays, over the limit or not (the store refuses it).
    assert bounded_history(version, 100).status_history == version.status_history[-1:]


def record(active: str | None, order: tuple[str, ...]) -> ModelRecord:
    status = "active" if active else "pending"
    return ModelRecord(
        builders.model(status=status, active_version=active, entity_version=4), 3, 3, activation_order=order
    )


def test_activating_a_version_makes_it_the_active_one_and_remembers_the_order():
    before = builders.version(number="2", status="training")
    after = model_after(record("1", ("1",)), before, before.model_copy(update={"status": "active"}), LATER)
    assert after is not None
    assert (after.model.status, after.model.active_version, after.activation_order) == ("active", "2", ("1", "2"))
    assert (after.model.entity_version, after.model.updated_at) == (5, LATER)


def test_withdrawing_the_active_version_falls_back_to_the_newest_still_active():
    before = builders.version(number="3", status="active")
    failed = before.model_copy(update={"status": "failed"})
    after = model_after(record("3", ("1", "2", "3")), before, failed, LATER)
    assert after is not None and (after.model.active_version, after.activation_order) == ("2", ("1", "2"))


def test_withdrawing_an_older_active_version_keeps_the_active_one():
    before = builders.version(number="1", status="active")
    after = model_after(record("2", ("1", "2")), before, before.model_copy(update={"status": "failed"}), LATER)
    assert after is not None and (after.model.active_version, after.activation_order) == ("2", ("2",))


def test_withdrawing_the_last_active_version_returns_the_model_to_pending():
    before = builders.version(status="active")
    after = model_after(record("1", ("1",)), before, before.model_copy(update={"status": "failed"}), LATER)
    assert after is not None and (after.model.status, after.model.active_version) == ("pending", None)


@pytest.mark.parametrize(("before", "after"), [("pending", "training"), ("training", "failed"), ("failed", "pending")])
def test_moves_that_neither_activate_nor_withdraw_leave_the_model_alone(before: str, after: str):
    version = builders.version(status=before)
    assert model_after(record(None, ()), version, version.model_copy(update={"status": after}), LATER) is None


# Firing -----------------------------------------------------------------------------------------


def trigger(**changes) -> TriggerSource:
    base = {"model_id": "m", "event": "training_complete", "transition": "m/1@3", "output": {"auc": 1}, "version": "1"}
    return TriggerSource(**{**base, **changes})


TARGETS = {
    "active": TargetState(
        builders.model("active", status="active", active_version="2", latest_version="3", workspace="team"),
        latest_status="pending",
        next_number=4,
    ),
    "fresh": TargetState(builders.model("fresh"), latest_status="pending"),
}


def test_an_active_subscription_of_the_event_fires_one_job_named_by_the_transition():
    subscription = builders.subscription("m", "active")
    plan = plan_firing(trigger(), [subscription], TARGETS, LATER)
    [job] = plan.jobs
    assert plan.events[0].job_id == job.id == job_id_for("m/1@3", subscription.id)
    assert (job.model_id, job.workspace, job.version, job.action, job.status) == (
        "active",
        "team",
        "2",
        "inference",
        "queued",
    )
    assert (job.input, job.created_at, job.max_attempts) == ({"auc": 1}, LATER, 3)
    assert (job.trigger.subscription_id, job.trigger.source_model_id, job.trigger.depth) == (subscription.id, "m", 1)
    assert plan_firing(trigger(), [subscription], TARGETS, LATER + timedelta(hours=1)).jobs[0].id == job.id


def test_a_training_trains_the_newest_version_with_the_stored_input_and_its_retry():
    subscription = builders.subscription(
        "m",
        "active",
        target_action="training",
        input_source="stored",
        input={"epochs": 3},
        retry=RetryPolicy(max_attempts=5, backoff_seconds=7),
    )
    [job] = plan_firing(trigger(), [subscription], TARGETS, LATER).jobs
    assert (job.version, job.input, job.max_attempts, job.backoff_seconds) == ("3", {"epochs": 3}, 5, 7)


def test_subscriptions_of_other_events_or_not_active_are_not_reported():
    others = [
        builders.subscription("m", "active", trigger_event="inference_complete"),
        builders.subscription("m", "active", status="paused"),
        builders.subscription("m", "active", status="stale"),
    ]
    plan = plan_firing(trigger(), others, TARGETS, LATER)
    assert (plan.jobs, plan.events) == ([], [])


@pytest.mark.parametrize(
    ("target", "depth", "reason"),
    [
        ("gone", 1, "target model 'gone' no longer exists"),
        ("fresh", 1, "model 'fresh' has no active version to run inference on"),
        ("active", 9, "chain depth 9 exceeds the limit of 8: not fired"),
    ],
)
def test_a_subscription_that_cannot_fire_is_reported_with_why(target: str, depth: int, reason: str):
    subscription = builders.subscription("m", target)
    plan = plan_firing(trigger(depth=depth), [subscription], TARGETS, LATER)
    assert plan.jobs == []
    assert [(e.subscription_id, e.job_id, e.error) for e in plan.events] == [(subscription.id, None, reason)]


def test_the_chain_depth_limit_is_inclusive_and_configurable():
    subscription = builders.subscription("m", "active")
    assert len(plan_firing(trigger(depth=8), [subscription], TARGETS, LATER).jobs) == 1
    assert plan_firing(trigger(depth=3), [subscription], TARGETS, LATER, ChainLimits(max_depth=2)).jobs == []


def test_each_subscription_fires_its_own_job():
    subscriptions = [builders.subscription("m", "active") for _ in range(3)]
    plan = plan_firing(trigger(), subscriptions, TARGETS, LATER)
    assert len({job.id for job in plan.jobs}) == 3
    assert [e.subscription_id for e in plan.events] == [s.id for s in subscriptions]


def test_the_models_version_document_limit_is_the_data_layers():
    from shared.data.items import MAX_DOCUMENT_BYTES
    from shared.domain.versions import MAX_VERSION_DOCUMENT_BYTES

    assert MAX_VERSION_DOCUMENT_BYTES == MAX_DOCUMENT_BYTES

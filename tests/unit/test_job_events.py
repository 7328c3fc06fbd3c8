"""The job-event table: every event has one row, every action produces exactly one event, and the
lookups the services use agree with each other, with the lifecycle and with the API's enum. One
event no job produces: an alias move (``alias_set``), whose subscriptions name the alias."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import get_args

import pytest
from pydantic import ValidationError

from shared.domain import job_events
from shared.domain.entities import Action, Subscription, TriggerEvent
from shared.domain.lifecycle import NEXT_STATUSES, check_transition
from shared.domain.requests import CreateSubscriptionRequest

NOW = datetime(2026, 1, 1, tzinfo=UTC)
EVENTS = get_args(TriggerEvent)
ACTIONS = get_args(Action)
JOB_EVENTS = tuple(event.name for event in job_events.TABLE if event.action is not None)


def subscription(**changes) -> Subscription:
    base = {
        "id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        "source_model_id": "a",
        "trigger_event": "training_complete",
        "target_model_id": "b",
        "target_action": "inference",
        "input_source": "trigger_output",
        "status": "active",
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Subscription.model_validate({**base, **changes})


def test_every_trigger_event_has_exactly_one_row_in_the_tables_order():
    assert EVENTS == job_events.EVENT_NAMES
    assert [event.name for event in job_events.TABLE] == list(EVENTS)
    assert len(set(EVENTS)) == len(EVENTS)


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_produces_exactly_one_event(action: str):
    rows = [event for event in job_events.TABLE if event.action == action]
    assert len(rows) == 1
    assert job_events.produced_by(action) == rows[0].name


def test_no_row_names_an_action_a_job_cannot_have():
    assert {event.action for event in job_events.TABLE} - {None} == set(ACTIONS)


def test_the_one_event_no_job_produces_is_an_alias_move():
    assert [event.name for event in job_events.TABLE if event.action is None] == ["alias_set"]
    assert [event.name for event in job_events.TABLE if event.alias_move] == ["alias_set"]
    assert job_events.is_alias_event("alias_set")
    assert not any(job_events.is_alias_event(event) for event in JOB_EVENTS)
    assert job_events.producing_action("alias_set") is None


@pytest.mark.parametrize("action", ACTIONS)
def test_the_producing_action_of_an_actions_event_is_that_action(action: str):
    assert job_events.producing_action(job_events.produced_by(action)) == action


@pytest.mark.parametrize("event", JOB_EVENTS)
def test_the_event_of_an_events_producing_action_is_that_event(event: str):
    assert job_events.produced_by(job_events.producing_action(event)) == event


def test_training_complete_is_produced_by_training_and_inference_complete_by_inference():
    assert job_events.produced_by("training") == "training_complete"
    assert job_events.produced_by("inference") == "inference_complete"


@pytest.mark.parametrize(
    ("current", "requested"),
    [(current, requested) for current, nexts in NEXT_STATUSES.items() for requested in (current, *nexts)],
)
def test_only_training_to_active_fires_and_it_fires_what_a_training_job_fires(current: str, requested: str):
    fired = job_events.fired_by_transition(current, requested)
    if (current, requested) == ("training", "active"):
        assert fired == "training_complete" == job_events.produced_by("training")
    else:
        assert fired is None


@pytest.mark.parametrize("event", [event for event in job_events.TABLE if event.transition is not None])
def test_a_firing_transition_is_a_legal_move_that_its_actions_job_makes_on_success(event: job_events.JobEvent):
    assert event.transition is not None
    current, requested = event.transition
    assert check_transition(current, requested) is True
    # A succeeded job moves its version from the status its start set to ``active`` (jobs.py).
    assert event.action == "training" and requested == "active"


@pytest.mark.parametrize("event", JOB_EVENTS)
def test_active_subscriptions_of_an_event_fire_on_it_and_nothing_else_does(event: str):
    other = next(name for name in EVENTS if name != event)
    assert job_events.fires_on(subscription(trigger_event=event), event)
    assert not job_events.fires_on(subscription(trigger_event=other), event)
    assert not job_events.fires_on(subscription(trigger_event=event, status="paused"), event)
    assert not job_events.fires_on(subscription(trigger_event=event, status="stale"), event)


def test_an_alias_set_subscription_fires_on_moves_of_its_alias_only():
    follows = subscription(trigger_event="alias_set", alias="champion")
    assert job_events.fires_on(follows, "alias_set", "champion")
    assert not job_events.fires_on(follows, "alias_set", "canary")
    assert not job_events.fires_on(follows, "alias_set")
    assert not job_events.fires_on(follows, "training_complete")
    assert not job_events.fires_on(
        subscription(trigger_event="alias_set", alias="champion", status="paused"), "alias_set", "champion"
    )


def test_an_alias_move_sends_where_it_went_and_where_it_was():
    assert job_events.alias_output("a", "champion", "3", None) == {
        "model_id": "a",
        "alias": "champion",
        "version": "3",
        "previous_version": None,
    }


@pytest.mark.parametrize(
    ("changes", "refused"),
    [
        ({"trigger_event": "alias_set"}, "alias is required"),
        ({"trigger_event": "alias_set", "alias": "latest"}, "'latest' is not an alias"),
        ({"trigger_event": "alias_set", "alias": "Champion"}, "pattern"),
        ({"trigger_event": "training_complete", "alias": "champion"}, "only for an alias event"),
    ],
)
def test_a_subscription_names_an_alias_for_an_alias_event_and_only_then(changes: dict, refused: str):
    body = {"target_model_id": "b", "target_action": "inference", "input_source": "trigger_output", **changes}
    with pytest.raises(ValidationError, match=refused):
        CreateSubscriptionRequest.model_validate(body)


def test_a_transition_by_hand_sends_the_versions_summary_as_trigger_output():
    assert job_events.transition_output("a", "3", {"auc": 0.9}) == {
        "model_id": "a",
        "version": "3",
        "metadata": {"auc": 0.9},
    }


def test_an_event_outside_the_table_is_refused():
    with pytest.raises(ValidationError):
        subscription(trigger_event="deploy_complete")
    with pytest.raises(ValidationError):
        CreateSubscriptionRequest.model_validate(
            {
                "trigger_event": "deploy_complete",
                "target_model_id": "b",
                "target_action": "inference",
                "input_source": "trigger_output",
            }
        )

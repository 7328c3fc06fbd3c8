"""Chains and cycles: a subscription that closes a cycle in the trigger graph is allowed with a warning
naming the cycle; every fired job carries its chain depth, and a link beyond the configured depth is
reported as an ``error`` instead of being fired."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest

from shared import runtime
from tests.integration.api_events import call, create_model
from tests.integration.lifecycle_helpers import jobs_of, set_status, walk_to
from tests.integration.subscription_helpers import (
    create_subscription,
    create_subscription_call,
)


def _cycle_warnings(subscription: dict[str, Any]) -> list[str]:
    return [w for w in subscription.get("warnings", []) if "cycle" in w]


# Cycles are allowed, with a warning ----------------------------------------------------------------------


def test_a_subscription_closing_a_cycle_is_created_with_a_warning_naming_it(table):
    create_model("a")
    create_model("b")
    forward = create_subscription("a", "b")

    status, back, _ = create_subscription_call("b", "a")

    assert "warnings" not in forward
    assert status == 201, back
    assert back["status"] == "active"
    assert back["warnings"] == [
        "this subscription closes a cycle in the trigger graph: b -> a -> b; chains deeper than 8 are not fired"
    ]


def test_a_self_subscription_is_a_cycle(table):
    create_model("a")

    status, body, _ = create_subscription_call("a", "a")

    assert status == 201, body
    assert _cycle_warnings(body) == [
        "this subscription closes a cycle in the trigger graph: a -> a; chains deeper than 8 are not fired"
    ]


def test_a_longer_cycle_is_named_in_full(table):
    for model_id in ("a", "b", "c"):
        create_model(model_id)
    create_subscription("a", "b")
    create_subscription("b", "c")

    closing = create_subscription("c", "a")

    assert _cycle_warnings(closing) == [
        "this subscription closes a cycle in the trigger graph: c -> a -> b -> c; chains deeper than 8 are not fired"
    ]


def test_converging_paths_are_not_a_cycle(table):
    for model_id in ("a", "b", "c", "d"):
        create_model(model_id)
    create_subscription("a", "b")
    create_subscription("a", "c")
    create_subscription("b", "d")

    assert "warnings" not in create_subscription("c", "d")
    assert "warnings" not in create_subscription("a", "d")


def test_the_warning_states_the_configured_depth(table, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PIE_MAX_CHAIN_DEPTH", "3")
    runtime.reset()
    create_model("a")

    body = create_subscription("a", "a")

    assert _cycle_warnings(body) == [
        "this subscription closes a cycle in the trigger graph: a -> a; chains deeper than 3 are not fired"
    ]


def test_a_cycle_warning_comes_with_contract_warnings(table):
    create_model("a", handler_contracts={"inference": {"input_schema": {"type": "object", "required": ["x"]}}})

    body = create_subscription("a", "a", input={})

    assert len(body["warnings"]) == 2
    assert body["warnings"][0] == "input does not match the target's inference input_schema: 'x' is a required property"
    assert "a -> a" in body["warnings"][1]


# Depth ---------------------------------------------------------------------------------------------------


def _complete(model_id: str, job_id: str, output: dict[str, Any]) -> dict[str, Any]:
    status, body, _ = call(
        "complete_job", body={"status": "succeeded", "output": output}, model_id=model_id, job_id=job_id
    )
    assert status == 200, body
    return body


@pytest.fixture
def self_loop(table: Any) -> dict[str, Any]:
    """``a`` finishing training makes ``b`` infer; each finished inference of ``b`` makes ``b`` infer
    again on its own output: an unbounded chain, but for the depth limit."""
    create_model("a")
    create_model("b")
    walk_to("b", "1", "active")
    walk_to("a", "1", "training")
    first = create_subscription("a", "b", input={"round": 0})
    loop = create_subscription("b", "b", trigger_event="inference_complete", input_source="trigger_output", input=None)
    return {"first": first, "loop": loop, "table": table}


def _run_chain(self_loop: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Start the chain and complete each job it fires until a completion fires none; returns the
    jobs in chain order and the last completion."""
    _, started, _ = set_status("a", "1", "active")
    [event] = started["triggered_events"]
    job_id = event["job_id"]
    chain = []
    for round_number in range(1, 20):
        chain.append(job_id)
        completion = _complete("b", job_id, {"round": round_number})
        events = completion["triggered_events"]
        assert len(events) == 1 and events[0]["subscription_id"] == self_loop["loop"]["id"], events
        if "job_id" not in events[0]:
            jobs = {job["id"]: job for job in jobs_of(self_loop["table"], "b")}
            return [jobs[job_id] for job_id in chain], completion
        job_id = events[0]["job_id"]
    raise AssertionError("the chain was never stopped")


def test_fired_jobs_carry_their_depth_and_a_link_beyond_the_limit_is_an_error(self_loop, monkeypatch):
    monkeypatch.setenv("PIE_MAX_CHAIN_DEPTH", "3")
    runtime.reset()

    chain, last = _run_chain(self_loop)

    assert [job["trigger"]["depth"] for job in chain] == [1, 2, 3]
    assert chain[0]["trigger"] == {
        "subscription_id": self_loop["first"]["id"],
        "source_model_id": "a",
        "source_version": "1",
        "source_job_id": None,
        "depth": 1,
        "root_job_id": chain[0]["trigger"]["root_job_id"],
    }
    assert {job["trigger"]["root_job_id"] for job in chain} == {chain[0]["trigger"]["root_job_id"]}
    for previous, job in pairwise(chain):
        assert job["trigger"]["subscription_id"] == self_loop["loop"]["id"]
        assert job["trigger"]["source_job_id"] == previous["id"]
        assert job["input"] == {"round": chain.index(previous) + 1}  # the previous job's output
    [refused] = last["triggered_events"]
    assert set(refused) == {"subscription_id", "error"}
    assert refused["error"] == "chain depth 4 exceeds the limit of 3: not fired"
    assert last["job"]["status"] == "succeeded"  # the completion itself still succeeds
    assert len(jobs_of(self_loop["table"], "b")) == 3


def test_the_default_depth_limit_is_eight(self_loop):
    chain, last = _run_chain(self_loop)

    assert [job["trigger"]["depth"] for job in chain] == list(range(1, 9))
    assert last["triggered_events"][0]["error"] == "chain depth 9 exceeds the limit of 8: not fired"


def test_a_depth_limit_of_one_fires_only_the_first_link(self_loop, monkeypatch):
    monkeypatch.setenv("PIE_MAX_CHAIN_DEPTH", "1")
    runtime.reset()

    chain, last = _run_chain(self_loop)

    assert [job["trigger"]["depth"] for job in chain] == [1]
    assert last["triggered_events"][0]["error"] == "chain depth 2 exceeds the limit of 1: not fired"

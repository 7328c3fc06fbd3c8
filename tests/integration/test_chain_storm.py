"""The self-subscription storm (SPEC part three, "A job budget per root").

A model with N ``inference_complete → inference`` subscriptions on itself (its output as the next
input) turns one inference into Σ N^d jobs for d ≤ the depth limit: 511 for N = 2, 9,841 for N = 3.
The job budget of the root stops it: one direct inference, its jobs run by the dispatcher with the
in-process ``echo`` handler until the stream is quiet, creates exactly the budget of triggered jobs,
and every firing past it is reported with an error naming the budget (logged by the dispatcher,
which completes in-process jobs with nobody to read its answer).
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import pytest

from shared import runtime
from shared.domain.triggers import DEFAULT_CHAIN_JOB_BUDGET
from tests.integration.api_events import create_model
from tests.integration.job_helpers import drain, start_inference, started_job, table_stream
from tests.integration.lifecycle_helpers import jobs_of, walk_to
from tests.integration.subscription_helpers import create_subscription

ECHO = {
    "training": {"type": "in_process", "implementation": "echo"},
    "inference": {"type": "in_process", "implementation": "echo"},
}


@pytest.mark.parametrize("n", [2, 3])
def test_one_inference_on_a_self_subscribed_model_creates_at_most_the_budget_of_jobs(
    table: Any, caplog: pytest.LogCaptureFixture, n: int
):
    create_model("storm", handlers=ECHO)
    walk_to("storm", "1", "active")
    for _ in range(n):
        create_subscription(
            "storm", "storm", trigger_event="inference_complete", input_source="trigger_output", input=None
        )

    root = started_job(start_inference("storm", {"features": [1]}))
    with caplog.at_level(logging.WARNING):
        drain(table_stream(), rounds=200)

    jobs = jobs_of(runtime.dynamodb_client(), "storm")
    triggered = [job for job in jobs if job["trigger"] is not None]
    assert len(triggered) == DEFAULT_CHAIN_JOB_BUDGET
    assert {job["trigger"]["root_job_id"] for job in triggered} == {root["id"]}
    assert all(job["status"] == "succeeded" for job in jobs), Counter(job["status"] for job in jobs)
    assert runtime.chain_budgets().used(root["id"]) == DEFAULT_CHAIN_JOB_BUDGET
    # Every completed job's N subscriptions were each fired or refused, and the dispatcher, which
    # completed them, logged each refusal.
    refused = [record.reason for record in caplog.records if record.getMessage() == "subscription not fired"]
    assert len(triggered) + len(refused) == n * len(jobs)
    budget = f"the chain's job budget of {DEFAULT_CHAIN_JOB_BUDGET} jobs (root job '{root['id']}') is spent: not fired"
    assert set(refused) == {budget}

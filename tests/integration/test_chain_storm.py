"""The self-subscription storm (SPEC part three, "A job budget per root").

A model with N ``inference_complete → inference`` subscriptions on itself (its output as the next
input) turns one inference into Σ N^d jobs for d ≤ the depth limit: 511 for N = 2, 9,841 for N = 3.
The job budget of the root stops it: one direct inference, its jobs run by the dispatcher with the
in-process ``echo`` handler until the stream is quiet, creates exactly the budget of triggered jobs,
and every firing past it is reported with an error naming the budget.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from shared import runtime
from shared.domain.triggers import DEFAULT_CHAIN_JOB_BUDGET
from shared.services.jobs import JobService
from tests.integration.api_events import create_model
from tests.integration.job_helpers import drain, start_inference, started_job, table_stream
from tests.integration.lifecycle_helpers import jobs_of, walk_to
from tests.integration.subscription_helpers import create_subscription

ECHO = {
    "training": {"type": "in_process", "implementation": "echo"},
    "inference": {"type": "in_process", "implementation": "echo"},
}


@pytest.fixture
def refused(table: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The errors of every firing the completions reported as not fired."""
    errors: list[str] = []
    complete = JobService.complete

    def recording(self: JobService, *args: Any, **kwargs: Any) -> Any:
        response = complete(self, *args, **kwargs)
        errors.extend(event.error for event in response.triggered_events if event.error is not None)
        return response

    monkeypatch.setattr(JobService, "complete", recording)
    return errors


@pytest.mark.parametrize("n", [2, 3])
def test_one_inference_on_a_self_subscribed_model_creates_at_most_the_budget_of_jobs(refused, n):
    create_model("storm", handlers=ECHO)
    walk_to("storm", "1", "active")
    for _ in range(n):
        create_subscription(
            "storm", "storm", trigger_event="inference_complete", input_source="trigger_output", input=None
        )

    root = started_job(start_inference("storm", {"features": [1]}))
    drain(table_stream(), rounds=200)

    jobs = jobs_of(runtime.dynamodb_client(), "storm")
    triggered = [job for job in jobs if job["trigger"] is not None]
    assert len(triggered) == DEFAULT_CHAIN_JOB_BUDGET
    assert {job["trigger"]["root_job_id"] for job in triggered} == {root["id"]}
    assert all(job["status"] == "succeeded" for job in jobs), Counter(job["status"] for job in jobs)
    assert runtime.chain_budgets().used(root["id"]) == DEFAULT_CHAIN_JOB_BUDGET
    # Every completed job's N subscriptions were each fired or refused for the budget.
    assert len(triggered) + len(refused) == n * len(jobs)
    budget = f"the chain's job budget of {DEFAULT_CHAIN_JOB_BUDGET} jobs (root job '{root['id']}') is spent: not fired"
    assert set(refused) == {budget}

"""Chains over HTTP: the calls that build one and wait for its jobs to settle (bounded waits)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.client import Api
from tests.e2e.documents import IN_PROCESS_HANDLERS, model_document, unique_id

SETTLE_SECONDS = 15


def create(api: Api, **overrides: Any) -> str:
    model_id = unique_id()
    reply = api.post("/v2/models", model_document(model_id, **overrides))
    assert reply.status == 201, reply.body
    return model_id


def activate(api: Api, model_id: str, version: str = "1") -> None:
    for status in ("training", "active"):
        reply = api.post(f"/v2/models/{model_id}/versions/{version}/new_status", {"status": status})
        assert reply.status == 200, reply.body


def subscribe(api: Api, source: str, target: str, **fields: Any) -> str:
    document = {"trigger_event": "training_complete", "target_model_id": target, "target_action": "inference"}
    reply = api.post(f"/v2/models/{source}/event-subscriptions", {**document, **fields})
    assert reply.status == 201, reply.body
    return reply.json["id"]


def jobs_of(api: Api, model_id: str) -> list[dict[str, Any]]:
    reply = api.get(f"/v2/models/{model_id}/jobs")
    assert reply.status == 200, reply.body
    return reply.json["jobs"]


def settled(api: Api, model_id: str, expected_jobs: int, statuses: set[str]) -> list[dict[str, Any]]:
    """The model's jobs once ``expected_jobs`` of them reached one of ``statuses`` (bounded wait)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        jobs = jobs_of(api, model_id)
        if len(jobs) == expected_jobs and all(job["status"] in statuses for job in jobs):
            return jobs
        if time.monotonic() > deadline:
            pytest.fail(f"jobs of {model_id} did not settle: {jobs}")
        time.sleep(0.1)


def run_three_model_chain(api: Api) -> None:
    """One training request on A runs A, then B, then C through subscriptions, to the end."""
    a = create(api, handlers=IN_PROCESS_HANDLERS)
    b = create(api, handlers=IN_PROCESS_HANDLERS)
    c = create(api, handlers=IN_PROCESS_HANDLERS)
    activate(api, b)
    activate(api, c)
    a_to_b = subscribe(api, a, b, input_source="trigger_output")
    b_to_c = subscribe(api, b, c, trigger_event="inference_complete", input_source="trigger_output")

    started = api.post(f"/v2/models/{a}/training", {"input": {"dataset": "prices-2025-q4"}})
    assert started.status == 202, started.body

    (a_job,) = settled(api, a, 1, {"succeeded"})
    (b_job,) = settled(api, b, 1, {"succeeded"})
    (c_job,) = settled(api, c, 1, {"succeeded"})
    assert a_job["id"] == started.json["job"]["id"]
    assert a_job["output"] == {"dataset": "prices-2025-q4"}
    assert b_job["input"] == a_job["output"] and b_job["output"] == b_job["input"]
    assert c_job["input"] == b_job["output"] and c_job["output"] == c_job["input"]
    assert b_job["trigger"] == {
        "subscription_id": a_to_b,
        "source_model_id": a,
        "source_version": "1",
        "source_job_id": a_job["id"],
        "depth": 1,
        "root_job_id": a_job["id"],
    }
    assert c_job["trigger"]["subscription_id"] == b_to_c
    assert c_job["trigger"]["source_job_id"] == b_job["id"]
    assert c_job["trigger"]["depth"] == 2
    model = api.get(f"/v2/models/{a}").json["model"]
    assert (model["status"], model["active_version"]) == ("active", "1")

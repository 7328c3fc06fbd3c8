"""Chains over HTTP on ``pie-local serve``: subscriptions fire, the stream replay dispatches, and
in-process handlers complete on their own."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.client import Api
from tests.e2e.documents import IN_PROCESS_HANDLERS, model_document, unique_id

pytestmark = pytest.mark.e2e

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


def test_one_training_request_runs_a_three_model_in_process_chain_to_the_end(api: Api):
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
    }
    assert c_job["trigger"]["subscription_id"] == b_to_c
    assert c_job["trigger"]["source_job_id"] == b_job["id"]
    assert c_job["trigger"]["depth"] == 2
    model = api.get(f"/v2/models/{a}").json["model"]
    assert (model["status"], model["active_version"]) == ("active", "1")


def test_a_failing_in_process_training_fails_its_job_and_version(api: Api):
    failing = {"training": {"type": "in_process", "implementation": "fail"}, "inference": IN_PROCESS_HANDLERS["inference"]}
    model_id = create(api, handlers=failing)

    api.post(f"/v2/models/{model_id}/training", {"input": {"message": "out of memory"}})

    (job,) = settled(api, model_id, 1, {"failed"})
    assert job["error"] == "out of memory"
    version = api.get(f"/v2/models/{model_id}/versions/1").json["version"]
    assert (version["status"], version["status_message"]) == ("failed", "out of memory")


def test_a_lambda_job_waits_dispatched_until_it_is_completed(api: Api):
    model_id = create(api)
    activate(api, model_id)

    started = api.post(f"/v2/models/{model_id}/inference", {"input": {"features": [1, 2]}})

    (job,) = settled(api, model_id, 1, {"dispatched"})
    assert job["id"] == started.json["job"]["id"] and job["attempt"] == 1
    done = api.post(f"/v2/models/{model_id}/jobs/{job['id']}/complete", {"status": "succeeded", "output": {"y": 3}})
    assert done.status == 200, done.body
    assert jobs_of(api, model_id)[0]["status"] == "succeeded"


def test_a_stored_input_subscription_fires_until_the_target_handlers_change(api: Api):
    a = create(api, handlers=IN_PROCESS_HANDLERS)
    b = create(api)
    activate(api, b)
    subscription = subscribe(api, a, b, input_source="stored", input={"features": [0.2, 0.4]})

    fired = api.post(f"/v2/models/{a}/versions/1/new_status", {"status": "training"})
    fired = api.post(f"/v2/models/{a}/versions/1/new_status", {"status": "active"})

    (event,) = fired.json["triggered_events"]
    assert event["subscription_id"] == subscription
    (job,) = settled(api, b, 1, {"dispatched"})
    assert job["id"] == event["job_id"] and job["input"] == {"features": [0.2, 0.4]}

    new_handlers = {
        "training": {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:train-v2"},
        "inference": {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:infer-v2"},
    }
    changed = api.put(f"/v2/models/{b}", {k: v for k, v in model_document(b, handlers=new_handlers).items() if k != "id"})
    assert changed.status == 200, changed.body
    assert api.get(f"/v2/models/{a}/event-subscriptions/{subscription}").json["status"] == "stale"

    assert api.post(f"/v2/models/{a}/new_version", {"version": "2"}).status == 201
    api.post(f"/v2/models/{a}/versions/2/new_status", {"status": "training"})
    second = api.post(f"/v2/models/{a}/versions/2/new_status", {"status": "active"})

    assert second.status == 200 and second.json["triggered_events"] == []
    assert len(jobs_of(api, b)) == 1

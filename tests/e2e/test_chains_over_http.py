"""Chains over HTTP on ``pie-local serve``: subscriptions fire, the stream replay dispatches, and
in-process handlers complete on their own."""

from __future__ import annotations

import pytest

from tests.e2e.chains import activate, create, jobs_of, run_three_model_chain, settled, subscribe
from tests.e2e.client import Api
from tests.e2e.documents import IN_PROCESS_HANDLERS, model_document

pytestmark = pytest.mark.e2e


def test_one_training_request_runs_a_three_model_in_process_chain_to_the_end(api: Api):
    run_three_model_chain(api)


def test_a_failing_in_process_training_fails_its_job_and_version(api: Api):
    failing = {
        "training": {"type": "in_process", "implementation": "fail"},
        "inference": IN_PROCESS_HANDLERS["inference"],
    }
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
    changed = api.put(
        f"/v2/models/{b}", {k: v for k, v in model_document(b, handlers=new_handlers).items() if k != "id"}
    )
    assert changed.status == 200, changed.body
    assert api.get(f"/v2/models/{a}/event-subscriptions/{subscription}").json["status"] == "stale"

    assert api.post(f"/v2/models/{a}/new_version", {"version": "2"}).status == 201
    api.post(f"/v2/models/{a}/versions/2/new_status", {"status": "training"})
    second = api.post(f"/v2/models/{a}/versions/2/new_status", {"status": "active"})

    assert second.status == 200 and second.json["triggered_events"] == []
    assert len(jobs_of(api, b)) == 1

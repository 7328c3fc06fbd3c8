"""Training and inference jobs over HTTP, through ``pie-local serve``."""

from __future__ import annotations

import time

import pytest

from tests.e2e.client import Api, assert_error
from tests.e2e.documents import model_document, unique_id
from tests.e2e.local_server import LocalServer, Tokens

pytestmark = pytest.mark.e2e


@pytest.fixture
def worker(server: LocalServer, tokens: Tokens) -> Api:
    """A job runner: its token holds only ``jobs:write``."""
    return Api(server.url, tokens.jobs)


def test_a_training_job_is_queued_listed_read_and_completed_by_a_worker(api: Api, worker: Api, model_id: str):
    started = api.post(f"/v2/models/{model_id}/training", {"input": {"epochs": 3}})

    assert started.status == 202, started.body
    job = started.json["job"]
    assert job["model_id"] == model_id
    assert job["version"] == "1"
    assert job["action"] == "training"
    assert job["input"] == {"epochs": 3}
    assert api.get(f"/v2/models/{model_id}/versions/1").json["version"]["status"] == "training"

    listed = api.get(f"/v2/models/{model_id}/jobs?limit=10")
    assert listed.status == 200
    assert [j["id"] for j in listed.json["jobs"]] == [job["id"]]

    read = api.get(f"/v2/models/{model_id}/jobs/{job['id']}")
    assert read.status == 200
    assert read.json["job"]["id"] == job["id"]

    completed = worker.post(
        f"/v2/models/{model_id}/jobs/{job['id']}/complete", {"status": "succeeded", "output": {"loss": 0.1}}
    )
    assert completed.status == 200, completed.body
    assert completed.json["job"]["status"] == "succeeded"
    assert completed.json["job"]["output"] == {"loss": 0.1}
    assert completed.json["triggered_events"] == []
    assert api.get(f"/v2/models/{model_id}").json["model"]["active_version"] == "1"

    again = worker.post(f"/v2/models/{model_id}/jobs/{job['id']}/complete", {"status": "failed"})
    assert_error(again, 409)


def test_inference_runs_on_the_active_version(api: Api, model_id: str):
    assert_error(api.post(f"/v2/models/{model_id}/inference", {"input": {"x": 1}}), 422)
    for status in ("training", "active"):
        api.post(f"/v2/models/{model_id}/versions/1/new_status", {"status": status})

    started = api.post(f"/v2/models/{model_id}/inference", {"input": {"x": 1}})

    assert started.status == 202, started.body
    assert started.json["job"]["action"] == "inference"
    assert started.json["job"]["version"] == "1"


def test_reading_a_job_that_does_not_exist_is_a_404(api: Api, model_id: str):
    assert_error(api.get(f"/v2/models/{model_id}/jobs/00000000-0000-4000-8000-000000000000"), 404)


def test_a_step_functions_job_waits_for_its_execution_and_is_completed_by_a_worker(
    api: Api, worker: Api, server: LocalServer
):
    """pie-local's stand-in accepts StartExecution and leaves the job dispatched, as AWS would."""
    state_machine = {
        "type": "step_functions",
        "state_machine_arn": "arn:aws:states:us-west-2:123456789012:stateMachine:train-price-model",
    }
    model_id = unique_id("sfn")
    created = api.post(
        "/v2/models", model_document(model_id, handlers={"training": state_machine, "inference": state_machine})
    )
    assert created.status == 201, created.body
    job_id = api.post(f"/v2/models/{model_id}/training", {"input": {"epochs": 3}}).json["job"]["id"]

    deadline = time.monotonic() + 10
    while (job := api.get(f"/v2/models/{model_id}/jobs/{job_id}").json["job"])["status"] == "queued":
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    assert job["status"] == "dispatched", job
    assert job["handler"] == state_machine

    completed = worker.post(
        f"/v2/models/{model_id}/jobs/{job_id}/complete", {"status": "succeeded", "output": {"ok": True}}
    )
    assert completed.status == 200, completed.body
    assert api.get(f"/v2/models/{model_id}").json["model"]["active_version"] == "1"

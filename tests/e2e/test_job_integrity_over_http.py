"""Job integrity over HTTP on ``pie-local serve`` (issue 11, points 4 and 5): an in-process result
too large to store fails its job and version instead of vanishing, and a stale training job cannot
move the version another job now trains."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.chains import SETTLE_SECONDS, create
from tests.e2e.client import Api
from tests.e2e.documents import IN_PROCESS_HANDLERS

pytestmark = pytest.mark.e2e


def job_settled(api: Api, model_id: str, job_id: str, status: str) -> dict[str, Any]:
    """The job once it reached ``status`` (bounded wait: the local stream replay dispatches it)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        job = api.get(f"/v2/models/{model_id}/jobs/{job_id}").json["job"]
        if job["status"] == status:
            return job
        if time.monotonic() > deadline:
            pytest.fail(f"job {job_id} did not reach {status}: {job['status']}")
        time.sleep(0.1)


def version_of(api: Api, model_id: str) -> dict[str, Any]:
    return api.get(f"/v2/models/{model_id}/versions/1").json["version"]


def test_an_echo_training_whose_output_is_too_large_fails_its_job_and_version(api: Api):
    model_id = create(api, handlers=IN_PROCESS_HANDLERS)

    started = api.post(f"/v2/models/{model_id}/training", {"input": {"blob": "x" * 195_000}})
    assert started.status == 202, started.body

    job = job_settled(api, model_id, started.json["job"]["id"], "failed")
    assert job["error"].startswith("output too large to store")
    version = version_of(api, model_id)
    assert (version["status"], version["status_message"]) == ("failed", job["error"])


def test_a_stale_training_job_completes_alone_and_does_not_activate_the_version(api: Api):
    model_id = create(api)
    target = create(api)
    for status in ("training", "active"):
        assert api.post(f"/v2/models/{target}/versions/1/new_status", {"status": status}).status == 200
    document = {
        "trigger_event": "training_complete",
        "target_model_id": target,
        "target_action": "inference",
        "input_source": "trigger_output",
    }
    assert api.post(f"/v2/models/{model_id}/event-subscriptions", document).status == 201
    first = api.post(f"/v2/models/{model_id}/training", {"input": {}}).json["job"]["id"]
    job_settled(api, model_id, first, "dispatched")
    failed = api.post(f"/v2/models/{model_id}/versions/1/new_status", {"status": "failed"})
    assert failed.status == 200, failed.body
    second = api.post(f"/v2/models/{model_id}/training", {"input": {}}).json["job"]["id"]
    job_settled(api, model_id, second, "dispatched")

    stale = api.post(f"/v2/models/{model_id}/jobs/{first}/complete", {"status": "succeeded", "output": {"m": 1}})

    assert stale.status == 200, stale.body
    assert stale.json["job"]["status"] == "succeeded"
    assert stale.json["triggered_events"] == []
    assert any(second in warning for warning in stale.json["warnings"])
    version = version_of(api, model_id)
    assert (version["status"], version["training_job_id"]) == ("training", second)
    assert api.get(f"/v2/models/{target}/jobs").json["jobs"] == []

"""Job supervision over HTTP on ``pie-local serve``: its sweeper (every 0.2 s here) times out a
Lambda job nobody completes, retries it, fails it with the reason and its version with it; cancel,
redrive and the delivery log."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.client import Api, mint
from tests.e2e.documents import model_document, unique_id
from tests.e2e.local_server import serving

pytestmark = pytest.mark.e2e
WAIT_SECONDS = 30


@pytest.fixture(scope="module")
def fast_sweeping(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    home = tmp_path_factory.mktemp("pie-local-sweep") / ".pie-local"
    with serving(home, "--sweep-seconds", "0.2") as running:
        yield Api(running.url, mint(home))


def eventually(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"not within {WAIT_SECONDS} s: {what}")


def a_model(api: Api, timeout_seconds: int = 1) -> str:
    model_id = unique_id("supervised")
    document = model_document(model_id)
    for handler in document["handlers"].values():
        handler["timeout_seconds"] = timeout_seconds
    assert api.post("/v2/models", document).status == 201
    return model_id


def test_a_lambda_job_nobody_completes_times_out_is_retried_then_fails_and_its_version_goes_failed(
    fast_sweeping: Api,
):
    api = fast_sweeping
    model_id = a_model(api)
    body = {"input": {}, "retry": {"max_attempts": 2, "backoff_seconds": 1}}
    job_id = api.post(f"/v2/models/{model_id}/training", body).json["job"]["id"]

    def failed() -> dict[str, Any] | None:
        job = api.get(f"/v2/models/{model_id}/jobs/{job_id}").json["job"]
        return job if job["status"] == "failed" else None

    job = eventually(failed, "the job to time out twice and fail")
    assert [a["outcome"] for a in job["attempt_history"]] == ["timed_out", "timed_out"]
    version = api.get(f"/v2/models/{model_id}/versions/1").json["version"]
    assert version["status"] == "failed" and "timed out" in version["status_message"]
    late = api.post(
        f"/v2/models/{model_id}/jobs/{job_id}/complete", {"status": "succeeded", "output": {}, "attempt": 1}
    )
    assert late.status == 409
    assert api.get(f"/v2/models/{model_id}/jobs/{job_id}").json["job"] == job

    # Redrive: the same job, its next attempt, with an idempotent replay.
    key = {"Idempotency-Key": unique_id("redrive")}
    first = api.post(f"/v2/models/{model_id}/jobs/{job_id}/retry", headers=key)
    assert first.status == 202, first.body
    assert (first.json["job"]["id"], first.json["job"]["attempt"]) == (job_id, 3)
    replay = api.post(f"/v2/models/{model_id}/jobs/{job_id}/retry", headers=key)
    assert (replay.status, replay.json) == (202, first.json)
    assert api.get(f"/v2/models/{model_id}/versions/1").json["version"]["status"] == "training"

    # Cancel the redriven attempt before its deadline.
    cancelled = api.post(f"/v2/models/{model_id}/jobs/{job_id}/cancel", headers={"Idempotency-Key": unique_id("c")})
    assert cancelled.status == 200, cancelled.body
    assert cancelled.json["job"]["attempt_history"][-1]["outcome"] == "cancelled"
    assert api.post(f"/v2/models/{model_id}/jobs/{job_id}/cancel").status == 409

    log = api.get(f"/v2/jobs?model_id={model_id}&status=failed&limit=10").json
    while log["next_token"] and not log["jobs"]:
        log = api.get(f"/v2/jobs?model_id={model_id}&status=failed&limit=10&next_token={log['next_token']}").json
    assert [j["id"] for j in log["jobs"]] == [job_id]


def test_an_ecs_job_is_cancelled_on_pie_local(fast_sweeping: Api):
    api = fast_sweeping
    model_id = unique_id("ecs-cancel")
    document = model_document(model_id)
    document["handlers"]["training"] = {"type": "ecs", "task": "ml-cluster/train-price-model:3"}
    assert api.post("/v2/models", document).status == 201
    job_id = api.post(f"/v2/models/{model_id}/training", {"input": {}}).json["job"]["id"]
    eventually(lambda: api.get(f"/v2/models/{model_id}/jobs/{job_id}").json["job"].get("task_arn"), "the task to start")

    cancelled = api.post(f"/v2/models/{model_id}/jobs/{job_id}/cancel")

    assert cancelled.status == 200, cancelled.body
    assert api.get(f"/v2/models/{model_id}/versions/1").json["version"]["status"] == "failed"

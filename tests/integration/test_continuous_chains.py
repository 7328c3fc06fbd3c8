"""Continuous chains (SPEC part three): a chain runs on every upstream training, not once.

The chain A → B → C (``training_complete → training``) is driven through the route functions and
the stream dispatcher, with Lambda handlers that a stand-in records and the test completes, as a
team's handler would.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.runtime import use_stand_in
from tests.integration.api_events import create_model, create_version
from tests.integration.job_helpers import (
    RecordingLambda,
    complete,
    drain,
    get_job,
    get_version,
    start_training,
    started_job,
    table_stream,
)
from tests.integration.lifecycle_helpers import jobs_of, subscribe


@pytest.fixture
def lambda_client(table: Any) -> RecordingLambda:
    client = RecordingLambda()
    use_stand_in("lambda", client)
    return client


@pytest.fixture
def chain(table: Any, lambda_client: RecordingLambda) -> Any:
    """A → B → C, each link a training of the next on the previous one's training_complete."""
    for model_id in ("a", "b", "c"):
        create_model(model_id)
    subscribe("a", "b", action="training", stored_input={"data_path": "s3://b"})
    subscribe("b", "c", action="training", stored_input={"data_path": "s3://c"})
    return table


def _run_chain(table: Any, stream: Any, upstream_version: str) -> dict[str, dict[str, Any]]:
    """Train A's ``upstream_version`` and complete every job the chain fires; the jobs by model."""
    done: dict[str, dict[str, Any]] = {}
    job = started_job(start_training("a", {"data_path": "s3://a"}, version=upstream_version))
    pending = [("a", job["id"])]
    while pending:
        drain(stream)
        model_id, job_id = pending.pop(0)
        status, body, _ = complete(model_id, job_id, {"status": "succeeded", "output": {"model_path": model_id}})
        assert status == 200, body
        done[model_id] = body["job"]
        for event in body["triggered_events"]:
            assert "job_id" in event, event
            fired = next(j for j in jobs_of(table, "b") + jobs_of(table, "c") if j["id"] == event["job_id"])
            pending.append((fired["model_id"], fired["id"]))
    drain(stream)
    return done


def test_a_chain_runs_again_when_its_upstream_trains_again(chain: Any):
    stream = table_stream()
    first = _run_chain(chain, stream, "1")
    assert set(first) == {"a", "b", "c"}
    create_version("a", "2")

    second = _run_chain(chain, stream, "2")

    assert set(second) == {"a", "b", "c"}
    for model_id in ("b", "c"):
        job = get_job(model_id, second[model_id]["id"])
        assert job["status"] == "succeeded", job
        assert job["version"] == "2"
        assert get_version(model_id, "2")["version"]["status"] == "active"
        assert get_version(model_id, "1")["version"]["status"] == "active"

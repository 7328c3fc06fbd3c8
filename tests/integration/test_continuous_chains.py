"""Continuous chains (SPEC part three): a chain runs on every upstream training, not once.

The chain A → B → C (``training_complete → training``) is driven through the route functions and
the stream dispatcher, with Lambda handlers that a stand-in records and the test completes, as a
team's handler would.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared import runtime
from shared.runtime import use_stand_in
from tests.integration.api_events import call, create_model, create_version, make_active
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
from tests.integration.lifecycle_helpers import jobs_of, set_status, subscribe


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


def _lineage(model_id: str, version: str) -> list[dict[str, Any]]:
    status, body, _ = call("get_version_lineage", model_id=model_id, model_version=version)
    assert status == 200, body
    return body["lineage"]


def _impact(model_id: str, event: str = "training_complete") -> dict[str, Any]:
    status, body, _ = call("get_model_impact", model_id=model_id, query={"event": event})
    assert status == 200, body
    return body["impact"]


def test_each_rerun_version_names_its_chain_back_to_the_root(chain: Any):
    stream = table_stream()
    _run_chain(chain, stream, "1")
    create_version("a", "2")
    second = _run_chain(chain, stream, "2")

    steps = _lineage("c", "2")

    assert [(s["model_id"], s["version"], s["job_id"]) for s in steps] == [
        ("c", "2", second["c"]["id"]),
        ("b", "2", second["b"]["id"]),
        ("a", "2", second["a"]["id"]),
    ]
    assert steps[0]["subscription_id"] == second["c"]["trigger"]["subscription_id"]
    assert steps[-1]["subscription_id"] is None  # a direct training is the root
    version = get_version("c", "2")["version"]
    assert version["lineage"]["job_id"] == second["c"]["id"]
    assert version["lineage"]["trigger"]["source_version"] == "2"
    assert version["lineage"]["trigger"]["root_job_id"] == second["a"]["id"]


def test_a_version_no_job_trained_has_no_lineage(chain: Any):
    assert _lineage("a", "1") == []


def test_the_impact_of_an_upstream_training_is_the_chain_with_the_versions_it_would_cut(chain: Any):
    stream = table_stream()
    _run_chain(chain, stream, "1")

    impact = _impact("a")

    assert (impact["total_jobs"], impact["job_budget"], impact["max_depth"]) == (2, 64, 8)
    (b,) = impact["children"]
    assert (b["target_model_id"], b["action"], b["version"], b["cuts_version"], b["would_fire"]) == (
        "b",
        "training",
        "2",
        True,
        True,
    )
    (c,) = b["children"]
    assert (c["target_model_id"], c["version"], c["cuts_version"], c["children"]) == ("c", "2", True, [])
    assert len(jobs_of(chain, "b")) == 1  # the impact wrote nothing


def test_the_impact_marks_a_cycle_and_stops_expanding_it(table: Any):
    create_model("loop")
    subscribe("loop", "loop", event="inference_complete", input_source="trigger_output")
    make_active("loop")

    impact = _impact("loop", "inference_complete")

    (first,) = impact["children"]
    (again,) = first["children"]
    assert (first["cycle"], again["cycle"], again["children"]) == (False, True, [])
    assert impact["total_jobs"] == 2


def test_the_impact_applies_the_job_budget(table: Any, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PIE_CHAIN_JOB_BUDGET", "3")
    runtime.reset()
    create_model("src")
    for name in ("t1", "t2", "t3", "t4"):
        create_model(name)
        subscribe("src", name, action="training", stored_input={})

    impact = _impact("src")

    assert impact["total_jobs"] == 3
    refused = [node for node in impact["children"] if not node["would_fire"]]
    assert len(refused) == 1 and "job budget of 3" in refused[0]["error"]


def test_the_dry_run_decides_beside_the_events_other_subscriptions_as_the_firing_does(table: Any):
    create_model("up")
    create_model("down")
    first = subscribe("up", "down", action="training", stored_input={})
    second = subscribe("up", "down", action="training", stored_input={})
    ordered = sorted([first, second], key=lambda s: s.id)  # the order the firing reads them in

    said = {}
    for subscription in ordered:
        status, body, _ = call("test_subscription", model_id="up", subscription_id=subscription.id, body={})
        assert status == 200, body
        said[subscription.id] = (body["job"]["version"], body["job"]["cuts_version"])
    status, body, _ = set_status("up", "1", "training")
    status, body, _ = set_status("up", "1", "active")

    done = {job["trigger"]["subscription_id"]: job["version"] for job in jobs_of(table, "down")}
    assert said == {ordered[0].id: ("1", False), ordered[1].id: ("2", True)}
    assert done == {s_id: version for s_id, (version, _) in said.items()}

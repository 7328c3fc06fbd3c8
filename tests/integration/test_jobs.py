"""The job routes: starting inference and training, listing and reading jobs, and completing them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.domain.entities import Job, JobTrigger
from shared.runtime import outbox
from tests.integration.api_events import SEED_MODEL_ID, assert_error, call, create_model, create_version
from tests.integration.job_helpers import (
    complete,
    get_job,
    get_version,
    start_inference,
    start_training,
    started_job,
)
from tests.integration.lifecycle_helpers import jobs_of, set_status, subscribe, walk_to

SCORE_CONTRACTS = {
    "inference": {
        "input_schema": {
            "type": "object",
            "required": ["features"],
            "properties": {"features": {"type": "array", "items": {"type": "number"}}},
        },
        "output_schema": {
            "type": "object",
            "required": ["price"],
            "properties": {"price": {"type": "number"}},
        },
    },
    "training": {
        "input_schema": {"type": "object", "required": ["data_path"]},
        "output_schema": {"type": "object", "required": ["model_path"]},
    },
}


@pytest.fixture
def active_model(seed_model: dict[str, Any]) -> str:
    """The seed model with version 1 active."""
    walk_to(SEED_MODEL_ID, "1", "active")
    return SEED_MODEL_ID


@pytest.fixture
def scored_model(table: Any) -> str:
    """A model with inference and training contracts and an active version 1."""
    create_model("scored", handler_contracts=SCORE_CONTRACTS)
    walk_to("scored", "1", "active")
    return "scored"


def list_jobs(model_id: str, **query: str) -> tuple[int, dict[str, Any]]:
    status, body, _ = call("list_jobs", model_id=model_id, query=query)
    assert body is not None
    return status, body


# Starting inference --------------------------------------------------------------------------------


def test_inference_is_queued_on_the_active_version(active_model: str):
    status, body, headers = start_inference(active_model, {"features": [0.2, 0.4]})

    assert status == 202, body
    job = body["job"]
    assert uuid.UUID(job["id"])
    assert job["model_id"] == active_model
    assert job["version"] == "1"
    assert job["action"] == "inference"
    assert job["status"] == "queued"
    assert job["input"] == {"features": [0.2, 0.4]}
    assert job["output"] is None and job["error"] is None
    assert job["handler"] == {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:infer"}
    assert job["trigger"] is None
    assert (job["attempt"], job["attempt_history"]) == (1, [])
    assert headers["ETag"] == '"1"'
    assert get_job(active_model, job["id"]) == job


def test_inference_runs_the_version_it_names(active_model: str):
    create_version(active_model, "2")

    job = started_job(start_inference(active_model, {"features": [1]}, version="2"))

    assert job["version"] == "2"
    assert_error(start_inference(active_model, {"features": [1]}, version="9"), 404)


def test_inference_without_an_active_version_is_a_422_and_queues_nothing(seed_model: dict[str, Any], table: Any):
    message = assert_error(start_inference(SEED_MODEL_ID, {"features": [1]}), 422)

    assert "active version" in message
    assert jobs_of(table, SEED_MODEL_ID) == []


def test_inference_input_is_checked_against_the_input_schema_and_violations_are_listed_in_a_422(
    scored_model: str, table: Any
):
    message = assert_error(start_inference(scored_model, {"features": ["high", 2]}), 422)

    assert "input_schema" in message or "contract" in message
    assert "'high' is not of type 'number'" in message
    assert "/features/0" in message
    assert jobs_of(table, scored_model) == []
    assert "'features' is a required property" in assert_error(start_inference(scored_model, {"rows": []}), 422)
    assert started_job(start_inference(scored_model, {"features": [1.5, 2]}))["input"] == {"features": [1.5, 2]}


def test_jobs_of_an_unknown_model_are_404(table: Any):
    assert_error(start_inference("nope", {"features": [1]}), 404)
    assert_error(start_training("nope", {}), 404)
    assert_error(call("list_jobs", model_id="nope"), 404)


# Starting training ---------------------------------------------------------------------------------


def test_training_is_queued_and_moves_its_version_to_training(seed_model: dict[str, Any]):
    status, body, _ = start_training(SEED_MODEL_ID, {"data_path": "s3://d/"}, version="1")

    assert status == 202, body
    job = body["job"]
    assert (job["action"], job["version"], job["status"]) == ("training", "1", "queued")
    assert job["handler"] == seed_model["model"]["handlers"]["training"]
    version = get_version(SEED_MODEL_ID, "1")["version"]
    assert version["status"] == "training"
    assert job["id"] in version["status_message"]
    assert version["status_history"][-1]["status"] == "training"


def test_training_without_a_version_trains_the_newest(seed_model: dict[str, Any]):
    create_version(SEED_MODEL_ID, "2")

    job = started_job(start_training(SEED_MODEL_ID, {}))

    assert job["version"] == "2"
    assert get_version(SEED_MODEL_ID, "2")["version"]["status"] == "training"
    assert get_version(SEED_MODEL_ID, "1")["version"]["status"] == "pending"


def test_training_a_version_that_is_already_training_is_a_409(seed_model: dict[str, Any], table: Any):
    first = started_job(start_training(SEED_MODEL_ID, {}, version="1"))

    assert_error(start_training(SEED_MODEL_ID, {}, version="1"), 409)
    assert [job["id"] for job in jobs_of(table, SEED_MODEL_ID)] == [first["id"]]


def test_training_an_active_version_is_a_422(active_model: str, table: Any):
    message = assert_error(start_training(active_model, {}, version="1"), 422)

    assert "active" in message
    assert get_version(active_model, "1")["version"]["status"] == "active"
    assert jobs_of(table, active_model) == []


def test_training_input_is_checked_against_the_training_input_schema(scored_model: str):
    create_version(scored_model, "2")

    message = assert_error(start_training(scored_model, {"epochs": 3}, version="2"), 422)

    assert "'data_path' is a required property" in message
    assert get_version(scored_model, "2")["version"]["status"] == "pending"


# Listing and reading -------------------------------------------------------------------------------


def test_jobs_are_listed_newest_first(active_model: str):
    ids = [started_job(start_inference(active_model, {"n": n}))["id"] for n in range(3)]

    status, body = list_jobs(active_model)

    assert status == 200
    assert [job["id"] for job in body["jobs"]] == ids[::-1]
    assert body["next_token"] is None


def test_jobs_are_listed_by_status(active_model: str):
    ids = [started_job(start_inference(active_model, {"n": n}))["id"] for n in range(3)]
    complete(active_model, ids[1], {"status": "succeeded", "output": {}})

    _, succeeded = list_jobs(active_model, status="succeeded")
    _, queued = list_jobs(active_model, status="queued")
    _, failed = list_jobs(active_model, status="failed")

    assert [job["id"] for job in succeeded["jobs"]] == [ids[1]]
    assert [job["id"] for job in queued["jobs"]] == [ids[2], ids[0]]
    assert failed == {"jobs": [], "next_token": None}


def test_job_pages_list_each_job_once(active_model: str):
    ids = [started_job(start_inference(active_model, {"n": n}))["id"] for n in range(5)]

    seen: list[str] = []
    pages = 0
    query = {"limit": "2"}
    while True:
        status, body = list_jobs(active_model, **query)
        assert status == 200, body
        assert len(body["jobs"]) <= 2
        seen += [job["id"] for job in body["jobs"]]
        pages += 1
        if body["next_token"] is None:
            break
        query = {"limit": "2", "next_token": body["next_token"]}

    assert seen == ids[::-1]
    assert pages == 3


def test_a_bad_list_query_is_a_400(active_model: str):
    for query in ({"status": "running"}, {"limit": "0"}, {"limit": "101"}, {"next_token": "forged"}):
        assert_error(call("list_jobs", model_id=active_model, query=query), 400)


def test_reading_a_job(active_model: str):
    job = started_job(start_inference(active_model, {"features": [1]}))

    status, body, headers = call("get_job", model_id=active_model, job_id=job["id"])

    assert status == 200
    assert body == {"job": job}
    assert headers["ETag"] == '"1"'


def test_a_job_of_another_model_or_an_unknown_job_is_404(active_model: str):
    job = started_job(start_inference(active_model, {}))
    create_model("other")

    assert_error(call("get_job", model_id="other", job_id=job["id"]), 404)
    assert_error(call("get_job", model_id=active_model, job_id=str(uuid.uuid4())), 404)
    assert_error(complete("other", job["id"], {"status": "succeeded"}), 404)
    assert_error(complete(active_model, str(uuid.uuid4()), {"status": "succeeded"}), 404)
    assert get_job(active_model, job["id"])["status"] == "queued"


def test_a_job_id_that_is_not_a_uuid_is_a_400(active_model: str):
    assert_error(call("get_job", model_id=active_model, job_id="not-a-uuid"), 400)
    assert_error(complete(active_model, "not-a-uuid", {"status": "succeeded"}), 400)


# Completing ----------------------------------------------------------------------------------------


@pytest.fixture
def chain(table: Any) -> Any:
    """Model ``a`` (version 1 pending, to be trained) and model ``b`` with an active version 1."""
    create_model("a")
    create_model("b")
    walk_to("b", "1", "active")
    return table


def test_a_succeeded_training_job_activates_its_version_and_fires_training_complete(chain: Any):
    forwarded = subscribe("a", "b", input_source="trigger_output")
    stored = subscribe("a", "b", stored_input={"features": [3]})
    subscribe("a", "b", event="inference_complete", stored_input={})
    job = started_job(start_training("a", {"data_path": "s3://d/"}))

    status, body, _ = complete("a", job["id"], {"status": "succeeded", "output": {"model_path": "s3://m/1"}})

    assert status == 200, body
    assert body["job"]["status"] == "succeeded"
    assert body["job"]["output"] == {"model_path": "s3://m/1"}
    assert body["job"]["completed_at"] is not None
    assert "warnings" not in body
    fired = {event["subscription_id"]: event["job_id"] for event in body["triggered_events"]}
    assert set(fired) == {forwarded.id, stored.id}
    after = get_version("a", "1")
    assert after["version"]["status"] == "active"
    assert after["model"]["active_version"] == "1"
    assert after["model"]["status"] == "active"
    jobs = {j["id"]: j for j in jobs_of(chain, "b")}
    assert set(jobs) == set(fired.values())
    forwarded_job = jobs[fired[forwarded.id]]
    assert forwarded_job["input"] == {"model_path": "s3://m/1"}
    assert forwarded_job["status"] == "queued"
    assert forwarded_job["trigger"] == {
        "subscription_id": forwarded.id,
        "source_model_id": "a",
        "source_version": "1",
        "source_job_id": job["id"],
        "depth": 1,
        "root_job_id": job["id"],  # a direct request is its chain's root
    }
    assert jobs[fired[stored.id]]["input"] == {"features": [3]}
    assert get_job("a", job["id"])["status"] == "succeeded"


def test_a_failed_training_job_fails_its_version_with_the_error_and_fires_nothing(chain: Any):
    subscribe("a", "b", input_source="trigger_output")
    job = started_job(start_training("a", {}))

    status, body, _ = complete("a", job["id"], {"status": "failed", "error": "OOM at epoch 3"})

    assert status == 200, body
    assert body["job"]["status"] == "failed"
    assert body["job"]["error"] == "OOM at epoch 3"
    assert body["triggered_events"] == []
    version = get_version("a", "1")
    assert version["version"]["status"] == "failed"
    assert version["version"]["status_message"] == "OOM at epoch 3"
    assert version["model"]["active_version"] is None
    assert jobs_of(chain, "b") == []


def test_a_long_job_error_is_shortened_to_fit_the_versions_status_message(seed_model: dict[str, Any]):
    job = started_job(start_training(SEED_MODEL_ID, {}))
    error = "Traceback: " + "x" * 3000

    _, body, _ = complete(SEED_MODEL_ID, job["id"], {"status": "failed", "error": error})

    assert body["job"]["error"] == error
    version = get_version(SEED_MODEL_ID, "1")["version"]
    assert version["status"] == "failed"
    assert len(version["status_message"]) <= 1000
    assert version["status_message"].startswith(error[:900])
    assert version["status_history"][-1]["status_message"] == version["status_message"]


def test_a_succeeded_inference_job_fires_inference_complete_subscriptions(chain: Any):
    walk_to("a", "1", "active")
    on_inference = subscribe("a", "b", event="inference_complete", input_source="trigger_output")
    subscribe("a", "b", event="training_complete", stored_input={})
    job = started_job(start_inference("a", {"features": [1]}))

    _, body, _ = complete("a", job["id"], {"status": "succeeded", "output": {"price": 9.5}})

    (event,) = body["triggered_events"]
    assert event["subscription_id"] == on_inference.id
    (fired,) = jobs_of(chain, "b")
    assert fired["id"] == event["job_id"]
    assert fired["input"] == {"price": 9.5}
    assert fired["action"] == "inference"
    assert get_version("a", "1")["version"]["status"] == "active"


def test_a_failed_inference_job_fires_nothing(chain: Any):
    walk_to("a", "1", "active")
    subscribe("a", "b", event="inference_complete", stored_input={})
    job = started_job(start_inference("a", {}))

    _, body, _ = complete("a", job["id"], {"status": "failed", "error": "bad input"})

    assert body["triggered_events"] == []
    assert jobs_of(chain, "b") == []


def test_output_that_breaks_the_output_schema_completes_with_warnings(scored_model: str):
    job = started_job(start_inference(scored_model, {"features": [1]}))

    status, body, _ = complete(scored_model, job["id"], {"status": "succeeded", "output": {"price": "cheap"}})

    assert status == 200, body
    assert body["job"]["status"] == "succeeded"
    assert body["job"]["output"] == {"price": "cheap"}
    assert len(body["warnings"]) == 1
    assert "output_schema" in body["warnings"][0]
    assert "'cheap' is not of type 'number'" in body["warnings"][0]
    assert get_job(scored_model, job["id"])["status"] == "succeeded"


def test_output_that_matches_the_output_schema_has_no_warnings_key(scored_model: str):
    job = started_job(start_inference(scored_model, {"features": [1]}))

    _, body, _ = complete(scored_model, job["id"], {"status": "succeeded", "output": {"price": 4.2}})

    assert "warnings" not in body
    assert set(body) == {"job", "triggered_events"}


def test_a_finished_job_cannot_be_completed_again(chain: Any):
    subscribe("a", "b", input_source="trigger_output")
    job = started_job(start_training("a", {}))
    _, first, _ = complete("a", job["id"], {"status": "succeeded", "output": {"model_path": "s3://m/1"}})
    before = (get_job("a", job["id"]), get_version("a", "1"), jobs_of(chain, "b"))

    message = assert_error(complete("a", job["id"], {"status": "failed", "error": "late"}), 409)
    assert_error(complete("a", job["id"], {"status": "succeeded", "output": {"model_path": "s3://m/2"}}), 409)

    assert "already succeeded" in message
    assert (get_job("a", job["id"]), get_version("a", "1"), jobs_of(chain, "b")) == before
    assert len(before[2]) == len(first["triggered_events"]) == 1


def test_completing_needs_the_jobs_write_scope(active_model: str):
    job = started_job(start_inference(active_model, {}))

    assert_error(complete(active_model, job["id"], {"status": "succeeded"}, scope="models:read models:write"), 403)

    assert get_job(active_model, job["id"])["status"] == "queued"


def test_completing_with_a_status_other_than_succeeded_or_failed_is_a_400(active_model: str):
    job = started_job(start_inference(active_model, {}))

    for status in ("running", "queued", "dispatched"):
        assert_error(complete(active_model, job["id"], {"status": status}), 400)
    assert_error(complete(active_model, job["id"], {"status": "succeeded", "result": {}}), 400)
    assert get_job(active_model, job["id"])["status"] == "queued"


def _triggered_job(model_id: str, depth: int) -> Job:
    """A dispatched inference job of ``model_id`` that a chain ``depth`` links long fired."""
    now = datetime.now(UTC)
    return Job(
        id=str(uuid.uuid4()),
        model_id=model_id,
        version="1",
        action="inference",
        status="dispatched",
        input={},
        handler={"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:infer"},
        trigger=JobTrigger(
            subscription_id=str(uuid.uuid4()), source_model_id="z", source_job_id=str(uuid.uuid4()), depth=depth
        ),
        created_at=now,
        updated_at=now,
    )


def test_a_chain_at_the_depth_limit_fires_an_error_instead_of_a_job(chain: Any):
    walk_to("a", "1", "active")
    subscription = subscribe("a", "b", event="inference_complete", input_source="trigger_output")
    deep = _triggered_job("a", depth=8)
    outbox().commit([], [deep], "a", f"test:{deep.id}")

    status, body, _ = complete("a", deep.id, {"status": "succeeded", "output": {"price": 1}})

    assert status == 200, body
    (event,) = body["triggered_events"]
    assert event["subscription_id"] == subscription.id
    assert "job_id" not in event
    assert "chain depth 9" in event["error"]
    assert "8" in event["error"]
    assert jobs_of(chain, "b") == []
    assert get_job("a", deep.id)["status"] == "succeeded"


def test_a_chain_below_the_depth_limit_fires_the_next_link_one_deeper(chain: Any):
    walk_to("a", "1", "active")
    subscribe("a", "b", event="inference_complete", input_source="trigger_output")
    job = _triggered_job("a", depth=7)
    outbox().commit([], [job], "a", f"test:{job.id}")

    _, body, _ = complete("a", job.id, {"status": "succeeded", "output": {"price": 1}})

    (event,) = body["triggered_events"]
    (fired,) = jobs_of(chain, "b")
    assert fired["id"] == event["job_id"]
    assert fired["trigger"]["depth"] == 8
    assert fired["trigger"]["source_job_id"] == job.id


def test_the_version_a_training_job_left_is_not_moved_by_its_completion(seed_model: dict[str, Any]):
    job = started_job(start_training(SEED_MODEL_ID, {}))
    set_status(SEED_MODEL_ID, "1", "failed", status_message="cancelled by hand")

    status, body, _ = complete(SEED_MODEL_ID, job["id"], {"status": "succeeded", "output": {}})

    assert status == 200, body
    assert body["job"]["status"] == "succeeded"
    assert any("'failed'" in warning for warning in body["warnings"])
    assert get_version(SEED_MODEL_ID, "1")["version"]["status"] == "failed"

"""Job supervision under moto: deadlines, the sweeper, retries, stale attempts, cancel and redrive.

Time is a fake clock every PIE component reads (``runtime.utc_now``), moved by the tests: nothing
sleeps.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import runtime
from shared.domain import supervision
from shared.domain.access import Access
from shared.kinds import starting
from tests.integration.api_events import SEED_MODEL_ID, call
from tests.integration.job_helpers import (
    RecordingEcs,
    RecordingLambda,
    complete,
    drain,
    get_job,
    get_version,
    start_inference,
    start_training,
    started_job,
    table_stream,
)
from tests.integration.lifecycle_helpers import walk_to

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LAMBDA_TIMEOUT = supervision.DEFAULT_TIMEOUT_SECONDS["lambda"]
SERVICE = Access.service("test")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch, table: Any) -> Clock:
    fake = Clock()
    monkeypatch.setattr(runtime, "utc_now", fake)
    monkeypatch.setattr(runtime, "_stand_ins", {})
    monkeypatch.setattr(starting.Backoff, "__init__", _no_sleep_backoff(starting.Backoff.__init__))
    runtime.reset()
    # The jitter draws 1.0: a retry waits exactly base x 2^(attempt-1).
    monkeypatch.setattr("random.random", lambda: 1.0)
    return fake


def _no_sleep_backoff(init: Any) -> Any:
    def patched(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["sleep"] = lambda _: None
        init(self, *args, **kwargs)

    return patched


@pytest.fixture
def lambdas(clock: Clock) -> RecordingLambda:
    client = RecordingLambda()
    runtime.use_stand_in("lambda", client)
    return client


@pytest.fixture
def stream(seed_model: dict[str, Any]):
    stream = table_stream()
    stream.read()  # past the model's creation
    return stream


def sweep() -> dict[str, int]:
    report = runtime.sweeper().sweep()
    return dict(report.outcomes)


def retry_body(attempts: int, backoff: int = 30) -> dict[str, Any]:
    return {"retry": {"max_attempts": attempts, "backoff_seconds": backoff}}


def test_a_lambda_job_nobody_completes_times_out_is_retried_then_fails_and_its_version_goes_failed(
    lambdas: RecordingLambda, stream: Any, clock: Clock
):
    job = started_job(start_training(SEED_MODEL_ID, {}, **retry_body(2)))
    drain(stream)
    running = get_job(SEED_MODEL_ID, job["id"])
    assert running["status"] == "dispatched" and running["started_at"] is not None
    assert running["deadline_at"] == (clock.now + timedelta(seconds=LAMBDA_TIMEOUT)).isoformat().replace("+00:00", "Z")

    clock.advance(LAMBDA_TIMEOUT - 1)
    assert sweep() == {}  # not due yet
    clock.advance(2)
    assert sweep() == {"timed_out, retried": 1}
    waiting = get_job(SEED_MODEL_ID, job["id"])
    assert (waiting["status"], waiting["attempt"]) == ("queued", 2)
    assert waiting["attempt_history"][0]["outcome"] == "timed_out"
    assert get_version(SEED_MODEL_ID, "1")["version"]["status"] == "training"  # still bound to the job

    drain(stream)
    assert len(lambdas.calls) == 1, "no attempt before not_before"
    clock.advance(30)
    assert sweep() == {"released": 1}
    drain(stream)
    assert [e["attempt"] for e in lambdas.envelopes()] == [1, 2]

    clock.advance(LAMBDA_TIMEOUT + 1)
    assert sweep() == {"timed_out": 1}
    failed = get_job(SEED_MODEL_ID, job["id"])
    assert failed["status"] == "failed"
    assert [a["outcome"] for a in failed["attempt_history"]] == ["timed_out", "timed_out"]
    assert "timed out" in failed["error"]
    version = get_version(SEED_MODEL_ID, "1")["version"]
    assert version["status"] == "failed"
    assert "timed out" in version["status_message"]
    assert version["status_history"][-1]["status_message"] == version["status_message"]


def test_a_late_completion_of_a_timed_out_attempt_is_a_409_that_changes_nothing(
    lambdas: RecordingLambda, stream: Any, clock: Clock
):
    job = started_job(start_training(SEED_MODEL_ID, {}, **retry_body(2)))
    drain(stream)
    clock.advance(LAMBDA_TIMEOUT + 1)
    sweep()
    before = get_job(SEED_MODEL_ID, job["id"])

    for body in ({"status": "succeeded", "output": {}, "attempt": 1}, {"status": "succeeded", "output": {}}):
        status, answer, _ = complete(SEED_MODEL_ID, job["id"], body)
        assert status == 409, answer
        assert answer["success"] is False
    assert get_job(SEED_MODEL_ID, job["id"]) == before


def test_a_completion_for_the_attempt_in_flight_counts(lambdas: RecordingLambda, stream: Any, clock: Clock):
    walk_to(SEED_MODEL_ID, "1", "active")
    job = started_job(start_inference(SEED_MODEL_ID, {"features": [0.1]}, **retry_body(3)))
    drain(stream)

    status, answer, _ = complete(SEED_MODEL_ID, job["id"], {"status": "succeeded", "output": {"y": 1}, "attempt": 1})

    assert status == 200, answer
    assert answer["job"]["attempt_history"][0]["outcome"] == "succeeded"


def test_a_reported_failure_is_retried_after_its_backoff_unless_it_says_it_is_not_retryable(
    lambdas: RecordingLambda, stream: Any, clock: Clock
):
    walk_to(SEED_MODEL_ID, "1", "active")
    stream.read()
    retried = started_job(start_inference(SEED_MODEL_ID, {"features": [0.1]}, **retry_body(3, backoff=10)))
    final = started_job(start_inference(SEED_MODEL_ID, {"features": [0.2]}, **retry_body(3, backoff=10)))
    drain(stream)

    assert complete(SEED_MODEL_ID, retried["id"], {"status": "failed", "error": "flaky", "attempt": 1})[0] == 200
    assert complete(SEED_MODEL_ID, final["id"], {"status": "failed", "error": "bad", "retryable": False})[0] == 200

    waiting = get_job(SEED_MODEL_ID, retried["id"])
    assert (waiting["status"], waiting["attempt"]) == ("queued", 2)
    assert waiting["not_before"] == (clock.now + timedelta(seconds=10)).isoformat().replace("+00:00", "Z")
    assert get_job(SEED_MODEL_ID, final["id"])["status"] == "failed"
    clock.advance(9)
    assert sweep() == {}
    drain(stream)
    assert len(lambdas.calls) == 2
    clock.advance(1)
    assert sweep() == {"released": 1}
    drain(stream)
    assert len(lambdas.calls) == 3
    # The second failure waits twice as long.
    complete(SEED_MODEL_ID, retried["id"], {"status": "failed", "error": "flaky", "attempt": 2})
    again = get_job(SEED_MODEL_ID, retried["id"])
    assert again["not_before"] == (clock.now + timedelta(seconds=20)).isoformat().replace("+00:00", "Z")


def test_a_job_claimed_by_a_dispatcher_that_died_before_starting_it_is_recovered(
    lambdas: RecordingLambda, stream: Any, clock: Clock
):
    job = started_job(start_training(SEED_MODEL_ID, {}, **retry_body(2)))
    stream.read()  # the dispatcher got the record ...
    claim = runtime.job_service().claim(runtime.job_service().get(SEED_MODEL_ID, job["id"], SERVICE).job)
    assert claim is not None  # ... claimed the job, and died before Invoke
    clock.advance(supervision.START_DEADLINE_SECONDS + 1)

    assert sweep() == {"not_started, retried": 1}
    clock.advance(30)
    assert sweep() == {"released": 1}
    drain(stream)

    recovered = get_job(SEED_MODEL_ID, job["id"])
    assert (recovered["status"], recovered["attempt"]) == ("dispatched", 2)
    assert recovered["attempt_history"][0]["outcome"] == "not_started"
    assert [e["attempt"] for e in lambdas.envelopes()] == [2]


def test_a_queued_job_whose_stream_record_was_dropped_is_dispatched_by_the_sweeper(
    lambdas: RecordingLambda, stream: Any, clock: Clock
):
    job = started_job(start_training(SEED_MODEL_ID, {}))
    stream.read()  # the record is lost
    clock.advance(supervision.QUEUE_GRACE_SECONDS + 1)

    assert sweep() == {"requeued": 1}
    drain(stream)

    assert get_job(SEED_MODEL_ID, job["id"])["status"] == "dispatched"
    assert lambdas.invoked_job_ids() == [job["id"]]


def test_a_queued_job_nothing_ever_dispatches_fails_with_the_reason_after_bounded_requeues(
    lambdas: RecordingLambda, stream: Any, clock: Clock
):
    job = started_job(start_training(SEED_MODEL_ID, {}))
    for _ in range(supervision.MAX_REQUEUES):
        clock.advance(supervision.QUEUE_GRACE_SECONDS + 1)
        assert sweep() == {"requeued": 1}
        stream.read()  # dropped again
    clock.advance(supervision.QUEUE_GRACE_SECONDS + 1)
    assert sweep() == {"not_started": 1}

    failed = get_job(SEED_MODEL_ID, job["id"])
    assert failed["status"] == "failed" and "never dispatched" in failed["error"]
    assert get_version(SEED_MODEL_ID, "1")["version"]["status"] == "failed"


def test_two_sweepers_racing_end_each_attempt_once(lambdas: RecordingLambda, stream: Any, clock: Clock):
    walk_to(SEED_MODEL_ID, "1", "active")
    jobs = [started_job(start_inference(SEED_MODEL_ID, {"features": [i]}, **retry_body(2))) for i in range(12)]
    drain(stream)
    clock.advance(LAMBDA_TIMEOUT + 1)
    a, b = runtime.sweeper(), runtime.sweeper()
    reports: list[Any] = []
    threads = [threading.Thread(target=lambda s=s: reports.append(s.sweep())) for s in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(r.count("timed_out") for r in reports) == len(jobs)
    for job in jobs:
        stored = get_job(SEED_MODEL_ID, job["id"])
        assert [h["attempt"] for h in stored["attempt_history"]] == [1]
        assert stored["attempt"] == 2


def test_a_sweep_with_nothing_due_costs_one_query_per_shard_and_grows_with_pages_of_100(
    lambdas: RecordingLambda, stream: Any, clock: Clock
):
    from shared.data.keys import DUE_SHARDS

    assert runtime.sweeper().sweep().queries == DUE_SHARDS


# Cancel and redrive -------------------------------------------------------------------------------


def cancel(job_id: str, **headers: str) -> Any:
    return call("cancel_job", model_id=SEED_MODEL_ID, job_id=job_id, headers=headers or None)


def redrive(job_id: str, **headers: str) -> Any:
    return call("retry_job", model_id=SEED_MODEL_ID, job_id=job_id, headers=headers or None)


def test_cancel_ends_a_dispatched_training_job_its_version_goes_failed_and_a_later_completion_is_a_409(
    lambdas: RecordingLambda, stream: Any, clock: Clock
):
    job = started_job(start_training(SEED_MODEL_ID, {}, **retry_body(3)))
    drain(stream)

    status, body, _ = cancel(job["id"], **{"Idempotency-Key": "cancel-1"})
    assert status == 200, body
    assert body["job"]["status"] == "failed"
    assert body["job"]["attempt_history"][-1]["outcome"] == "cancelled"
    version = get_version(SEED_MODEL_ID, "1")["version"]
    assert version["status"] == "failed" and "cancelled" in version["status_message"]
    # The same request again is a replay of the first answer; a new one is a 409.
    assert cancel(job["id"], **{"Idempotency-Key": "cancel-1"})[:2] == (status, body)
    assert cancel(job["id"])[0] == 409
    late = complete(SEED_MODEL_ID, job["id"], {"status": "succeeded", "output": {}, "attempt": 1})
    assert late[0] == 409
    assert get_job(SEED_MODEL_ID, job["id"]) == body["job"]


def test_cancel_stops_the_ecs_task_its_start_recorded(clock: Clock, seed_model: dict[str, Any]):
    ecs = RecordingEcs()
    stopped: list[dict[str, Any]] = []
    ecs.stop_task = lambda **request: stopped.append(request) or {}  # type: ignore[attr-defined]
    runtime.use_stand_in("ecs", ecs)
    stream = table_stream()
    stream.read()
    status, _, _ = call(
        "update_model",
        model_id=SEED_MODEL_ID,
        body={
            **_model_body(),
            "handlers": {
                **_model_body()["handlers"],
                "training": {"type": "ecs", "task": "ml-cluster/train-price-model:3"},
            },
        },
    )
    assert status == 200
    job = started_job(start_training(SEED_MODEL_ID, {}))
    drain(stream)
    task_arn = get_job(SEED_MODEL_ID, job["id"])["task_arn"]

    assert cancel(job["id"])[0] == 200

    assert stopped == [{"cluster": "ml-cluster", "task": task_arn, "reason": f"PIE job {job['id']} cancelled"}]


def _model_body() -> dict[str, Any]:
    from tests.integration.api_events import sample_body

    body = sample_body("create_model")
    return {key: value for key, value in body.items() if key != "id"}


def test_if_match_guards_cancel_and_retry(lambdas: RecordingLambda, stream: Any, clock: Clock):
    job = started_job(start_training(SEED_MODEL_ID, {}))

    assert cancel(job["id"], **{"If-Match": '"99"'})[0] == 409
    status, body, _ = cancel(job["id"], **{"If-Match": f'"{job["entity_version"]}"'})
    assert status == 200, body
    answer = redrive(job["id"], **{"If-Match": '"1"'})
    assert answer[0] == 409, answer


def test_redrive_puts_a_failed_job_back_as_its_next_attempt_and_its_version_back_in_training(
    lambdas: RecordingLambda, stream: Any, clock: Clock
):
    job = started_job(start_training(SEED_MODEL_ID, {}))
    drain(stream)
    complete(SEED_MODEL_ID, job["id"], {"status": "failed", "error": "out of memory"})

    status, body, _ = redrive(job["id"], **{"Idempotency-Key": "redrive-1"})
    assert status == 202, body
    assert (body["job"]["id"], body["job"]["status"], body["job"]["attempt"], body["job"]["max_attempts"]) == (
        job["id"],
        "queued",
        2,
        2,
    )
    assert get_version(SEED_MODEL_ID, "1")["version"]["status"] == "training"
    assert redrive(job["id"], **{"Idempotency-Key": "redrive-1"})[:2] == (status, body)  # a replay
    assert redrive(job["id"])[0] == 409  # not failed any more
    drain(stream)
    assert [e["attempt"] for e in lambdas.envelopes()] == [1, 2]
    assert complete(SEED_MODEL_ID, job["id"], {"status": "succeeded", "output": {}, "attempt": 2})[0] == 200
    assert get_version(SEED_MODEL_ID, "1")["version"]["status"] == "active"


def test_redriving_a_training_job_whose_version_cannot_train_again_is_a_422(
    lambdas: RecordingLambda, stream: Any, clock: Clock
):
    job = started_job(start_training(SEED_MODEL_ID, {}))
    drain(stream)
    complete(SEED_MODEL_ID, job["id"], {"status": "failed", "error": "boom"})
    walk_to(SEED_MODEL_ID, "1", "pending")
    walk_to(SEED_MODEL_ID, "1", "active")

    status, body, _ = redrive(job["id"])

    assert status == 422, body
    assert get_job(SEED_MODEL_ID, job["id"])["status"] == "failed"


def test_a_subscription_fires_jobs_with_its_retry_policy_or_three_attempts(clock: Clock, seed_model: dict[str, Any]):
    from tests.integration.api_events import create_model

    create_model("model_target")
    walk_to("model_target", "1", "active")
    for label, retry in (("default", None), ("custom", {"max_attempts": 5, "backoff_seconds": 7})):
        body = {
            "trigger_event": "inference_complete",
            "target_model_id": "model_target",
            "target_action": "inference",
            "input_source": "stored",
            "input": {"features": [1]},
            "label": label,
        }
        if retry:
            body["retry"] = retry
        status, answer, _ = call("create_subscription", model_id=SEED_MODEL_ID, body=body)
        assert status == 201, answer
    walk_to(SEED_MODEL_ID, "1", "active")
    job = started_job(start_inference(SEED_MODEL_ID, {"features": [0]}))

    fired = complete(SEED_MODEL_ID, job["id"], {"status": "succeeded", "output": {}})[1]["triggered_events"]

    policies = sorted(
        (get_job("model_target", e["job_id"])["max_attempts"], get_job("model_target", e["job_id"])["backoff_seconds"])
        for e in fired
    )
    assert policies == [(3, 30), (5, 7)]


# The delivery log ---------------------------------------------------------------------------------


def test_the_delivery_log_pages_500_jobs_across_20_models_exactly_once_and_filters(clock: Clock, table: Any):
    from shared.data.keys import LOG_SHARDS
    from tests.integration.api_events import create_model

    models = [f"model_{n:02d}" for n in range(20)]
    for model_id in models:
        create_model(model_id)
        walk_to(model_id, "1", "active")
    started: list[tuple[str, str]] = []
    for n in range(500):
        model_id = models[n % 20]
        clock.advance(1)
        started.append((model_id, started_job(start_inference(model_id, {"features": [n]}))["id"]))
    for model_id, job_id in started[:50]:
        clock.advance(1)
        complete(model_id, job_id, {"status": "failed", "error": "x", "retryable": False})

    calls = _counting_queries()
    seen, token, pages = [], None, 0
    while True:
        query = {"limit": "100", **({"next_token": token} if token else {})}
        status, body, _ = call("list_all_jobs", query=query)
        assert status == 200, body
        seen += [(j["model_id"], j["id"], j["updated_at"]) for j in body["jobs"]]
        pages += 1
        token = body["next_token"]
        if token is None:
            break
    assert sorted((m, j) for m, j, _ in seen) == sorted(started)
    assert [u for _, _, u in seen] == sorted((u for _, _, u in seen), reverse=True)
    assert pages <= 6 and len(calls) <= pages * LOG_SHARDS

    failed = all_pages({"status": "failed"})
    assert sorted(j["id"] for j in failed) == sorted(job_id for _, job_id in started[:50])
    one_model = all_pages({"model_id": "model_03"})
    assert sorted(j["id"] for j in one_model) == sorted(j for m, j in started if m == "model_03")
    since = (clock.now - timedelta(seconds=9)).isoformat()
    recent = all_pages({"since": since})
    assert [j["id"] for j in recent] == [job_id for _, job_id in reversed(started[40:50])]


def all_pages(query: dict[str, str]) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    token = None
    while True:
        status, body, _ = call(
            "list_all_jobs", query={**query, "limit": "100", **({"next_token": token} if token else {})}
        )
        assert status == 200, body
        jobs += body["jobs"]
        token = body["next_token"]
        if token is None:
            return jobs


def _counting_queries() -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    client = runtime.dynamodb_client()
    client.meta.events.register("before-call.dynamodb.Query", lambda params, **_: calls.append(params))
    return calls


def test_an_overdue_job_of_a_model_deleted_meanwhile_still_ends(clock: Clock, table: Any):
    from bench.supervision import _overdue_jobs
    from shared.data.entities import JOBS

    (job,) = _overdue_jobs(1)
    table.put_item(
        TableName="pie-local",
        Item=JOBS.encode(job.model_copy(update={"deadline_at": clock.now - timedelta(seconds=1)})),
    )

    assert sweep() == {"timed_out": 1}
    assert runtime.job_service().get(job.model_id, job.id, SERVICE).job.status == "failed"


@pytest.mark.parametrize("since", ["0.5", "yesterday", "2026-13-01T00:00:00Z"])
def test_the_delivery_log_refuses_a_since_that_is_not_an_iso_date_time(table: Any, since: str):
    status, body, _ = call("list_all_jobs", query={"since": since})

    assert status in (400, 422), body
    assert body["success"] is False

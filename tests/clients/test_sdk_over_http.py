"""The SDK against a real ``pie-local serve`` over HTTP: every operation, pagination, waiting for
jobs and the safe retry of a POST whose answer was lost. (Refused writes are in
test_sdk_errors_over_http.py, on a server of their own.)"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from pie_client import BadRequest, Conflict, NotFound, PieClient, RetryPolicy, WaitTimeout
from pie_client.models import InProcessHandler, Job, LambdaHandler
from tests.clients.handlers import ECHO, WAITING, new_id
from tests.e2e.client import Api
from tests.e2e.local_server import LocalServer

pytestmark = pytest.mark.e2e


def test_models_are_created_read_listed_updated_and_deleted(pie: PieClient):
    model_id = new_id()

    created = pie.create_model(
        model_id, name="Prices", handlers=ECHO, description="first", metadata={"team": "pricing"}
    )
    fetched = pie.get_model(model_id)
    updated = pie.update_model(
        model_id, name="Prices v2", handlers=WAITING, description="second", metadata={"team": "pricing"}
    )
    listed = [model.id for model in pie.iter_models(status="pending")]
    pie.delete_model(model_id)

    assert created.model.id == model_id and created.version.version == "1"
    assert isinstance(fetched.handlers.training, InProcessHandler)
    assert fetched.metadata == {"team": "pricing"}
    assert updated.model.name == "Prices v2" and isinstance(updated.model.handlers.training, LambdaHandler)
    assert updated.model.entity_version == fetched.entity_version + 1
    assert model_id in listed
    with pytest.raises(NotFound) as missing:
        pie.get_model(model_id)
    assert missing.value.status == 404 and model_id in missing.value.message


def test_versions_are_cut_listed_read_and_moved_through_their_lifecycle(pie: PieClient):
    model_id = new_id()
    pie.create_model(model_id, name="Prices", handlers=WAITING)

    cut = pie.create_version(model_id, "2", description="Q4", metadata={"dataset": "q4"})
    latest = pie.get_version(model_id)
    newest_first = [version.version for version in pie.iter_versions(model_id)]
    training = pie.set_version_status(model_id, "2", "training")
    active = pie.set_version_status(model_id, "latest", "active", status_message="AUC 0.91")

    assert cut.version.version == "2" and cut.version.metadata == {"dataset": "q4"}
    assert latest.version.version == "2"
    assert newest_first == ["2", "1"]
    assert training.version.status == "training" and training.triggered_events == []
    assert active.model.active_version == "2" and active.model.status == "active"
    assert [change.status for change in active.version.status_history] == ["pending", "training", "active"]
    assert pie.list_versions(model_id, limit=1).next_token is not None


def test_subscriptions_are_created_tested_updated_listed_and_deleted(pie: PieClient):
    source, target = new_id("src"), new_id("dst")
    pie.create_model(source, name="Source", handlers=WAITING)
    pie.create_model(target, name="Target", handlers=WAITING)

    subscription = pie.create_subscription(
        source,
        trigger_event="training_complete",
        target_model_id=target,
        target_action="inference",
        input_source="stored",
        input={"features": [1]},
        label="refresh",
    )
    dry_run = pie.test_subscription(source, subscription.id)
    paused = pie.update_subscription(source, subscription.id, status="paused")
    listed = list(pie.iter_subscriptions(source))
    fetched = pie.get_subscription(source, subscription.id)
    pie.delete_subscription(source, subscription.id)

    assert subscription.status == "active" and subscription.label == "refresh"
    assert dry_run.subscription_id == subscription.id
    assert dry_run.would_fire is False and dry_run.error  # the target has no active version yet
    assert paused.status == "paused" and paused.label == "refresh"  # a partial update keeps the label
    assert [item.id for item in listed] == [subscription.id]
    assert fetched.status == "paused"
    with pytest.raises(NotFound):
        pie.get_subscription(source, subscription.id)


def test_training_runs_to_completion_and_wait_for_job_returns_the_final_job(pie: PieClient):
    model_id = new_id()
    pie.create_model(model_id, name="Echo", handlers=ECHO)

    job = pie.start_training(model_id, {"data": "s3://prices"})
    finished = pie.wait_for_job(model_id, job.id, timeout=30, poll=0.1)
    inference = pie.start_inference(model_id, {"features": [1, 2]})
    inferred = pie.wait_for_job(model_id, inference.id, timeout=30, poll=0.1)

    assert job.status == "queued" and job.action == "training"
    assert finished.status == "succeeded" and finished.output == {"data": "s3://prices"}
    assert inferred.status == "succeeded" and inferred.version == "1"
    assert pie.get_model(model_id).active_version == "1"
    assert {item.id for item in pie.iter_jobs(model_id, status="succeeded")} == {job.id, inference.id}
    assert pie.get_job(model_id, job.id).completed_at is not None


def test_a_dispatched_job_is_completed_and_wait_for_job_times_out_before_that(pie: PieClient):
    model_id = new_id()
    pie.create_model(model_id, name="Lambda", handlers=WAITING)
    job = pie.start_training(model_id, {"data": "x"})
    seen: list[str] = []

    with pytest.raises(WaitTimeout) as timed_out:
        pie.wait_for_job(model_id, job.id, timeout=0.5, poll=0.1, on_poll=lambda polled: seen.append(polled.status))
    completion = pie.complete_job(model_id, job.id, "succeeded", output={"model_path": "s3://m"})

    assert timed_out.value.job.id == job.id and not timed_out.value.job.finished
    assert seen and set(seen) <= {"queued", "dispatched"}
    assert completion.job.status == "succeeded" and completion.job.output == {"model_path": "s3://m"}
    assert pie.wait_for_job(model_id, job.id, timeout=5).status == "succeeded"


def test_a_completion_token_that_is_not_the_attempts_is_a_conflict_and_none_is_a_hand_completion(pie: PieClient):
    model_id = new_id("token")
    pie.create_model(model_id, name="Lambda", handlers=WAITING)
    job = pie.start_training(model_id, {"data": "x"})

    with pytest.raises(Conflict) as refused:
        pie.complete_job(model_id, job.id, "succeeded", output={}, completion_token="not-the-attempts")
    completion = pie.complete_job(model_id, job.id, "succeeded", output={"model_path": "s3://m"})

    assert "completion token" in refused.value.message
    assert completion.job.status == "succeeded"


def test_iter_models_follows_next_token_over_250_models(server: LocalServer, token: str):
    prefix = new_id("page")
    # Seeded with plain requests (no Idempotency-Key records): the SDK is under test when reading.
    seeder = Api(server.url, token)
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(
            pool.map(
                lambda n: (
                    seeder.post("/v2/models", {"id": f"{prefix}-{n:03d}", "name": "m", "handlers": WAITING}).status
                ),
                range(250),
            )
        )
    pages: list[int] = []

    class CountsPages(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            pages.append(1)
            return super().handle_request(request)

    with PieClient(server.url, token, transport=CountsPages()) as pie:
        seen = [model.id for model in pie.iter_models(page_size=100) if model.id.startswith(prefix)]

    assert statuses == [201] * 250
    assert sorted(seen) == [f"{prefix}-{n:03d}" for n in range(250)]
    assert len(set(seen)) == 250
    assert len(pages) >= 3  # one request per page of at most 100


def test_a_post_whose_answer_was_lost_is_retried_with_the_same_key_and_writes_once(server: LocalServer, token: str):
    """The first answer of each POST is dropped after the server has acted on it; the retry, with
    the same Idempotency-Key, gets the first answer replayed instead of a 409 or a second job."""
    network = httpx.HTTPTransport()
    keys: list[str] = []

    class LosesTheFirstAnswer(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = network.handle_request(request)
            if request.method == "POST":
                keys.append(request.headers["Idempotency-Key"])
                if len(keys) % 2 == 1:
                    response.read()
                    response.close()
                    raise httpx.ReadError("connection reset before the answer arrived", request=request)
            return response

    model_id = new_id()
    retrying = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05)
    with PieClient(server.url, token, transport=LosesTheFirstAnswer(), retry=retrying) as pie:
        created = pie.create_model(model_id, name="Once", handlers=WAITING)
        job = pie.start_inference(model_id, {"n": 1}, version="1")
        jobs = list(pie.iter_jobs(model_id))

    assert created.model.id == model_id
    assert keys[0] == keys[1] and keys[2] == keys[3] and keys[0] != keys[2]
    assert [item.id for item in jobs] == [job.id]  # one job, not two


def test_each_post_gets_its_own_idempotency_key(server: LocalServer, token: str):
    seen: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Idempotency-Key", ""))
        return httpx.HTTPTransport().handle_request(request)

    model_id = new_id()
    with PieClient(server.url, token, transport=httpx.MockTransport(record)) as pie:
        pie.create_model(model_id, name="a", handlers=WAITING)
        pie.create_version(model_id, "2")
        pie.get_model(model_id)

    assert len(seen) == 3 and seen[2] == ""  # GET carries none
    assert seen[0] and seen[1] and seen[0] != seen[1]


def test_a_job_is_cancelled_redriven_and_found_in_the_delivery_log(pie: PieClient):
    model_id = new_id()
    pie.create_model(model_id, name="Supervised", handlers=WAITING)
    job = pie.start_training(model_id, {})

    cancelled = pie.cancel_job(model_id, job.id)
    redriven = pie.retry_job(model_id, job.id)
    logged = [j.id for j in pie.iter_all_jobs(model_id=model_id)]

    assert cancelled.status == "failed" and cancelled.attempt_history[-1].outcome == "cancelled"
    assert (redriven.id, redriven.status, redriven.attempt) == (job.id, "queued", 2)
    assert logged == [job.id]


def _chain(pie: PieClient) -> tuple[str, str, str]:
    """An upstream model whose completed training trains a downstream one."""
    source, target = new_id("up"), new_id("down")
    pie.create_model(source, name="Upstream", handlers=ECHO)
    pie.create_model(target, name="Downstream", handlers=ECHO)
    subscription = pie.create_subscription(
        source,
        trigger_event="training_complete",
        target_model_id=target,
        target_action="training",
        input_source="trigger_output",
    )
    return source, target, subscription.id


def _only_job(pie: PieClient, model_id: str) -> Job:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        jobs = list(pie.iter_jobs(model_id))
        if jobs and jobs[0].finished:
            return jobs[0]
        time.sleep(0.1)
    raise AssertionError(f"no finished job on {model_id}")


def test_a_chained_version_names_its_lineage_back_to_the_root(pie: PieClient):
    source, target, subscription_id = _chain(pie)
    root = pie.wait_for_job(source, pie.start_training(source, {"rows": 1}).id, timeout=30, poll=0.1)
    downstream = _only_job(pie, target)

    lineage = pie.get_version_lineage(target, downstream.version)
    version = pie.get_version(target, downstream.version).version

    assert [(step.model_id, step.version, step.job_id, step.subscription_id) for step in lineage] == [
        (target, downstream.version, downstream.id, subscription_id),
        (source, root.version, root.id, None),
    ]
    assert version.lineage is not None and version.lineage.job_id == downstream.id
    assert version.lineage.trigger is not None and version.lineage.trigger.root_job_id == root.id
    assert downstream.trigger is not None and downstream.trigger.root_job_id == root.id
    assert pie.get_version_lineage(source, "1")[0].subscription_id is None


def test_the_impact_says_which_version_a_firing_would_train_or_cut(pie: PieClient):
    source, target, subscription_id = _chain(pie)

    before = pie.get_impact(source)
    pie.wait_for_job(source, pie.start_training(source, {"rows": 1}).id, timeout=30, poll=0.1)
    _only_job(pie, target)  # the downstream training made its version 1 active
    after = pie.get_impact(source, "training_complete")
    nothing = pie.get_impact(source, "inference_complete")

    (first,) = before.children
    assert (first.subscription_id, first.target_model_id, first.action) == (subscription_id, target, "training")
    assert (first.version, first.cuts_version, first.would_fire, first.cycle) == ("1", False, True, False)
    assert (before.total_jobs, before.event, before.model_id) == (1, "training_complete", source)
    assert before.job_budget >= 1 and before.max_depth >= 1
    (second,) = after.children
    assert (second.version, second.cuts_version, second.would_fire) == ("2", True, True)
    assert nothing.children == [] and nothing.total_jobs == 0
    with pytest.raises(BadRequest):
        pie.get_impact(source, "deleted")  # type: ignore[arg-type]

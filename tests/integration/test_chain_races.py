"""Racing chains (SPEC part three, "Continuous chains"): two upstream trainings that complete at the
same moment each fire their own downstream training, on its own version — never a failed job, never
a lost trigger — and stream records delivered again (or by two dispatchers at once) create nothing.

A's versions are trained by direct jobs whose handlers (a recording Lambda stand-in) are completed
by two threads released together; ``a → b`` is a ``training_complete → training`` subscription.
"""

from __future__ import annotations

import importlib
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from shared.runtime import dynamodb_client, use_stand_in
from tests.integration.api_events import call, create_model, create_version
from tests.integration.job_helpers import (
    RecordingLambda,
    complete,
    dispatch,
    drain,
    get_version,
    start_training,
    started_job,
    table_stream,
)
from tests.integration.lifecycle_helpers import jobs_of
from tests.integration.subscription_helpers import create_subscription

ROUNDS = 3


@pytest.fixture
def lambda_client(table: Any) -> RecordingLambda:
    client = RecordingLambda()
    use_stand_in("lambda", client)
    # Imported once before any thread: two threads importing a module at once can fail.
    importlib.import_module("aws_lambda_powertools")
    for function in ("complete_job", "dispatch_jobs"):
        importlib.import_module(f"functions.{function}.handler")
    return client


def _together(*calls: Callable[[], Any]) -> list[Any]:
    """Run each call on its own thread, released at the same moment; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[index] = call()
        except BaseException as error:  # re-raised below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racing call never returned"
    if errors:
        raise errors[0]
    return results


def _succeed(model_id: str, job_id: str) -> Callable[[], Any]:
    return lambda: complete(model_id, job_id, {"status": "succeeded", "output": {"model_path": model_id}})


@pytest.mark.parametrize(
    "sources", [("a", "a"), ("a", "z")], ids=["two versions of one upstream", "two upstream models"]
)
def test_two_upstream_trainings_completing_at_once_each_train_their_own_downstream_version(lambda_client, sources):
    for model_id in sorted({*sources, "b"}):
        create_model(model_id)
    subscriptions = {
        source: create_subscription(source, "b", target_action="training", input={"data_path": "s3://b"})["id"]
        for source in sorted(set(sources))
    }
    trained: Counter[str] = Counter()  # versions of each source so far
    stream = table_stream()
    fired: list[str] = []

    for round_number in range(ROUNDS):
        upstream = []
        for source in sources:
            trained[source] += 1
            version = str(trained[source])
            if version != "1":
                create_version(source, version)
            upstream.append(started_job(start_training(source, {"data_path": "s3://a"}, version=version)))
        drain(stream)

        answers = _together(*(_succeed(job["model_id"], job["id"]) for job in upstream))

        for (status, body, _), job in zip(answers, upstream, strict=True):
            assert status == 200, body
            (event,) = body["triggered_events"]  # no trigger lost
            assert event["subscription_id"] == subscriptions[job["model_id"]] and "job_id" in event, event
            fired.append(event["job_id"])
        drain(stream)
        # Each fired job trains its own version of b: b's newest version, or one cut for it.
        b_jobs = {job["id"]: job for job in jobs_of(dynamodb_client(), "b")}
        this_round = [b_jobs[job_id] for job_id in fired[-2:]]
        assert sorted(job["version"] for job in this_round) == [str(2 * round_number + 1), str(2 * round_number + 2)]
        for job, source_job in zip(this_round, upstream, strict=True):
            assert job["status"] == "dispatched", job
            assert job["trigger"]["source_job_id"] == source_job["id"]
            assert job["trigger"]["source_version"] == source_job["version"]
            version = get_version("b", job["version"])["version"]
            assert (version["status"], version["training_job_id"]) == ("training", job["id"]), version
            assert version["lineage"] == {"job_id": job["id"], "trigger": job["trigger"]}
        # b's handler completes both, at once too: both versions become active, nothing fails.
        for status, body, _ in _together(*(_succeed("b", job["id"]) for job in this_round)):
            assert status == 200, body
            assert body["job"]["status"] == "succeeded"
        drain(stream)

    b_jobs = jobs_of(dynamodb_client(), "b")
    assert sorted(job["id"] for job in b_jobs) == sorted(fired)
    assert [job["status"] for job in b_jobs] == ["succeeded"] * 2 * ROUNDS
    for number in range(1, 2 * ROUNDS + 1):
        assert get_version("b", str(number))["version"]["status"] == "active"
    upstream_jobs = [job for source in set(sources) for job in jobs_of(dynamodb_client(), source)]
    assert [job["status"] for job in upstream_jobs] == ["succeeded"] * 2 * ROUNDS
    # Each job was handed to its handler once.
    assert Counter(lambda_client.invoked_job_ids()) == Counter(job["id"] for job in upstream_jobs + b_jobs)


def test_stream_records_delivered_again_and_by_racing_dispatchers_create_nothing_more(lambda_client):
    create_model("a")
    create_model("b")
    create_subscription("a", "b", target_action="training", input={"data_path": "s3://b"})
    create_version("a", "2")
    upstream = [started_job(start_training("a", {"data_path": "s3://a"}, version=v)) for v in ("1", "2")]
    drain(table_stream())
    for status, body, _ in _together(*(_succeed("a", job["id"]) for job in upstream)):
        assert status == 200, body

    # Every record the table ever wrote, delivered three more times: twice by two dispatchers
    # racing on the same batches, then once more alone.
    history = table_stream()
    records = []
    while batch := history.read():
        records += batch
    assert _together(lambda: dispatch(records), lambda: dispatch(records)) == [{"batchItemFailures": []}] * 2
    assert dispatch(records) == {"batchItemFailures": []}

    a_jobs, b_jobs = jobs_of(dynamodb_client(), "a"), jobs_of(dynamodb_client(), "b")
    assert len(a_jobs) == 2 and len(b_jobs) == 2
    assert sorted(job["version"] for job in b_jobs) == ["1", "2"]
    assert [job["status"] for job in b_jobs] == ["dispatched", "dispatched"]
    # Each job was handed to its handler once: a redelivered record claims nothing.
    assert Counter(lambda_client.invoked_job_ids()) == Counter({job["id"]: 1 for job in a_jobs + b_jobs})
    assert call("get_version", model_id="b", model_version="3")[0] == 404

"""Continuous chains over HTTP on ``pie-local serve`` (SPEC part three): a chain runs every time its
upstream trains, not once.

A → B → C, each link a ``training_complete → training`` subscription, with in-process ``echo``
handlers that complete their jobs on their own. Ten training requests on A in a row train ten
versions of each model: the first round trains each model's pending version 1, every later round
finds the newest version active and cuts the next one; every job succeeds and every downstream
version's ``lineage`` names the job that trained it and, through its trigger, the upstream version
and job that fired it.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.chains import SETTLE_SECONDS, create, jobs_of, subscribe
from tests.e2e.client import Api
from tests.e2e.documents import IN_PROCESS_HANDLERS

pytestmark = pytest.mark.e2e

ROUNDS = 10
FINISHED = {"succeeded", "failed"}


def _finished_jobs(api: Api, model_id: str, count: int) -> list[dict[str, Any]]:
    """The model's jobs once ``count`` of them have finished (bounded wait)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        jobs = jobs_of(api, model_id)
        if len(jobs) >= count and all(job["status"] in FINISHED for job in jobs):
            return jobs
        if time.monotonic() > deadline:
            pytest.fail(f"{count} jobs of {model_id} did not finish: {jobs}")
        time.sleep(0.05)


def _version(api: Api, model_id: str, version: str) -> dict[str, Any]:
    reply = api.get(f"/v2/models/{model_id}/versions/{version}")
    assert reply.status == 200, reply.body
    return reply.json["version"]


def test_a_three_model_chain_run_ten_times_trains_ten_versions_of_each_downstream_model(api: Api):
    a, b, c = (create(api, handlers=IN_PROCESS_HANDLERS) for _ in range(3))
    a_to_b = subscribe(api, a, b, target_action="training", input_source="trigger_output")
    b_to_c = subscribe(api, b, c, target_action="training", input_source="trigger_output")

    started: list[dict[str, Any]] = []
    for round_number in range(1, ROUNDS + 1):
        reply = api.post(f"/v2/models/{a}/training", {"input": {"round": round_number}})
        assert reply.status == 202, reply.body
        started.append(reply.json["job"])
        # The round is over when C's training of it has finished: every job before it has.
        _finished_jobs(api, c, round_number)

    jobs = {model_id: jobs_of(api, model_id) for model_id in (a, b, c)}
    for model_id, model_jobs in jobs.items():
        assert len(model_jobs) == ROUNDS, (model_id, model_jobs)
        assert [job["status"] for job in model_jobs] == ["succeeded"] * ROUNDS, model_jobs
    by_version = {model_id: {job["version"]: job for job in model_jobs} for model_id, model_jobs in jobs.items()}
    versions = [str(number) for number in range(1, ROUNDS + 1)]
    for model_id in (a, b, c):
        assert sorted(by_version[model_id], key=int) == versions, model_id
        model = api.get(f"/v2/models/{model_id}").json["model"]
        assert (model["status"], model["active_version"], model["latest_version"]) == ("active", "10", "10")

    for number, direct in zip(versions, started, strict=True):
        assert direct["version"] == number  # trained without naming a version: v1, then one cut per round
        a_job = by_version[a][number]
        assert a_job["id"] == direct["id"] and a_job["trigger"] is None
        assert _version(api, a, number)["lineage"] == {"job_id": a_job["id"], "trigger": None}
        upstream = a_job
        for model_id, subscription, depth in ((b, a_to_b, 1), (c, b_to_c, 2)):
            job = by_version[model_id][number]
            assert job["input"] == {"round": int(number)}  # the upstream job's echoed output
            assert job["trigger"] == {
                "subscription_id": subscription,
                "source_model_id": upstream["model_id"],
                "source_version": number,
                "source_job_id": upstream["id"],
                "depth": depth,
                "root_job_id": a_job["id"],
            }
            version = _version(api, model_id, number)
            assert version["status"] == "active", version
            assert version["lineage"] == {"job_id": job["id"], "trigger": job["trigger"]}
            upstream = job

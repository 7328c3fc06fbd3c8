"""Teams' own handlers on ``pie-local serve --lambda`` and ``--ecs``: jobs run real code in a
subprocess and complete from what it returns, raises, prints or how it dies."""

from __future__ import annotations

import os
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.client import Api, mint, run_pie_local
from tests.e2e.documents import model_document, unique_id
from tests.e2e.local_server import LocalServer, start_server, stop_server

pytestmark = pytest.mark.e2e

HANDLERS = Path(__file__).parent / "handlers"
TIMEOUT_SECONDS = 5
SETTLE_SECONDS = 40
ARN = "arn:aws:lambda:us-west-2:123456789012:function:{}"
MAPPED = {
    "e2e-train": "chain.py:train",
    "e2e-score": "chain.py:score",
    "e2e-raises": "misbehaving.py:raises",
    "e2e-hangs": "misbehaving.py:hangs",
    "e2e-returns-a-set": "misbehaving.py:returns_a_set",
    "e2e-returns-too-much": "misbehaving.py:returns_too_much",
    "e2e-exits": "misbehaving.py:exits",
}
TASK_COMMAND = f"{shlex.quote(sys.executable)} {shlex.quote(str(HANDLERS / 'task.py'))}"


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A server of its own: these flags must not reach the other tests' server."""
    home = tmp_path_factory.mktemp("pie-local-handlers") / ".pie-local"
    options = [option for name, target in MAPPED.items() for option in ("--lambda", f"{name}={HANDLERS / target}")]
    options += ["--ecs", f"ml-cluster/e2e-task={TASK_COMMAND}", "--handler-timeout", str(TIMEOUT_SECONDS)]
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("E2E_TEAM_SETTING", "from-the-shell")
        running = start_server(home, home.parent / "serve.log", *options)
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def api(local: LocalServer) -> Api:
    return Api(local.url, mint(local.home))


def lambda_handler(function: str) -> dict[str, str]:
    return {"type": "lambda", "arn": ARN.format(function)}


def create(api: Api, training: dict[str, str], inference: dict[str, str] | None = None) -> str:
    model_id = unique_id()
    handlers = {"training": training, "inference": inference or lambda_handler("e2e-unmapped")}
    reply = api.post("/v2/models", model_document(model_id, handlers=handlers))
    assert reply.status == 201, reply.body
    return model_id


def train(api: Api, model_id: str, job_input: dict[str, Any]) -> str:
    reply = api.post(f"/v2/models/{model_id}/training", {"input": job_input})
    assert reply.status == 202, reply.body
    return reply.json["job"]["id"]


def finished(api: Api, model_id: str, job_id: str) -> dict[str, Any]:
    """The job once it has succeeded or failed (bounded wait)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        job = api.get(f"/v2/models/{model_id}/jobs/{job_id}").json["job"]
        if job["status"] in ("succeeded", "failed"):
            return job
        if time.monotonic() > deadline:
            pytest.fail(f"job {job_id} of {model_id} did not finish: {job}")
        time.sleep(0.1)


def jobs_of(api: Api, model_id: str, count: int) -> list[dict[str, Any]]:
    """The model's jobs once there are ``count`` of them (bounded wait)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        jobs = api.get(f"/v2/models/{model_id}/jobs").json["jobs"]
        if len(jobs) >= count:
            return jobs
        if time.monotonic() > deadline:
            pytest.fail(f"{model_id} has {len(jobs)} jobs, not {count}")
        time.sleep(0.1)


def version_status(api: Api, model_id: str) -> str:
    return api.get(f"/v2/models/{model_id}/versions/1").json["version"]["status"]


def test_model_a_s_training_handler_feeds_model_b_s_inference_handler(api: Api):
    a = create(api, lambda_handler("e2e-train"))
    b = create(api, lambda_handler("e2e-unmapped"), inference=lambda_handler("e2e-score"))
    for status in ("training", "active"):
        assert api.post(f"/v2/models/{b}/versions/1/new_status", {"status": status}).status == 200
    subscription = {
        "trigger_event": "training_complete",
        "target_model_id": b,
        "target_action": "inference",
        "input_source": "trigger_output",
    }
    assert api.post(f"/v2/models/{a}/event-subscriptions", subscription).status == 201

    a_job = finished(api, a, train(api, a, {"epochs": 3}))

    assert a_job["status"] == "succeeded", a_job
    assert a_job["output"] == {
        "model_uri": f"s3://models/{a}/1",
        "epochs": 3,
        "environment": {"E2E_TEAM_SETTING": "from-the-shell", "PIE_TABLE_NAME": None},
        "context": {
            "function_name": "e2e-train",
            "invoked_function_arn": ARN.format("e2e-train") + ":$LATEST",
            "memory_limit_in_mb": "128",
            "log_group_name": "/aws/lambda/e2e-train",
            "has_request_id": True,
            "has_time_left": True,
        },
    }
    assert version_status(api, a) == "active"
    (b_job,) = jobs_of(api, b, 1)
    b_job = finished(api, b, b_job["id"])
    assert b_job["status"] == "succeeded", b_job
    assert b_job["input"] == a_job["output"]
    assert b_job["output"] == {"scored_with": f"s3://models/{a}/1", "triggered_by": a}


def test_an_unmapped_lambda_handler_still_waits_for_a_manual_completion(api: Api):
    model_id = create(api, lambda_handler("e2e-unmapped"))
    job_id = train(api, model_id, {"epochs": 1})

    deadline = time.monotonic() + SETTLE_SECONDS
    while api.get(f"/v2/models/{model_id}/jobs/{job_id}").json["job"]["status"] != "dispatched":
        assert time.monotonic() < deadline, "the job was never dispatched"
        time.sleep(0.1)
    done = api.post(f"/v2/models/{model_id}/jobs/{job_id}/complete", {"status": "succeeded", "output": {"ok": 1}})
    assert done.status == 200, done.body


def test_a_handler_that_raises_fails_its_job_with_the_error_lambda_reports(api: Api):
    model_id = create(api, lambda_handler("e2e-raises"))

    job = finished(api, model_id, train(api, model_id, {"rows": 1}))

    assert job["status"] == "failed"
    assert job["error"] == "ValueError: no features in ['rows']"
    assert version_status(api, model_id) == "failed"


def test_a_handler_that_hangs_is_killed_at_the_timeout_without_holding_up_other_jobs(api: Api, tmp_path: Path):
    hanging = create(api, lambda_handler("e2e-hangs"))
    quick = create(api, lambda_handler("e2e-raises"))
    pid_file = tmp_path / "handler.pid"

    hung_job = train(api, hanging, {"pid_file": str(pid_file)})
    quick_job = finished(api, quick, train(api, quick, {}))

    assert quick_job["status"] == "failed"
    assert api.get(f"/v2/models/{hanging}/jobs/{hung_job}").json["job"]["status"] in ("queued", "dispatched")
    job = finished(api, hanging, hung_job)
    assert job["status"] == "failed"
    assert job["error"].startswith("Sandbox.Timedout: RequestId: ")
    assert job["error"].endswith(f"Error: Task timed out after {TIMEOUT_SECONDS:.2f} seconds")
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


@pytest.mark.parametrize(
    ("function", "error"),
    [
        (
            "e2e-returns-a-set",
            "Runtime.MarshalError: Unable to marshal response: Object of type set is not JSON serializable",
        ),
        (
            "e2e-returns-too-much",
            "Function.ResponseSizeTooLarge: Response payload size (300012 bytes) exceeded maximum allowed payload size (262144 bytes).",
        ),
    ],
)
def test_a_handler_whose_result_is_not_storable_json_fails_its_job(api: Api, function: str, error: str):
    model_id = create(api, lambda_handler(function))

    job = finished(api, model_id, train(api, model_id, {}))

    assert (job["status"], job["error"]) == ("failed", error)


def test_a_handler_process_that_dies_fails_its_job_with_its_exit_status(api: Api):
    model_id = create(api, lambda_handler("e2e-exits"))

    job = finished(api, model_id, train(api, model_id, {}))

    assert job["status"] == "failed"
    assert job["error"].startswith("Runtime.ExitError: RequestId: ")
    assert job["error"].endswith("Error: Runtime exited with error: exit status 7")


def ecs_model(api: Api) -> str:
    return create(api, {"type": "ecs", "task": "ml-cluster/e2e-task:2"})


def test_an_ecs_command_completes_its_job_with_the_json_it_prints_last(api: Api):
    model_id = ecs_model(api)

    job_id = train(api, model_id, {"rows": 5})
    job = finished(api, model_id, job_id)

    assert job["status"] == "succeeded", job
    assert job["output"] == {"rows": 5, "job_id": job_id, "action": "training"}
    assert version_status(api, model_id) == "active"


def test_an_ecs_command_that_exits_non_zero_fails_its_job_with_what_it_printed(api: Api):
    model_id = ecs_model(api)

    job_id = train(api, model_id, {"exit_code": 3})
    job = finished(api, model_id, job_id)

    assert job["status"] == "failed"
    assert job["error"] == (
        f'Essential container in task exited: main exited 3: {{"reason": "disk full", "job_id": "{job_id}"}}'
    )
    assert version_status(api, model_id) == "failed"


def test_an_ecs_command_whose_last_line_is_not_json_fails_its_job(api: Api):
    model_id = ecs_model(api)

    job = finished(api, model_id, train(api, model_id, {"garbage": True}))

    assert job["status"] == "failed"
    assert (
        job["error"] == "the command exited 0, but the last line it printed is not a JSON object: 'done, no JSON today'"
    )


def test_an_ecs_command_running_past_the_timeout_is_stopped_and_fails_its_job(api: Api):
    model_id = ecs_model(api)

    job = finished(api, model_id, train(api, model_id, {"rows": 1, "sleep": 600}))

    assert job["status"] == "failed"
    assert job["error"] == (f"Task stopped by pie-local: it ran longer than {TIMEOUT_SECONDS} seconds: main exited 137")


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (("--lambda", "e2e-train=no/such/file.py:train"), "'no/such/file.py' is not a Python file"),
        (("--ecs", "ml-cluster/e2e-task"), "is not CLUSTER/FAMILY[:REVISION]='command ...'"),
        (
            ("--ecs", f"ml-cluster/t={TASK_COMMAND}", "--ecs", f"ml-cluster/t={TASK_COMMAND}"),
            "--ecs maps ml-cluster/t more than once",
        ),
        (("--handler-timeout", "0"), "the handler timeout must be a positive number of seconds"),
    ],
)
def test_serve_refuses_a_handler_mapping_that_cannot_work(tmp_path: Path, options: tuple[str, ...], reason: str):
    completed = run_pie_local(tmp_path / ".pie-local", "serve", "--port", "0", *options)

    assert completed.returncode == 2
    assert reason in completed.stderr


def test_stopping_the_server_kills_the_handlers_still_running(tmp_path: Path):
    home = tmp_path / ".pie-local"
    server = start_server(home, tmp_path / "serve.log", "--lambda", f"e2e-hangs={HANDLERS / MAPPED['e2e-hangs']}")
    try:
        api = Api(server.url, mint(home))
        pid_file = tmp_path / "handler.pid"
        train(api, create(api, lambda_handler("e2e-hangs")), {"pid_file": str(pid_file)})
        deadline = time.monotonic() + SETTLE_SECONDS
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the handler never started"
            time.sleep(0.1)
    finally:
        returncode = stop_server(server)

    assert returncode == 0, server.log.read_text()
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        try:
            os.kill(int(pid_file.read_text()), 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "the handler outlived the server"
        time.sleep(0.1)


def _running(pid: int) -> bool:
    """Whether the process runs (a zombie has ended; nobody may be left to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="handlers die with a killed server on Linux")
def test_a_server_killed_with_sigkill_takes_its_running_handlers_with_it(tmp_path: Path):
    """A handler left running by a killed server finished a step whose result nobody received,
    and the job's retry ran the step again."""
    home = tmp_path / ".pie-local"
    server = start_server(home, tmp_path / "serve.log", "--lambda", f"e2e-hangs={HANDLERS / MAPPED['e2e-hangs']}")
    try:
        api = Api(server.url, mint(home))
        pid_file = tmp_path / "handler.pid"
        train(api, create(api, lambda_handler("e2e-hangs")), {"pid_file": str(pid_file)})
        deadline = time.monotonic() + SETTLE_SECONDS
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the handler never started"
            time.sleep(0.1)
        handler = int(pid_file.read_text())
        assert _running(handler)
    finally:
        server.process.kill()
        server.process.wait()

    deadline = time.monotonic() + 5
    while _running(handler):
        assert time.monotonic() < deadline, "the handler outlived the killed server"
        time.sleep(0.05)

"""``pie-local serve`` through a working day: refused writes, ``kill -9`` and restarts.

Each test starts its own server (and data directory), so nothing another test did can help or
hurt it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pie_local.server import local_backend
from tests.e2e.chains import activate, create, jobs_of, run_three_model_chain, settled, subscribe
from tests.e2e.client import Api, mint, run_pie_local
from tests.e2e.documents import IN_PROCESS_HANDLERS, model_document, unique_id
from tests.e2e.local_server import LocalServer, start_server, stop_server
from tests.integration.api_events import call

pytestmark = pytest.mark.e2e


class Servers:
    """Starts servers on one home; stops (or has already killed) every one at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / ".pie-local"
        self.data = root / "data"
        self._started: list[LocalServer] = []

    def start(self, *options: str) -> tuple[LocalServer, Api]:
        log = self.root / f"serve-{len(self._started)}.log"
        server = start_server(self.home, log, *options)
        self._started.append(server)
        return server, Api(server.url, mint(self.home))

    def stop_all(self) -> None:
        for server in self._started:
            if server.process.poll() is None:
                stop_server(server)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    started = Servers(tmp_path)
    yield started
    started.stop_all()


def kill_9(server: LocalServer) -> None:
    server.process.kill()
    server.process.wait()


def test_refused_writes_do_not_stop_the_stream(servers: Servers):
    _, api = servers.start("--ephemeral")
    model_id = create(api)
    document = model_document(model_id)
    update = {name: value for name, value in document.items() if name != "id"}

    assert api.post("/v2/models", document).status == 409
    assert api.post(f"/v2/models/{model_id}/new_version", {"version": "1"}).status == 409
    assert api.put(f"/v2/models/{model_id}", update, headers={"If-Match": '"7"'}).status == 409
    assert api.post(f"/v2/models/{model_id}/versions/1/new_status", {"status": "active"}).status == 422

    run_three_model_chain(api)


def test_every_acknowledged_write_survives_kill_9_and_a_restart(servers: Servers):
    first, api = servers.start("--data-dir", str(servers.data))
    source = create(api, handlers=IN_PROCESS_HANDLERS)
    target = create(api)
    activate(api, target)
    subscription = subscribe(api, source, target, input_source="trigger_output")
    assert api.post(f"/v2/models/{target}/new_version", {"version": "2", "metadata": {"run": 7}}).status == 201
    assert api.post(f"/v2/models/{source}/training", {"input": {"rows": 3}}).status == 202
    settled(api, source, 1, {"succeeded"})
    (waiting,) = settled(api, target, 1, {"dispatched"})
    paths = [
        "/v2/models?limit=100",
        f"/v2/models/{source}",
        f"/v2/models/{target}",
        f"/v2/models/{source}/versions",
        f"/v2/models/{target}/versions",
        f"/v2/models/{target}/versions/2",
        f"/v2/models/{source}/jobs",
        f"/v2/models/{target}/jobs",
        f"/v2/models/{source}/event-subscriptions",
        f"/v2/models/{source}/event-subscriptions/{subscription}",
    ]
    before = {path: api.get(path).json for path in paths}
    second = run_pie_local(servers.home, "serve", "--port", "0", "--data-dir", str(servers.data))
    assert second.returncode == 2 and "in use by another pie-local" in second.stderr, second.stderr

    kill_9(first)
    _, api = servers.start("--data-dir", str(servers.data))

    assert {path: api.get(path).json for path in paths} == before
    completed = api.post(
        f"/v2/models/{target}/jobs/{waiting['id']}/complete", {"status": "succeeded", "output": {"y": 1}}
    )
    assert completed.status == 200, completed.body
    assert api.post(f"/v2/models/{source}/new_version", {"version": "2"}).status == 201
    assert api.post(f"/v2/models/{source}/training", {"input": {"rows": 4}}).status == 202
    settled(api, source, 2, {"succeeded"})
    settled(api, target, 2, {"succeeded", "dispatched"})


def test_writes_acknowledged_at_once_all_survive_kill_9_with_fsync_on_by_default(servers: Servers):
    first, api = servers.start("--data-dir", str(servers.data))
    writers, each = 8, 5
    acknowledged: list[str] = []
    refused: list[int] = []

    def write(writer: int) -> None:
        for number in range(each):
            model_id = f"at-once-{writer}-{number}"
            status = api.post("/v2/models", model_document(model_id)).status
            (acknowledged if status == 201 else refused).append(model_id if status == 201 else status)

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert refused == [] and len(acknowledged) == writers * each

    kill_9(first)
    _, api = servers.start("--data-dir", str(servers.data))

    missing = [model_id for model_id in acknowledged if api.get(f"/v2/models/{model_id}").status != 200]
    assert missing == []


def test_a_job_queued_when_the_server_died_runs_after_the_restart(servers: Servers):
    model_id = unique_id()
    # Written by a process with no stream reader, as if the server died before dispatching.
    with local_backend(data_dir=servers.data):
        status, body, _ = call("create_model", body=model_document(model_id, handlers=IN_PROCESS_HANDLERS))
        assert status == 201, body
        status, body, _ = call("start_training", body={"input": {"rows": 5}}, model_id=model_id)
        assert status == 202, body
        assert body is not None and body["job"]["status"] == "queued"

    _, api = servers.start("--data-dir", str(servers.data))

    (job,) = settled(api, model_id, 1, {"succeeded"})
    assert job["output"] == {"rows": 5}
    assert [job["id"] for job in jobs_of(api, model_id)] == [body["job"]["id"]]
    assert api.get(f"/v2/models/{model_id}").json["model"]["status"] == "active"


def _queue_a_job(data: Path) -> tuple[str, str]:
    """A model and a queued training job, written while no server runs: its stream records are
    pending when the next server starts."""
    model_id = unique_id()
    with local_backend(data_dir=data):
        status, body, _ = call("create_model", body=model_document(model_id, handlers=IN_PROCESS_HANDLERS))
        assert status == 201, body
        status, body, _ = call("start_training", body={"input": {"rows": 1}}, model_id=model_id)
        assert status == 202, body
    assert body is not None
    return model_id, body["job"]["id"]


RESTART_ROUNDS = 10


def test_serve_always_comes_up_after_kill_9_with_stream_records_pending(servers: Servers):
    """The stream replay starts on pending records at once: it used to import the dispatcher while
    the main thread imported the route functions, and one start in five died of a partially
    initialized module. Every start must come up, and every queued job must run."""
    queued = []
    for _ in range(RESTART_ROUNDS):
        queued.append(_queue_a_job(servers.data))
        server, api = servers.start("--data-dir", str(servers.data))
        assert api.get("/v2/models?limit=1").status == 200
        assert "Traceback" not in server.log.read_text()
        kill_9(server)

    server, api = servers.start("--data-dir", str(servers.data))
    for model_id, job_id in queued:
        (job,) = settled(api, model_id, 1, {"succeeded"})
        assert job["id"] == job_id
    assert "Traceback" not in server.log.read_text()


def test_serve_refuses_a_data_directory_whose_log_was_cut_in_half_with_one_line_saying_how_to_recover(
    servers: Servers,
):
    """Half the models were loaded without a word, and the start-up compaction made it permanent."""
    server, api = servers.start("--data-dir", str(servers.data))
    created = {create(api) for _ in range(12)}
    assert stop_server(server) == 0
    log = servers.data / "table.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[: len(lines) // 2]))
    damaged = log.read_bytes()

    refused = run_pie_local(servers.home, "serve", "--port", "0", "--data-dir", str(servers.data))

    assert refused.returncode == 1, refused.stderr
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith(f"pie-local serve: error: {log} is damaged: ")
    assert "--accept-data-loss" in line and "backup" in line
    assert log.read_bytes() == damaged

    _, api = servers.start("--data-dir", str(servers.data), "--accept-data-loss")
    left = {model["id"] for model in api.get("/v2/models?limit=100").json["models"]}
    assert left < created
    assert [path.name for path in servers.data.glob("table.jsonl.damaged-*")] != []

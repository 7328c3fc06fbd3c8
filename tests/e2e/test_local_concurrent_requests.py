"""``pie-local serve`` runs requests at once: a read does not wait behind a slow write, and many
clients creating and reading at once lose and mix up nothing.

Each test starts its own in-process server (the delay is injected into its route function's
service), so the suite's shared server plays no part.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pie_local.gateway.tokens import mint_token
from pie_local.server import LocalApi
from shared import runtime
from tests.e2e.documents import model_document, unique_id

pytestmark = pytest.mark.e2e

WRITE_DELAY_SECONDS = 1.5


@pytest.fixture
def api(tmp_path: Path) -> Iterator[LocalApi]:
    with LocalApi(home=tmp_path / ".pie-local", data_dir=tmp_path / "data") as running:
        yield running


class _Client:
    """One kept-alive connection to the server."""

    def __init__(self, api: LocalApi) -> None:
        parts = urlsplit(api.url)
        self._connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self._headers = {"Authorization": f"Bearer {mint_token(api.keys)}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        payload = None if body is None else json.dumps(body)
        self._connection.request(method, path, body=payload, headers=self._headers)
        response = self._connection.getresponse()
        return response.status, json.loads(response.read() or b"null")

    def close(self) -> None:
        self._connection.close()


def test_a_read_does_not_wait_behind_a_slow_write(api: LocalApi, monkeypatch: pytest.MonkeyPatch):
    reader, writer = _Client(api), _Client(api)
    existing = unique_id("read")
    assert reader.call("POST", "/v2/models", model_document(existing))[0] == 201
    registry = runtime.model_registry()
    create = registry.create_model
    writing = threading.Event()

    def slow_create(*arguments: Any, **options: Any) -> Any:
        writing.set()
        time.sleep(WRITE_DELAY_SECONDS)  # a write that takes its time inside its route function
        return create(*arguments, **options)

    monkeypatch.setattr(registry, "create_model", slow_create)
    written: list[int] = []
    slow = unique_id("slow")
    thread = threading.Thread(target=lambda: written.append(writer.call("POST", "/v2/models", model_document(slow))[0]))
    thread.start()
    assert writing.wait(10)
    began = time.perf_counter()
    status, document = reader.call("GET", f"/v2/models/{existing}")
    read_seconds = time.perf_counter() - began
    still_writing = thread.is_alive()
    thread.join()

    assert status == 200 and document["model"]["id"] == existing
    assert read_seconds < WRITE_DELAY_SECONDS / 3, f"the read took {read_seconds:.2f} s behind the write"
    assert still_writing, "the write ended before the read: the delay proves nothing"
    assert written == [201]
    assert reader.call("GET", f"/v2/models/{slow}")[0] == 200
    reader.close()
    writer.close()


def test_many_clients_creating_and_reading_at_once_lose_and_mix_up_nothing(api: LocalApi):
    clients, models_each = 8, 12
    failures: list[str] = []
    created: dict[str, str] = {}
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def work(index: int) -> None:
        client = _Client(api)
        start.wait()
        try:
            for number in range(models_each):
                model_id = f"stress-{index}-{number}"
                description = f"client {index}, model {number}"
                status, document = client.call("POST", "/v2/models", model_document(model_id, description=description))
                if status != 201 or document["model"]["id"] != model_id:
                    failures.append(f"create {model_id}: {status} {document}")
                    continue
                with lock:
                    created[model_id] = description
                # Read back one of this client's models and one of another's, while others write.
                for read_id in (model_id, f"stress-{(index + 1) % clients}-{number // 2}"):
                    status, document = client.call("GET", f"/v2/models/{read_id}")
                    if status == 200 and document["model"]["id"] != read_id:
                        failures.append(f"asked for {read_id}, answered {document['model']['id']}")
                    elif status not in (200, 404):
                        failures.append(f"get {read_id}: {status} {document}")
        finally:
            client.close()

    threads = [threading.Thread(target=work, args=(index,)) for index in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert failures == []
    assert len(created) == clients * models_each
    checker = _Client(api)
    listed: dict[str, str] = {}
    token = None
    while True:
        path = "/v2/models?limit=50" + (f"&next_token={token}" if token else "")
        status, page = checker.call("GET", path)
        assert status == 200
        listed.update((model["id"], model.get("description")) for model in page["models"])
        token = page.get("next_token")
        if not token:
            break
    checker.close()
    assert {model_id: listed.get(model_id) for model_id in created} == created

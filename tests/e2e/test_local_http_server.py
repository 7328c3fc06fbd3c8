"""``pie-local serve`` as an HTTP server: kept-alive connections, many clients at once, http.server's
own refusals in PIE's error shape, a startup banner, and a prompt exit on SIGTERM.

Each test here uses a server of its own module (or its own process), so the suite's shared server
and its state play no part.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from pie_local import server as local_api
from pie_local.server import LocalApi
from tests.e2e.client import Api, assert_error, mint
from tests.e2e.documents import model_document, unique_id
from tests.e2e.local_server import LocalServer, serving, start_server, stop_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    home = tmp_path_factory.mktemp("pie-http") / ".pie-local"
    with serving(home) as running:
        yield running


@pytest.fixture(scope="module")
def token(own_server: LocalServer) -> str:
    return mint(own_server.home)


def _address(server: LocalServer) -> tuple[str, int]:
    parts = urlsplit(server.url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def _timed_get(connection: http.client.HTTPConnection, path: str, token: str) -> float:
    began = time.perf_counter()
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    response.read()
    assert response.status == 404
    return (time.perf_counter() - began) * 1000


def _raw_exchange(server: LocalServer, request: bytes) -> http.client.HTTPResponse:
    """Send bytes as they are (no client library would send them) and parse the answer."""
    sock = socket.create_connection(_address(server), timeout=10)
    sock.sendall(request)
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response


def _assert_json_error(response: http.client.HTTPResponse, status: int) -> str:
    assert response.status == status
    assert response.getheader("Content-Type") == "application/json"
    body = json.loads(response.read())
    assert set(body) == {"success", "message"}, body
    assert body["success"] is False and body["message"]
    return body["message"]


# Kept-alive connections ----------------------------------------------------------------------------


def test_a_kept_alive_connection_answers_without_waiting_for_a_delayed_ack(own_server: LocalServer, token: str):
    """Written in pieces, each response on a reused connection waited ~40 ms for the client's
    delayed ACK; a fresh connection never did. Alternating the two, the reused one must not be
    slower by anything like that stall."""
    path = f"/v2/models/{unique_id('ghost')}"
    kept = http.client.HTTPConnection(*_address(own_server), timeout=10)
    _timed_get(kept, path, token)
    kept_ms, fresh_ms = [], []
    for _ in range(20):
        kept_ms.append(_timed_get(kept, path, token))
        fresh = http.client.HTTPConnection(*_address(own_server), timeout=10)
        fresh_ms.append(_timed_get(fresh, path, token))
        fresh.close()
    kept.close()

    assert statistics.median(kept_ms) < statistics.median(fresh_ms) + 20, (kept_ms, fresh_ms)


# Many clients at once ------------------------------------------------------------------------------


def test_fifty_concurrent_clients_are_all_answered_without_a_refused_or_retried_connection(
    own_server: LocalServer, token: str
):
    """The kernel completes a handshake at once while the listen backlog has room; past it the
    SYN is dropped (or the connection reset) and the client retries after a second."""
    api = Api(own_server.url, token)
    model_id = unique_id("busy")
    assert api.post("/v2/models", model_document(model_id)).status == 201
    clients, requests_each = 50, 4
    start = threading.Barrier(clients)
    statuses: list[int] = []
    connect_seconds: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client() -> None:
        start.wait()
        for _ in range(requests_each):
            try:
                connection = http.client.HTTPConnection(*_address(own_server), timeout=60)
                began = time.perf_counter()
                connection.connect()
                connected = time.perf_counter() - began
                connection.request("GET", f"/v2/models/{model_id}", headers={"Authorization": f"Bearer {token}"})
                status = connection.getresponse().status
                connection.close()
            except OSError as error:
                with lock:
                    errors.append(error)
            else:
                with lock:
                    statuses.append(status)
                    connect_seconds.append(connected)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert statuses == [200] * clients * requests_each
    assert max(connect_seconds) < 0.9, sorted(connect_seconds)[-5:]


# http.server's own refusals --------------------------------------------------------------------------


def test_an_oversize_header_is_a_431_in_pies_error_shape(own_server: LocalServer):
    request = b"GET /v2/models HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"

    message = _assert_json_error(_raw_exchange(own_server, request), 431)

    assert "too long" in message.lower()


def test_too_many_headers_is_a_431_in_pies_error_shape(own_server: LocalServer):
    headers = b"".join(b"X-H%d: v\r\n" % index for index in range(150))

    message = _assert_json_error(
        _raw_exchange(own_server, b"GET /v2/models HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n"), 431
    )

    assert "headers" in message.lower()


def test_a_request_target_over_64_kib_is_a_414_in_pies_error_shape(own_server: LocalServer):
    request = b"GET /v2/models/" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"

    _assert_json_error(_raw_exchange(own_server, request), 414)


@pytest.mark.parametrize(
    ("request_line", "status"),
    [(b"NONSENSE\r\n", 400), (b"GET /v2/models HTTP/x.y\r\n", 400), (b"GET /v2/models HTTP/2.0\r\n", 505)],
)
def test_a_malformed_request_line_is_refused_in_pies_error_shape(
    own_server: LocalServer, request_line: bytes, status: int
):
    _assert_json_error(_raw_exchange(own_server, request_line + b"Host: x\r\n\r\n"), status)


@pytest.mark.parametrize("request_bytes", [b"GET /\r\n", b"GET /v2/models\r\nHost: x\r\n\r\n"])
def test_an_http_0_9_request_is_refused_with_a_status_line(own_server: LocalServer, request_bytes: bytes):
    """http.server answered an HTTP/0.9 request line with a bare body, which no client can read."""
    response = _raw_exchange(own_server, request_bytes)

    assert response.version == 11
    assert "HTTP version" in _assert_json_error(response, 400)


def test_the_server_still_answers_after_refusing_malformed_requests(own_server: LocalServer, token: str):
    _raw_exchange(own_server, b"NONSENSE\r\n\r\n").read()

    assert_error(Api(own_server.url, token).get(f"/v2/models/{unique_id('ghost')}"), 404)


# Slow and idle clients ------------------------------------------------------------------------------


@pytest.fixture
def strict_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalApi]:
    """A server in this process, with its timeouts and connection cap made short and small."""
    monkeypatch.setattr(local_api, "IDLE_SECONDS", 0.5)
    monkeypatch.setattr(local_api, "HEADER_SECONDS", 1.0)
    monkeypatch.setattr(local_api, "BODY_SECONDS", 1.0)
    with LocalApi(home=tmp_path / ".pie-local", data_dir=None) as api:
        yield api


def _connect(api: LocalApi) -> socket.socket:
    parts = urlsplit(api.url)
    return socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=5)


def test_an_idle_kept_alive_connection_is_closed(strict_api: LocalApi):
    sock = _connect(strict_api)
    sock.sendall(b"GET /v2/models HTTP/1.1\r\nHost: x\r\n\r\n")
    response = http.client.HTTPResponse(sock)
    response.begin()
    response.read()
    assert response.status == 401 and not response.will_close

    began = time.monotonic()
    assert sock.recv(1) == b""  # the server closed it; before, it waited (a thread each) forever
    assert time.monotonic() - began < 3


def test_a_request_whose_headers_trickle_in_is_answered_408_and_closed(strict_api: LocalApi):
    sock = _connect(strict_api)
    sock.sendall(b"GET /v2/models HTTP/1.1\r\n")

    def trickle() -> None:
        # A header every 0.3 s: each read is prompt, but the headers never end.
        for index in range(15):
            try:
                sock.sendall(b"X-Slow-%d: 1\r\n" % index)
            except OSError:
                return
            time.sleep(0.3)

    sender = threading.Thread(target=trickle, daemon=True)
    sender.start()
    began = time.monotonic()
    response = http.client.HTTPResponse(sock)
    response.begin()

    assert time.monotonic() - began < 3
    assert "headers" in _assert_json_error(response, 408)
    assert response.getheader("Connection") == "close"
    sender.join()


def test_a_request_whose_body_does_not_arrive_is_answered_408_and_closed(strict_api: LocalApi):
    sock = _connect(strict_api)
    sock.sendall(b"POST /v2/models HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"{" * 10)
    response = http.client.HTTPResponse(sock)
    response.begin()

    assert "body" in _assert_json_error(response, 408)
    assert sock.recv(1) == b""


def test_connections_past_the_cap_get_no_thread_and_are_answered_503(
    strict_api: LocalApi, monkeypatch: pytest.MonkeyPatch
):
    """Each connection had a thread of its own, for as long as the client kept it open."""
    monkeypatch.setattr(local_api, "IDLE_SECONDS", 30)
    monkeypatch.setattr(local_api, "CONNECTION_WAIT_SECONDS", 0.1)
    # The cap applies to a server started with it.
    strict_api.stop()
    monkeypatch.setattr(local_api, "MAX_CONNECTIONS", 4)
    strict_api.start()
    threads_before = threading.active_count()

    idle = [_connect(strict_api) for _ in range(4)]
    refused = [_connect(strict_api) for _ in range(12)]
    answers = [sock.recv(4096) for sock in refused]

    assert threading.active_count() - threads_before <= 4
    assert all(answer.startswith(b"HTTP/1.1 503 ") for answer in answers), answers[:2]
    assert all(b"Retry-After: 1" in answer for answer in answers)
    for sock in idle:
        sock.close()
    reply = Api(strict_api.url).get("/v2/models")
    assert reply.status == 401


# Starting and stopping -----------------------------------------------------------------------------


def test_the_banner_says_where_the_api_is_how_to_get_a_token_and_where_data_lives(tmp_path: Path):
    home = tmp_path / "elsewhere"
    server = start_server(home, tmp_path / "serve.log")
    try:
        log = server.log.read_text()
    finally:
        stop_server(server)

    assert f"PIE local API on {server.url}" in log  # the log line scripts wait for
    assert re.search(rf"^  PIE local API +{re.escape(server.url)}$", log, re.MULTILINE)
    # A fresh shell has no $PIE_LOCAL_HOME: the home is on the line (the command's own
    # resolution from PATH is tests/clients/test_local_tokens.py's).
    assert re.search(rf"^  token +\S*pie-local token --home {re.escape(str(home.resolve()))}$", log, re.MULTILINE)
    assert re.search(r"^  data +\S", log, re.MULTILINE)


@pytest.mark.parametrize(
    ("options", "durability"),
    [
        ((), r"fsync: each write is on disk before it is answered"),
        (("--fsync",), r"fsync: each write is on disk before it is answered"),
        (("--no-fsync",), r"no fsync \(--no-fsync\): a power cut may lose the last writes"),
    ],
    ids=["default", "--fsync", "--no-fsync"],
)
def test_the_banner_says_whether_writes_are_fsynced_which_they_are_by_default(
    tmp_path: Path, options: tuple[str, ...], durability: str
):
    server = start_server(tmp_path / ".pie-local", tmp_path / "serve.log", *options)
    try:
        api = Api(server.url, mint(server.home))
        assert api.post("/v2/models", model_document(unique_id("durable"))).status == 201
        log = server.log.read_text()
    finally:
        stop_server(server)

    assert re.search(rf"^  durability +{durability}", log, re.MULTILINE), log
    assert ("fsync on" if "no fsync" not in durability else "no fsync") in log  # the start-up log line too


def test_serve_exits_promptly_on_sigterm_after_work(tmp_path: Path):
    server = start_server(tmp_path / ".pie-local", tmp_path / "serve.log")
    api = Api(server.url, mint(server.home))
    for _ in range(20):
        assert api.post("/v2/models", model_document(unique_id("stop"))).status == 201

    began = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    returncode = server.process.wait(timeout=30)
    elapsed = time.monotonic() - began

    log = server.log.read_text()
    assert returncode == 0, log
    assert elapsed < 2, f"took {elapsed:.1f} s to exit"
    assert "Traceback" not in log


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process CPU time from /proc")
def test_an_idle_server_uses_almost_no_cpu(own_server: LocalServer):
    before, began = _cpu_seconds(own_server.process.pid), time.monotonic()
    time.sleep(5)  # measuring idleness: there is no condition to poll for
    busy = (_cpu_seconds(own_server.process.pid) - before) / (time.monotonic() - began)

    assert busy < 0.02, f"{busy:.3f} of a core while idle"


def test_a_client_expecting_100_continue_is_told_to_send_its_body_at_once(own_server: LocalServer, token: str):
    body = json.dumps(model_document(unique_id("expect"))).encode()
    sock = socket.create_connection(_address(own_server), timeout=10)
    sock.sendall(
        b"POST /v2/models HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n".encode()
        + b"Expect: 100-continue\r\n\r\n"
    )
    sock.settimeout(0.9)  # curl sends the body anyway after waiting 1 s
    interim = sock.recv(1024)
    sock.settimeout(10)
    sock.sendall(body)
    response = http.client.HTTPResponse(sock)
    response.begin()

    assert interim.startswith(b"HTTP/1.1 100")
    assert response.status == 201


def _dispatch_one_job(server: LocalServer) -> None:
    """Creates a model and starts its training, then waits until the dispatcher has handed the job
    to its (stand-in) Lambda: the dispatcher and, every 0.2 s, the sweeper have run."""
    api = Api(server.url, mint(server.home))
    model_id = unique_id("quiet")
    assert api.post("/v2/models", model_document(model_id)).status == 201
    job = api.post(f"/v2/models/{model_id}/training", {"input": {}}).json["job"]
    deadline = time.monotonic() + 30
    while api.get(f"/v2/models/{model_id}/jobs/{job['id']}").json["job"]["status"] == "queued":
        assert time.monotonic() < deadline, "the job was never dispatched"
        time.sleep(0.05)
    time.sleep(1)  # several sweeps that find nothing to do: there is no condition to poll for


@pytest.mark.parametrize("metrics", [False, True], ids=["default", "--metrics"])
def test_the_log_shows_requests_not_metrics_or_idle_sweeps_unless_asked(tmp_path: Path, metrics: bool):
    options = ["--sweep-seconds", "0.2", *(["--metrics"] if metrics else [])]
    server = start_server(tmp_path / ".pie-local", tmp_path / "serve.log", *options)
    try:
        _dispatch_one_job(server)
    finally:
        stop_server(server)
    log = server.log.read_text()

    assert "POST /v2/models 201" in log
    assert "sweep done" not in log  # nothing timed out, was retried or released
    assert ('"CloudWatchMetrics"' in log) is metrics


def test_an_embedded_local_api_prints_no_metrics_unless_its_environment_asks(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    """A program (a test suite, a notebook) that runs ``LocalApi`` itself: its stdout is its own.
    The sweepers run every 0.05 s here and publish their metrics each time when asked."""
    printed = {}
    for asked in (False, True):
        if asked:
            monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
        else:
            monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
        api = LocalApi(home=tmp_path / f"home-{asked}", sweep_seconds=0.05, webhook_sweep_seconds=0.05).start()
        try:
            time.sleep(0.5)
        finally:
            api.stop()
        printed[asked] = capfd.readouterr().out

    assert '"CloudWatchMetrics"' not in printed[False]
    assert '"CloudWatchMetrics"' in printed[True]  # the same run prints them once asked

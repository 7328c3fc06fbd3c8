"""``pie-local serve``: the route functions behind a local HTTP server, on a local table.

``LocalApi`` owns the whole local stack: the process environment the functions read, the DynamoDB
table (embedded moto by default, or a DynamoDB endpoint), the signing keys and the HTTP server.
Tests start it on port 0 in a thread::

    with LocalApi(home=tmp_path) as api:
        urllib.request.urlopen(f"{api.url}/v2/models")

Each request is handed to ``LocalGateway.handle`` (``pie_local.gateway.gateway``), the one place a
request becomes a function invocation.
"""

from __future__ import annotations

import io
import logging
import math
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from pie_local.console.console import CONSOLE_PATH, ConsoleSite, is_loopback
from pie_local.gateway.gateway import (
    MAX_REQUEST_BODY_BYTES,
    JwtAuthorizer,
    LocalGateway,
)
from pie_local.gateway.http import HttpRequest, HttpResponse, error_response
from pie_local.gateway.tokens import SigningKeys, TokenVerifier, local_home, mint_token
from pie_local.runtime.functions import (
    DISPATCHER_FUNCTION,
    SWEEPER_FUNCTION,
    WEBHOOK_DELIVERY_FUNCTION,
    LambdaHandler,
    LocalLambdaContext,
    load_handler,
    local_function_name,
)
from pie_local.runtime.handler_mappings import HandlerMappings
from pie_local.runtime.handlers import LocalHandlers
from pie_local.runtime.targets import LocalTargets
from pie_local.settings import (
    DEFAULT_SWEEP_SECONDS,
    DEFAULT_WEBHOOK_SWEEP_SECONDS,
    LOCAL_TABLE_NAME,
    local_environment,
)
from pie_local.table.dynamodb import LOCAL_REGION, embedded_dynamodb, table_changes, use_fake_credentials
from pie_local.table.stream import (
    DISPATCHER,
    DynamoDBStreamsReader,
    StreamReader,
    StreamReplayer,
    TableStream,
)
from shared import runtime
from shared.data import stream_filters
from shared.data.migrations import run_pending
from shared.data.table import create_table

DEFAULT_HOST = "127.0.0.1"
# An oversized body is read and thrown away up to this much, so the client gets its 413 instead of
# a reset connection; anything bigger is cut off.
_DISCARD_LIMIT_BYTES = 4 * MAX_REQUEST_BODY_BYTES
_CHUNK_BYTES = 64 * 1024
_SHUTDOWN_POLL_SECONDS = 0.1
# A connection waits this long for its next request, then is closed (clients open another).
IDLE_SECONDS = 5.0
# Once a request's first byte is in, its line and headers must arrive within HEADER_SECONDS and
# its body within BODY_SECONDS; a response must be taken within BODY_SECONDS. A slower client is
# answered 408 (or cut off) and disconnected: it cannot hold a thread of the server.
HEADER_SECONDS = 10.0
BODY_SECONDS = 60.0
# Connections served at once, a thread each. Another waits up to CONNECTION_WAIT_SECONDS for one
# of them to end, then is answered 503.
MAX_CONNECTIONS = 100
CONNECTION_WAIT_SECONDS = 2.0

log = logging.getLogger(__name__)


# The functions' environment and table -----------------------------------------------------------


@contextmanager
def local_backend(
    table_name: str = LOCAL_TABLE_NAME,
    dynamodb_endpoint: str | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    fsync: bool = True,
    accept_data_loss: bool = False,
) -> Iterator[Any]:
    """Point the route functions at a local table for the duration; yields a DynamoDB client.

    Without ``dynamodb_endpoint`` the table lives in an embedded moto: kept in ``data_dir`` (loaded
    from it at start, every committed change appended to it, and forced to disk before the write is
    answered unless ``fsync`` is off) or, without one, in memory only. With
    an endpoint, the functions use that DynamoDB (DynamoDB Local, say) and the table is created
    there if missing. The process environment is restored afterwards.
    """
    saved = dict(os.environ)
    # An endpoint inherited from the shell would send the functions past the embedded table.
    os.environ.pop("PIE_DYNAMODB_ENDPOINT", None)
    os.environ.update(local_environment(table_name, dynamodb_endpoint))
    try:
        if dynamodb_endpoint is None:
            directory = Path(data_dir) if data_dir is not None else None
            with embedded_dynamodb(
                table_name, data_dir=directory, fsync=fsync, accept_data_loss=accept_data_loss
            ) as client:
                runtime.reset()
                _migrate(client, table_name)
                yield client
        else:
            client = _remote_table(table_name, dynamodb_endpoint)
            runtime.reset()
            _migrate(client, table_name)
            yield client
    finally:
        os.environ.clear()
        os.environ.update(saved)
        runtime.reset()


def _migrate(client: Any, table_name: str) -> None:
    """Bring a table written by an older PIE up to date (``shared.data.migrations``)."""
    for name, migrated in run_pending(client, table_name).items():
        if migrated:  # a new table has nothing to bring up to date: nothing to say
            log.info("migrated the table %s: %s (%d models)", table_name, name, migrated)


def _remote_table(table_name: str, endpoint: str) -> Any:
    os.environ.setdefault("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", LOCAL_REGION))
    if boto3.Session().get_credentials() is None:
        # DynamoDB Local accepts any credentials; real ones, when configured, are kept.
        use_fake_credentials()
    client = boto3.client("dynamodb", region_name=os.environ["AWS_REGION"], endpoint_url=endpoint)
    try:
        client.describe_table(TableName=table_name)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        log.info("creating table %s at %s", table_name, endpoint)
        create_table(client, table_name)
    return client


def _build_services() -> None:
    """Build the services the functions build at their first invocation (``shared.runtime`` imports
    their modules then), so no thread of the server imports a module while another does."""
    runtime.dispatcher()
    runtime.sweeper()
    runtime.webhook_deliverer()
    runtime.aws_completions()
    runtime.task_stopper()
    runtime.model_registry()
    runtime.idempotency_store()


# HTTP -------------------------------------------------------------------------------------------


class _GatewayHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops (or resets) connections once a handful of clients
    # arrive at once; a laptop's worth of clients (tests, a console, scripts) must queue instead.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], gateway: LocalGateway) -> None:
        super().__init__(address, _RequestHandler)
        self.gateway = gateway
        self._connections = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._connections.acquire(timeout=CONNECTION_WAIT_SECONDS):
            log.warning("refused a connection from %s: %d connections are open", client_address[0], MAX_CONNECTIONS)
            _refuse(request, error_response(503, f"the server has {MAX_CONNECTIONS} connections open; retry shortly"))
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._connections.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connections.release()

    def handle_error(self, request: Any, client_address: tuple[str, int]) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            log.info("client %s disconnected before its response was written", client_address[0])
        else:
            log.exception("request from %s failed", client_address[0])


def _refuse(connection: socket.socket, response: HttpResponse) -> None:
    """Answer a connection no thread serves, from the thread accepting connections."""
    head = [f"HTTP/1.1 {response.status} {HTTPStatus(response.status).phrase}"]
    head += [f"{name}: {value}" for name, value in response.headers]
    head += [f"Content-Length: {len(response.body)}", "Retry-After: 1", "Connection: close", "", ""]
    try:
        connection.settimeout(1)
        connection.sendall("\r\n".join(head).encode("latin-1") + response.body)
    except OSError:
        pass  # the client is gone or not reading: it is disconnected all the same


class _TimedReads(io.RawIOBase):
    """A connection's incoming bytes, read by a deadline: each read waits only until it."""

    def __init__(self, connection: socket.socket) -> None:
        super().__init__()
        self._connection = connection
        self._reads = connection.makefile("rb", buffering=0)
        self._deadline = math.inf

    def within(self, seconds: float) -> None:
        """What is read next must arrive within ``seconds`` from now (TimeoutError otherwise)."""
        self._deadline = time.monotonic() + seconds

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out")
        self._connection.settimeout(remaining)
        return self._reads.readinto(buffer)

    def close(self) -> None:
        self._reads.close()
        super().close()


class _RequestHandler(BaseHTTPRequestHandler):
    server: _GatewayHttpServer
    protocol_version = "HTTP/1.1"
    # Each response leaves in one write (status, headers and body are buffered until
    # handle_one_request flushes), with Nagle off: written in pieces, a kept-alive connection waits
    # out the client's delayed ACK (~40 ms) on every request.
    wbufsize = -1
    disable_nagle_algorithm = True

    def version_string(self) -> str:
        return "pie-local"

    def setup(self) -> None:
        super().setup()
        self.rfile.close()
        self._reads = _TimedReads(self.connection)
        self.rfile = io.BufferedReader(self._reads)

    def handle_one_request(self) -> None:
        self._reads.within(IDLE_SECONDS)
        try:
            waiting = self.rfile.peek(1)
        except TimeoutError:
            waiting = b""  # an idle connection is closed quietly: clients keep them open
        if not waiting:
            self.close_connection = True
            return
        self._reads.within(HEADER_SECONDS)
        super().handle_one_request()

    def parse_request(self) -> bool:
        request_line = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        if len(request_line.split()) == 2:
            # http.server would take it for HTTP/0.9 and answer with a body and no status line.
            self.command, self.request_version, self.requestline = None, self.default_request_version, request_line
            self.send_error(400, "the request line names no HTTP version; send an HTTP/1.1 request")
            return False
        try:
            return super().parse_request()
        except TimeoutError:
            self.send_error(408, f"the request's headers did not arrive within {HEADER_SECONDS:g} seconds")
            return False

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_GET

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, QUERY, ...) goes to the gateway too, which answers it with a
        # 405 naming the allowed methods, or a 404, instead of http.server's own 501 page.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        started = time.perf_counter()
        response = self._answer()
        self._write(response)
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.info("%s %s %d %.1fms", self.command, self.path, response.status, elapsed_ms)

    def _answer(self) -> HttpResponse:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            return error_response(411, "send the request body with a Content-Length")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            return error_response(400, "Content-Length is not a valid length")
        self._reads.within(BODY_SECONDS)
        try:
            if length > MAX_REQUEST_BODY_BYTES:
                self._discard(length)
                return error_response(
                    413, f"the request body exceeds API Gateway's limit of {MAX_REQUEST_BODY_BYTES} bytes"
                )
            body = self.rfile.read(length) if length else b""
        except TimeoutError:
            self.close_connection = True
            return error_response(408, f"the request body did not arrive within {BODY_SECONDS:g} seconds")
        request = HttpRequest(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            protocol=self.request_version,
        )
        return self.server.gateway.handle(request)

    def _discard(self, length: int) -> None:
        if length > _DISCARD_LIMIT_BYTES:
            self.close_connection = True
            return
        while length > 0:
            chunk = self.rfile.read(min(_CHUNK_BYTES, length))
            if not chunk:
                break
            length -= len(chunk)

    def _write(self, response: HttpResponse) -> None:
        self.connection.settimeout(BODY_SECONDS)
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def handle_expect_100(self) -> bool:
        # The interim "100 Continue" must leave now, not with the response: the client is waiting
        # for it before it sends the body.
        proceed = super().handle_expect_100()
        self.wfile.flush()
        return proceed

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a bad request line, oversize headers, ...) in PIE's error shape."""
        text = message or self.responses.get(code, ("", "the request was refused"))[1]
        if message and explain:
            text = f"{message}: {explain}"
        log.warning("%s %d %s", self.requestline or "-", code, text)
        self.close_connection = True
        # A request line that did not parse leaves http.server assuming HTTP/0.9, which would send
        # the body without a status line; every client PIE serves speaks HTTP/1.x.
        if self.request_version not in ("HTTP/1.0", "HTTP/1.1"):
            self.request_version = self.protocol_version
        self._write(error_response(code, text))
        # http.server returns without flushing after refusing a request line or its headers.
        self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:  # the stdlib's signature
        # Requests are logged once by _serve; this only sees malformed requests and socket errors.
        log.warning(format, *args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


# The local API ----------------------------------------------------------------------------------


class LocalApi:
    """The local stack: start it, send HTTP to ``url``, stop it. Also a context manager."""

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = 0,
        *,
        home: str | os.PathLike[str] | None = None,
        dynamodb_endpoint: str | None = None,
        table_name: str = LOCAL_TABLE_NAME,
        handlers: HandlerMappings | None = None,
        sweep_seconds: float = DEFAULT_SWEEP_SECONDS,
        webhook_sweep_seconds: float = DEFAULT_WEBHOOK_SWEEP_SECONDS,
        data_dir: str | os.PathLike[str] | None = None,
        fsync: bool = True,
        accept_data_loss: bool = False,
    ) -> None:
        """``sweep_seconds``: how often the job sweeper runs (timeouts, retries, lost records);
        ``webhook_sweep_seconds``: how often webhook deliveries whose retry is due are sent;
        ``fsync``: force each write to disk before answering it (survives a power cut, not only a
        crash), with concurrent writers sharing one fsync."""
        self._sweep_seconds = sweep_seconds
        self._webhook_sweep_seconds = webhook_sweep_seconds
        self._address = (host, port)
        self._home = local_home(home)
        self._dynamodb_endpoint = dynamodb_endpoint
        self.data_dir = Path(data_dir) if data_dir is not None and dynamodb_endpoint is None else None
        self.fsync = fsync
        self._accept_data_loss = accept_data_loss
        self._table_name = table_name
        self._handlers = handlers or HandlerMappings()
        self._resources = ExitStack()
        self.targets = LocalTargets()
        self._server: _GatewayHttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the local API is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def keys(self) -> SigningKeys:
        """The key pair tokens for this server are signed with."""
        return SigningKeys.load_or_create(self._home)

    def start(self) -> LocalApi:
        try:
            environment = dict(os.environ)
            dynamodb = self._resources.enter_context(
                local_backend(
                    self._table_name,
                    self._dynamodb_endpoint,
                    data_dir=self.data_dir,
                    fsync=self.fsync,
                    accept_data_loss=self._accept_data_loss,
                )
            )
            # The sweepers flush a metrics document every run: on stdout they would bury what the
            # embedding program prints. ``pie-local serve --metrics`` (or the caller's environment)
            # turns them on; local_backend restores the environment when the server stops.
            os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
            handlers = self._resources.enter_context(LocalHandlers(self._handlers, self.targets, environment))
            for service, client in handlers.clients.items():
                runtime.use_stand_in(service, client)
            self._resources.callback(runtime.clear_stand_ins)
            # Everything the server's threads run is imported here, before the first of them
            # starts: a stream replay importing the dispatcher while this thread imported the route
            # functions could meet a module the other had half initialized, and fail the start.
            authorizer = JwtAuthorizer(TokenVerifier(self.keys.public_key))
            gateway = LocalGateway(authorizer, site=self._console())
            dispatcher, sweeper = load_handler(DISPATCHER_FUNCTION), load_handler(SWEEPER_FUNCTION)
            deliverer = load_handler(WEBHOOK_DELIVERY_FUNCTION)
            _build_services()
            self._start_stream_replay(dynamodb, dispatcher)
            self._start_sweeper(sweeper)
            self._start_webhook_delivery(dynamodb, deliverer)
            self._server = _GatewayHttpServer(self._address, gateway)
            self._resources.callback(self._server.server_close)
        except BaseException:
            self._resources.close()
            raise
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _SHUTDOWN_POLL_SECONDS},
            name="pie-local-api",
            daemon=True,
        )
        self._thread.start()
        log.info(
            "PIE local API on %s (DynamoDB: %s)",
            self.url,
            self._dynamodb_endpoint
            or (
                f"embedded, data in {self.data_dir}, {'fsync on' if self.fsync else 'no fsync'}"
                if self.data_dir
                else "embedded, in memory only"
            ),
        )
        log.info("PIE console on %s%s/", self.url, CONSOLE_PATH)
        return self

    def _console(self) -> ConsoleSite:
        # Whoever can reach a loopback server can already run `pie-local token` here; nobody else can.
        if not is_loopback(self._address[0]):
            return ConsoleSite(mint=None)
        keys = self.keys
        return ConsoleSite(mint=lambda: mint_token(keys))

    def _start_stream_replay(self, dynamodb: Any, dispatcher: LambdaHandler) -> None:
        """Feed the table's stream to the dispatcher, as the deployed event source mapping does."""
        replayer = StreamReplayer(
            self._stream(dynamodb, DISPATCHER),
            dispatcher,
            lambda: LocalLambdaContext(local_function_name(DISPATCHER_FUNCTION)),
            filters=stream_filters.DISPATCHER,
        )
        replayer.start()
        self._resources.callback(replayer.stop)

    def _stream(self, dynamodb: Any, reader: str) -> StreamReader:
        """The table's stream as ``reader`` reads it (each reader keeps its own position)."""
        if self._dynamodb_endpoint is None:
            return TableStream(table_changes(self._table_name), reader=reader)
        streams = boto3.client(
            "dynamodbstreams", region_name=dynamodb.meta.region_name, endpoint_url=self._dynamodb_endpoint
        )
        return DynamoDBStreamsReader(dynamodb, streams, self._table_name)

    def _start_webhook_delivery(self, dynamodb: Any, handler: LambdaHandler) -> None:
        """Run functions/deliver_webhooks as deployed, with real HTTP: on the stream's new events and
        deliveries as soon as they are committed (a reader of its own, resuming where it stood
        after a restart), and on a timer for the deliveries whose retry is due (the schedule)."""
        context = lambda: LocalLambdaContext(local_function_name(WEBHOOK_DELIVERY_FUNCTION))  # noqa: E731
        replayer = StreamReplayer(
            self._stream(dynamodb, WEBHOOK_DELIVERY_FUNCTION), handler, context, filters=stream_filters.WEBHOOK_DELIVERY
        )
        replayer.start()
        self._resources.callback(replayer.stop)
        scheduled = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
        self._every(self._webhook_sweep_seconds, lambda: handler(scheduled, context()), "webhook retries")

    def _start_sweeper(self, handler: LambdaHandler) -> None:
        """Run functions/sweep_jobs on a timer, as the deployed EventBridge schedule does."""

        def sweep() -> None:
            handler(
                {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}},
                LocalLambdaContext(local_function_name(SWEEPER_FUNCTION)),
            )

        self._every(self._sweep_seconds, sweep, "job sweep")

    def _every(self, seconds: float, work: Any, what: str) -> None:
        """Run ``work`` every ``seconds`` on a thread of its own until the stack stops."""
        stop = threading.Event()

        def run() -> None:
            while not stop.wait(seconds):
                try:
                    work()
                except Exception:  # like a failed scheduled invocation: the next run tries again
                    log.exception("%s failed; the next one retries", what)

        thread = threading.Thread(target=run, name=f"pie-local-{what.replace(' ', '-')}", daemon=True)
        thread.start()

        def halt() -> None:
            stop.set()
            thread.join()

        self._resources.callback(halt)

    def wait(self, until: Callable[[], bool] = lambda: False) -> None:
        """Block until the server stops or ``until()`` is true (polled every half second)."""
        while self._thread is not None and self._thread.is_alive() and not until():
            self._thread.join(timeout=_SHUTDOWN_POLL_SECONDS)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join()
        self._resources.close()
        self._server = None
        self._thread = None

    def __enter__(self) -> LocalApi:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

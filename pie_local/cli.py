"""``pie-local``: run PIE on a laptop with no AWS account.

    pie-local serve                      # the HTTP API on http://127.0.0.1:8000
    pie-local token --scope models:read  # a bearer token that server accepts
    pie-local invoke create_model events/create_model.json

Logs go to stderr; stdout carries only what a command prints (a token, a function's response).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shlex
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlparse

from pie_local.gateway.servers import announce, home_of_server, withdraw
from pie_local.gateway.tokens import (
    AUDIENCE,
    DEFAULT_HOME_DIRECTORY,
    DEFAULT_LIFETIME_SECONDS,
    DEFAULT_SUBJECT,
    HOME_ENVIRONMENT_VARIABLE,
    ISSUER,
    SigningKeys,
    local_home,
    mint_token,
    user_home,
)
from pie_local.runtime.handler_mappings import (
    DEFAULT_HANDLER_TIMEOUT_SECONDS,
    EcsMapping,
    HandlerMappings,
    LambdaMapping,
)
from pie_local.settings import DEFAULT_SWEEP_SECONDS, DEFAULT_WEBHOOK_SWEEP_SECONDS
from shared.domain.access import ADMIN_SCOPE, DEFAULT_WORKSPACES_CLAIM, is_workspace_name
from shared.domain.entities import DEFAULT_WORKSPACE
from shared.routes import ALL_SCOPES

if TYPE_CHECKING:
    from pie_local.server import LocalApi

log = logging.getLogger(__name__)
LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"

DATA_DIRECTORY = "data"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format=LOG_FORMAT)
    logging.getLogger("botocore").setLevel(logging.WARNING)
    _log_the_local_stack_on_its_own()
    try:
        return arguments.command(arguments, arguments.parser)
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    home = argparse.ArgumentParser(add_help=False)
    home.add_argument(
        "--home",
        metavar="DIR",
        help=(
            f"where the signing keys (and serve's data) live (default: ${HOME_ENVIRONMENT_VARIABLE}, else a "
            f"./{DEFAULT_HOME_DIRECTORY} that exists, else {_tilde(user_home())})"
        ),
    )

    parser = argparse.ArgumentParser(
        prog="pie-local",
        description="Run PIE locally: its route functions behind a local API Gateway, on an embedded DynamoDB.",
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        parents=[home],
        help="serve the HTTP API locally",
        description=(
            "Serve every route of the route table the way API Gateway does: JWT authorizer, payload "
            "format 2.0 events, one Lambda handler per route. DynamoDB is an embedded moto whose data is "
            "kept in --data-dir (rm -rf that directory to start empty), unless --ephemeral or "
            "--dynamodb-endpoint is given. Stop with Ctrl-C."
        ),
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    serve.add_argument(
        "--port", type=int, default=8000, help="port to listen on; 0 picks a free one (default: %(default)s)"
    )
    serve.add_argument(
        "--dynamodb-endpoint",
        type=_endpoint_url,
        metavar="URL",
        help="use the DynamoDB at URL (e.g. DynamoDB Local) instead of the embedded one; the table is created if missing",
    )
    serve.add_argument(
        "--lambda",
        dest="lambdas",
        action="append",
        default=[],
        type=_parsed_by(LambdaMapping.parse),
        metavar="NAME=FILE.py:FUNCTION",
        help="run FUNCTION of FILE.py, in a subprocess, for jobs whose Lambda ARN names function NAME (repeatable)",
    )
    serve.add_argument(
        "--ecs",
        action="append",
        default=[],
        type=_parsed_by(EcsMapping.parse),
        metavar="CLUSTER/FAMILY='COMMAND ...'",
        help=(
            "run COMMAND for ECS jobs of that task family (any revision, or the one given as FAMILY:REVISION), "
            "with the job envelope as JSON in $PIE_JOB (repeatable)"
        ),
    )
    serve.add_argument(
        "--private-reads",
        action="store_true",
        help="callers see only their workspaces' models; others answer 404 (default: reads are open; "
        "PIE_PRIVATE_READS=true does the same)",
    )
    serve.add_argument(
        "--handler-timeout",
        type=float,
        default=DEFAULT_HANDLER_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="kill a --lambda or --ecs handler running longer, and fail its job (default: %(default)g)",
    )
    serve.add_argument(
        "--metrics",
        action="store_true",
        help="print the functions' CloudWatch metrics (EMF JSON) in the log, as deployed functions emit them "
        "(default: off, to keep the log readable)",
    )
    serve.add_argument(
        "--sweep-seconds",
        type=float,
        default=DEFAULT_SWEEP_SECONDS,
        metavar="SECONDS",
        help="how often the job sweeper ends overdue attempts and releases due retries (default: %(default)g)",
    )
    serve.add_argument(
        "--webhook-sweep-seconds",
        type=float,
        default=DEFAULT_WEBHOOK_SWEEP_SECONDS,
        metavar="SECONDS",
        help="how often webhook deliveries whose retry is due are sent again (default: %(default)g)",
    )
    serve.add_argument(
        "--webhook-backoff-scale",
        type=float,
        default=1.0,
        metavar="FACTOR",
        help="multiply every webhook retry interval (5 s, 5 min, 30 min, 2 h, 5 h, 10 h) and the 3 days after "
        "which a failing endpoint is disabled by this, to try receivers quickly (default: %(default)g)",
    )
    data = serve.add_mutually_exclusive_group()
    data.add_argument(
        "--data-dir",
        metavar="DIR",
        help=f"where the embedded table keeps its data (default: {DATA_DIRECTORY} under the --home directory)",
    )
    data.add_argument(
        "--ephemeral", action="store_true", help="keep the embedded table in memory only: nothing is written to disk"
    )
    serve.add_argument(
        "--accept-data-loss",
        action="store_true",
        help="start on a damaged --data-dir with what it still holds (its log is copied aside first) "
        "instead of refusing it",
    )
    serve.add_argument(
        "--fsync",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="force each write to disk before answering it, concurrent writes sharing one fsync: it "
        "survives a power cut, not only a crash (the default); --no-fsync answers once the write is "
        "with the operating system, for throwaway speed (a crash of the machine may lose the last writes)",
    )
    serve.set_defaults(command=_serve, parser=serve)

    token = commands.add_parser(
        "token",
        parents=[home],
        help="print a bearer token the local server accepts",
        description=(
            f"Print an RS256 JWT (iss {ISSUER!r}, aud {AUDIENCE!r}) signed with the local key pair, "
            "which is created on first use. Use it as: Authorization: Bearer <token>."
        ),
    )
    token.add_argument(
        "--scope",
        action="append",
        choices=ALL_SCOPES,
        help="a scope to grant; repeat for several (default: all of them)",
    )
    token.add_argument(
        "--workspace",
        action="append",
        type=_workspace_name,
        help=f"a workspace the caller acts in; repeat for several (default: {DEFAULT_WORKSPACE})",
    )
    token.add_argument(
        "--server",
        metavar="URL",
        help="sign with the keys of the pie-local serve listening on URL's port, wherever it was started "
        "(default: the --home directory)",
    )
    token.add_argument("--admin", action="store_true", help=f"add the {ADMIN_SCOPE} scope: act in every workspace")
    token.add_argument("--sub", default=DEFAULT_SUBJECT, help="the caller's identity (default: %(default)s)")
    token.add_argument(
        "--expires-in",
        type=int,
        default=DEFAULT_LIFETIME_SECONDS,
        metavar="SECONDS",
        help="lifetime in seconds; negative mints an already expired token (default: %(default)s)",
    )
    token.set_defaults(command=_token, parser=token)

    invoke = commands.add_parser(
        "invoke",
        help="run one function's handler on an event and print its response",
        description=(
            "Run functions/FUNCTION/handler.py's lambda_handler once on EVENT, against a fresh, empty "
            "embedded table, and print the response as JSON. The function's logs go to stderr."
        ),
    )
    invoke.add_argument("function", metavar="FUNCTION", help="a directory under functions/, e.g. create_model")
    invoke.add_argument("event", metavar="EVENT.json", help="the event file (- reads stdin)")
    invoke.set_defaults(command=_invoke, parser=invoke)
    return parser


def _serve(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        handlers = HandlerMappings(tuple(arguments.lambdas), tuple(arguments.ecs), arguments.handler_timeout)
    except ValueError as error:
        parser.error(str(error))

    from botocore.exceptions import BotoCoreError, ClientError

    from pie_local.collector import keep_collections_short
    from pie_local.server import LocalApi
    from pie_local.table.changes import DataDirectoryDamagedError, DataDirectoryInUseError

    if arguments.private_reads:
        os.environ["PIE_PRIVATE_READS"] = "true"  # read by the route functions, as when deployed
    if not 0 < arguments.webhook_backoff_scale <= 1:
        parser.error("--webhook-backoff-scale must be above 0 and at most 1")
    os.environ["PIE_WEBHOOK_BACKOFF_SCALE"] = repr(arguments.webhook_backoff_scale)
    # Every dispatch and sweep flushes a metrics document; in a terminal they bury the requests.
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "false" if arguments.metrics else "true"
    _send_function_logs_to_stderr()
    if arguments.dynamodb_endpoint and arguments.data_dir:
        parser.error("--data-dir is for the embedded table; with --dynamodb-endpoint the data lives there")
    api = LocalApi(
        arguments.host,
        arguments.port,
        home=arguments.home,
        dynamodb_endpoint=arguments.dynamodb_endpoint,
        handlers=handlers,
        sweep_seconds=arguments.sweep_seconds,
        webhook_sweep_seconds=arguments.webhook_sweep_seconds,
        data_dir=None if arguments.ephemeral else arguments.data_dir or local_home(arguments.home) / DATA_DIRECTORY,
        fsync=arguments.fsync,
        accept_data_loss=arguments.accept_data_loss,
    )
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # while starting, as Ctrl-C: start() cleans up
    try:
        api.start()
    except (BotoCoreError, ClientError) as error:
        parser.error(f"cannot use the DynamoDB at {arguments.dynamodb_endpoint}: {error}")
    except DataDirectoryInUseError as error:
        parser.error(str(error))
    except DataDirectoryDamagedError as error:
        parser.exit(
            1,
            f"{parser.prog}: error: {error}. Starting on it would make the loss permanent: restore "
            f"{error.path.parent} from a backup, or start with --accept-data-loss to keep what it still "
            "holds (its log is copied aside first), or use another --data-dir.\n",
        )
    except OSError as error:
        parser.error(f"cannot listen on {arguments.host}:{arguments.port}: {error.strerror}")
    # Serving: Ctrl-C and SIGTERM now only raise a flag the main thread polls. An exception raised
    # at an arbitrary point (inside a logging call holding its lock, half way through announcing)
    # could leave a lock held that the server's threads then wait on, and the stop would hang.
    stop = _StopRequest()
    announced: Path | None = None
    try:
        announced = _announce(api.url, local_home(arguments.home))
        _print_banner(api, arguments)
        # Everything the server holds for good is loaded: keep the collector's full walks off it.
        keep_collections_short()
        api.wait(until=stop.requested)
        if stop.requested():
            log.info("stopping")
    finally:
        # A second Ctrl-C or SIGTERM must not cut the flush short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if announced is not None:
            withdraw(announced)
        api.stop()
    _exit_without_teardown(0)


def _print_banner(api: LocalApi, arguments: argparse.Namespace) -> None:
    """What a developer needs next: where the API is, how to get a token, where the data lives."""
    from pie_local.console.console import CONSOLE_PATH

    home = local_home(arguments.home)
    # As printed, in a fresh shell anywhere: no $PIE_LOCAL_HOME there, maybe no venv on PATH.
    token_command = f"{_this_command()} token"
    if home.resolve() != user_home().resolve():
        token_command += f" --home {shlex.quote(str(home.resolve()))}"
    if arguments.dynamodb_endpoint:
        data = f"the DynamoDB at {arguments.dynamodb_endpoint}"
    elif api.data_dir is not None:
        data = f"{api.data_dir} (wipe: rm -rf {shlex.quote(str(api.data_dir))})"
    else:
        data = "in memory, discarded on exit (--ephemeral)"
    durability = ""
    if api.data_dir is not None:
        durability = (
            "  durability     fsync: each write is on disk before it is answered (--no-fsync for speed)\n"
            if api.fsync
            else "  durability     no fsync (--no-fsync): a power cut may lose the last writes\n"
        )
    sys.stderr.write(
        f"\n  PIE local API  {api.url}\n"
        f"  console        {api.url}{CONSOLE_PATH}/\n"
        f"  token          {token_command}\n"
        f"  keys           {home}\n"
        f"  data           {data}\n"
        f"{durability}"
        "  stop           Ctrl-C\n\n"
    )
    sys.stderr.flush()


def _announce(url: str, home: Path) -> Path | None:
    """Tell ``pie-local token --server`` (and so the ``pie`` CLI, from any directory) which keys
    this server verifies with. Not being able to is no reason not to serve."""
    try:
        return announce(url, home)
    except OSError as error:
        log.warning("cannot announce the server under %s: %s", user_home(), error)
        return None


def _this_command() -> str:
    """``pie-local`` when that name on PATH is this very script, else the script's full path (a
    virtualenv that is not activated), else ``python -m pie_local.cli``."""
    script = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    if script is not None and script.name == "pie-local" and script.is_file():
        on_path = shutil.which("pie-local")
        if on_path is not None and Path(on_path).resolve() == script:
            return "pie-local"
        return shlex.quote(str(Path(sys.argv[0]).absolute()))
    return f"{shlex.quote(sys.executable)} -m pie_local.cli"


def _tilde(path: Path) -> str:
    try:
        return f"~/{path.relative_to(Path.home())}"
    except ValueError:
        return str(path)


def _exit_without_teardown(code: int) -> NoReturn:
    """Exit once the server has stopped and its writes are flushed, skipping the interpreter's
    teardown: freeing the embedded table object by object took seconds after a few writes and over
    a minute after a working session, while nothing of it is needed any more."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _endpoint_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise argparse.ArgumentTypeError(f"{value!r} is not an http(s) URL, e.g. http://localhost:8001")
    return value


def _parsed_by(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type from a parser that raises ValueError with the reason."""

    def parsed(value: str) -> Any:
        try:
            return parse(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parsed


class _StopRequest:
    """SIGINT and SIGTERM, remembered: the handler only sets a flag (no lock, no exception)."""

    def __init__(self) -> None:
        self._requested = False
        signal.signal(signal.SIGINT, self._request)
        signal.signal(signal.SIGTERM, self._request)

    def _request(self, signum: int, frame: FrameType | None) -> None:
        self._requested = True

    def requested(self) -> bool:
        return self._requested


def _workspace_name(value: str) -> str:
    if not is_workspace_name(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a workspace name (letters, digits, _ . -; at most 64)")
    return value


def _token(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    home = local_home(arguments.home)
    if arguments.server and not arguments.home:
        home = home_of_server(arguments.server) or home
    keys = SigningKeys.load_or_create(home)
    scopes = [*(arguments.scope or ALL_SCOPES), *([ADMIN_SCOPE] if arguments.admin else [])]
    token = mint_token(
        keys,
        scopes=scopes,
        workspaces=arguments.workspace or [DEFAULT_WORKSPACE],
        # The claim the server reads, when it is started with another one.
        workspaces_claim=os.environ.get("PIE_WORKSPACES_CLAIM") or DEFAULT_WORKSPACES_CLAIM,
        subject=arguments.sub,
        expires_in=arguments.expires_in,
    )
    sys.stdout.write(token + "\n")
    return 0


def _invoke(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from pie_local.runtime.functions import LocalLambdaContext, function_names, load_handler, local_function_name
    from pie_local.server import local_backend

    if arguments.function not in function_names():
        parser.error(f"unknown function {arguments.function!r}; choose one of: {', '.join(function_names())}")
    event = _read_event(arguments.event, parser)
    handler = load_handler(arguments.function)
    _send_function_logs_to_stderr()
    # stdout carries the response alone (for `| jq`): what the function prints itself, such as
    # Powertools' metrics, joins its logs on stderr.
    with local_backend(), contextlib.redirect_stdout(sys.stderr):
        response = handler(event, LocalLambdaContext(local_function_name(arguments.function)))
    sys.stdout.write(json.dumps(response, indent=2) + "\n")
    return 0


def _read_event(source: str, parser: argparse.ArgumentParser) -> Any:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
        return json.loads(text)
    except OSError as error:
        parser.error(f"cannot read {source}: {error.strerror}")
    except json.JSONDecodeError as error:
        parser.error(f"{source} is not JSON: {error}")


def _log_the_local_stack_on_its_own() -> None:
    """The local stack's records go to stderr through its own handler, not the root's: Powertools
    puts a filter on the root's handlers that drops every record whose logger name contains its
    service name ("pie"), and "pie_local.server" does."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    local = logging.getLogger("pie_local")
    local.handlers[:] = [handler]
    local.propagate = False


def _send_function_logs_to_stderr() -> None:
    from shared.observability import logger

    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

"""``pie``: the PIE command line, on the SDK.

Configuration comes from the environment:

- ``PIE_API_URL`` (default ``http://127.0.0.1:8000``, where ``pie-local serve`` listens);
- ``PIE_TOKEN``, or ``PIE_TOKEN_COMMAND``, a shell command that prints a token (run once per
  invocation: ``aws cognito-idp ...``, ``vault read ...``);
- neither, against a loopback URL: the token comes from ``pie-local token --server URL``, which
  signs with the keys of the ``pie-local serve`` listening there, from any directory.

Exit codes: 0 success; 1 the API refused or failed, or a waited-for job (``--wait``, ``jobs
watch``) failed; 2 a usage or configuration problem; 3 a wait timed out (the job is still
running); ``apply --plan``: 0 no changes, 2 changes, 1 any error. Errors are one line on stderr,
never a traceback (``PIE_DEBUG=1`` shows it), and no message is wrapped off a terminal.

``-o/--output table|json`` is accepted by every command and group, before or after its name.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

try:
    import click
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text
except ImportError as missing:  # the SDK installed without the `cli` extra
    sys.stderr.write(f"error: the pie command needs the cli extra: pip install 'pie-client[cli]' ({missing})\n")
    raise SystemExit(2) from None

from pydantic import ValidationError

from pie_client import apply as declared
from pie_client import rules
from pie_client.client import DEFAULT_URL, PieClient
from pie_client.errors import BadRequest, InvalidRequest, PieError, Unauthorized, WaitTimeout
from pie_client.graph import ImpactTree, TriggerGraph, event_label
from pie_client.models import Job

OUTPUT_FORMATS = ("table", "json")
TIMED_OUT_EXIT = 3
EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 the API refused, or a waited-for job failed; 2 usage or configuration; "
    "3 a wait timed out; apply --plan: 0 no changes, 2 changes, 1 error."
)
GRAPH_FORMATS = ("text", "dot", "mermaid", "json")
_FILTER_POSITION = re.compile(r"^filter: .*\(at position (\d+)\)$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class ConfigurationError(Exception):
    """No usable URL or token: exit 2, like any other usage problem."""


class JobFailed(Exception):
    def __init__(self, job: Job) -> None:
        super().__init__(f"job {job.id} of model {job.model_id} failed: {job.error or 'no reason given'}")


# Settings --------------------------------------------------------------------------------------


class Session:
    """What every command shares: the API's address, a lazily built client, the output format."""

    def __init__(self, output: str) -> None:
        self.output = output
        self.url = os.environ.get("PIE_API_URL") or DEFAULT_URL
        self._client: PieClient | None = None
        self.local_key_home: str | None = None  # set when the token came from `pie-local token`
        # No markup: names, labels and messages are users' text, and "[/x]" in one must print as is.
        self.out = Console(soft_wrap=True, highlight=False, markup=False, width=None if sys.stdout.isatty() else 200)
        # soft_wrap: a message is one line however narrow the terminal (or a pipe, 80 columns to rich).
        self.err = Console(stderr=True, soft_wrap=True, highlight=False, markup=False)

    @property
    def client(self) -> PieClient:
        if self._client is None:
            parsed = urlparse(self.url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ConfigurationError(f"PIE_API_URL={self.url!r} is not an http(s) URL")
            self._client = PieClient(self.url, self._token())
        return self._client

    def _token(self) -> str:
        token = os.environ.get("PIE_TOKEN")
        if token:
            return token.strip()
        command = os.environ.get("PIE_TOKEN_COMMAND")
        if command:
            return _run_token_command(command, "PIE_TOKEN_COMMAND")
        if not _is_loopback(self.url):
            raise ConfigurationError(
                f"no token for {self.url}: set PIE_TOKEN, or PIE_TOKEN_COMMAND to a command that prints one"
            )
        self.local_key_home = os.environ.get("PIE_LOCAL_HOME") or "pie-local's default home"
        return _local_token(self.url)


def _local_token(url: str) -> str:
    """A token from ``pie-local token``, which signs with the key where ``pie-local serve`` looks."""
    pie_local = _pie_local()
    if pie_local is None:
        raise ConfigurationError(
            f"no token for {url}: set PIE_TOKEN or PIE_TOKEN_COMMAND (pie-local, which mints local tokens, is not installed)"
        )
    return _run_token_command([pie_local, "token", "--server", url], "pie-local token")


def _run_token_command(command: str | list[str], name: str) -> str:
    try:
        completed = subprocess.run(
            command, shell=isinstance(command, str), capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ConfigurationError(f"{name} could not run: {error}") from None
    if completed.returncode != 0:
        reason = (completed.stderr.strip().splitlines() or ["no message"])[-1]
        raise ConfigurationError(f"{name} exited with {completed.returncode}: {reason}")
    token = completed.stdout.strip()
    if not token:
        raise ConfigurationError(f"{name} printed no token")
    return token


def _is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _pie_local() -> str | None:
    beside = Path(sys.executable).parent / "pie-local"
    return str(beside) if beside.exists() else shutil.which("pie-local")


# Output ----------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_none=False)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def emit(session: Session, value: Any, columns: dict[str, Callable[[Any], Any]] | None = None) -> None:
    """One resource (a field table) or a list of them (one row each), as a table or as JSON."""
    if session.output == "json":
        click.echo(json.dumps(_plain(value), indent=2, ensure_ascii=False))
        return
    if isinstance(value, list):
        table = Table(show_edge=False, header_style="bold")
        for title in columns or {}:
            table.add_column(title, overflow="fold")
        for item in value:
            table.add_row(*(_cell(getter(item)) for getter in (columns or {}).values()))
        session.out.print(table)
        if not value:
            session.err.print("(none)")
        return
    table = Table(show_header=False, show_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, field_value in _plain(value).items():
        table.add_row(name, _cell(field_value))
    session.out.print(table)


def _cell(value: Any) -> Text:
    if value is None:
        return Text("-")
    if isinstance(value, (dict, list)):
        return Text(json.dumps(value, ensure_ascii=False))
    return Text(str(value))


def _handler(handler: Any) -> str:
    data = handler.model_dump(mode="json")
    kind = data.pop("type")
    return f"{kind}:{next(iter(data.values()), '')}" if data else kind


def _first(items: Iterable[Any], limit: int) -> list[Any]:
    found: list[Any] = []
    for item in items:
        if len(found) == limit:
            break
        found.append(item)
    return found


MODEL_COLUMNS: dict[str, Callable[[Any], Any]] = {
    "ID": lambda model: model.id,
    "NAME": lambda model: model.name,
    "STATUS": lambda model: model.status,
    "LATEST": lambda model: model.latest_version,
    "ACTIVE": lambda model: model.active_version,
    "TRAINING": lambda model: _handler(model.handlers.training),
    "INFERENCE": lambda model: _handler(model.handlers.inference),
}
VERSION_COLUMNS: dict[str, Callable[[Any], Any]] = {
    "VERSION": lambda version: version.version,
    "STATUS": lambda version: version.status,
    "MESSAGE": lambda version: version.status_message,
    "UPDATED": lambda version: version.updated_at.isoformat(timespec="seconds"),
}
LINEAGE_COLUMNS: dict[str, Callable[[Any], Any]] = {
    "MODEL": lambda step: step.model_id,
    "VERSION": lambda step: step.version,
    "JOB": lambda step: step.job_id,
    "SUBSCRIPTION": lambda step: step.subscription_id or "(root)",
}
SUBSCRIPTION_COLUMNS: dict[str, Callable[[Any], Any]] = {
    "ID": lambda sub: sub.id,
    "LABEL": lambda sub: sub.label,
    "EVENT": lambda sub: event_label(sub.trigger_event, sub.alias),
    "TARGET": lambda sub: sub.target_model_id,
    "ACTION": lambda sub: sub.target_action,
    "INPUT": lambda sub: sub.input_source,
    "STATUS": lambda sub: sub.status,
}
ALIAS_COLUMNS: dict[str, Callable[[Any], Any]] = {
    "ALIAS": lambda alias: alias.name,
    "VERSION": lambda alias: alias.version,
    "UPDATED": lambda alias: alias.updated_at.isoformat(timespec="seconds"),
    "BY": lambda alias: alias.updated_by,
    "REASON": lambda alias: alias.reason,
}
ALIAS_HISTORY_COLUMNS: dict[str, Callable[[Any], Any]] = {
    "AT": lambda change: change.at.isoformat(timespec="seconds"),
    "VERSION": lambda change: change.version or "(deleted)",
    "PREVIOUS": lambda change: change.previous_version,
    "BY": lambda change: change.by,
    "REASON": lambda change: change.reason,
}
TAG_COLUMNS: dict[str, Callable[[Any], Any]] = {
    "KEY": lambda tag: tag["key"],
    "VALUE": lambda tag: tag["value"],
}
WEBHOOK_COLUMNS: dict[str, Callable[[Any], Any]] = {
    "ID": lambda hook: hook.id,
    "URL": lambda hook: hook.url,
    "EVENTS": lambda hook: ",".join(hook.events),
    "MODELS": lambda hook: ",".join(hook.model_ids) if hook.model_ids else "(all)",
    "WORKSPACE": lambda hook: hook.workspace,
    "STATUS": lambda hook: hook.status,
    "DESCRIPTION": lambda hook: hook.description,
}
DELIVERY_COLUMNS: dict[str, Callable[[Any], Any]] = {
    "ID": lambda delivery: delivery.id,
    "EVENT": lambda delivery: delivery.event_type,
    "STATUS": lambda delivery: delivery.status,
    "ATTEMPTS": lambda delivery: len(delivery.attempts),
    "LAST": lambda delivery: _last_attempt(delivery),
    "NEXT": lambda delivery: (
        delivery.next_attempt_at.isoformat(timespec="seconds") if delivery.next_attempt_at else None
    ),
    "CREATED": lambda delivery: delivery.created_at.isoformat(timespec="seconds"),
}
JOB_COLUMNS: dict[str, Callable[[Any], Any]] = {
    "ID": lambda job: job.id,
    "VERSION": lambda job: job.version,
    "ACTION": lambda job: job.action,
    "STATUS": lambda job: job.status,
    "TRIGGER": lambda job: job.trigger.source_model_id if job.trigger else None,
    "UPDATED": lambda job: job.updated_at.isoformat(timespec="seconds"),
    "ERROR": lambda job: job.error,
}


def _last_attempt(delivery: Any) -> str | None:
    if not delivery.attempts:
        return None
    last = delivery.attempts[-1]
    return str(last.status_code) if last.status_code is not None else last.error


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in sorted(tags.items())]


def filter_caret(expression: str, message: str) -> str | None:
    """The filter with a caret under the position a server's 400 names, or None if it names none."""
    found = _FILTER_POSITION.match(message)
    if found is None:
        return None
    position = min(int(found.group(1)), len(expression))
    return f"  {expression}\n  {' ' * position}^"


def _searched(session: Session, expression: str | None, read: Callable[[], list[Any]]) -> list[Any]:
    """Read a filtered list; a filter the server cannot parse shows, at a terminal, the filter
    with a caret under the position its message names (the error itself stays one line)."""
    try:
        return read()
    except BadRequest as refused:
        caret = filter_caret(expression, refused.message) if expression is not None else None
        if caret is not None and sys.stderr.isatty():
            session.err.print(caret)
        raise


# Parameters ------------------------------------------------------------------------------------


class JsonValue(click.ParamType):
    """Inline JSON, ``@file.json``, or ``-`` for standard input."""

    name = "JSON|@FILE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        source = "standard input" if value == "-" else value
        try:
            if value == "-":
                text = sys.stdin.read()
            elif value.startswith("@"):
                source = value[1:]
                text = Path(source).read_text()
            else:
                text = value
        except OSError as error:
            self.fail(f"cannot read {source}: {error.strerror}", param, ctx)
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            self.fail(f"{source} is not JSON: {error.msg} (line {error.lineno}, column {error.colno})", param, ctx)


class JsonObjectValue(JsonValue):
    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        parsed = super().convert(value, param, ctx)
        if not isinstance(parsed, dict):
            self.fail("must be a JSON object", param, ctx)
        return parsed


JSON_OBJECT = JsonObjectValue()


class Instant(click.ParamType):
    """An RFC 3339 instant with its offset (``2026-03-14T14:03:00Z``): a time without a zone is
    ambiguous for "what served then", so it is refused here rather than by the server."""

    name = "RFC3339"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            instant = datetime.fromisoformat(value) if isinstance(value, str) else value
        except ValueError:
            self.fail(f"{value!r} is not an RFC 3339 time (e.g. 2026-03-14T14:03:00Z)", param, ctx)
        if instant.tzinfo is None:
            self.fail(f"{value!r} has no offset: add Z or +01:00", param, ctx)
        return instant


def output_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--output`` on every command, so it can come after the command name too."""

    def remember(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value is not None:
            ctx.find_object(Session).output = value

    return click.option(
        "--output",
        "-o",
        type=click.Choice(OUTPUT_FORMATS),
        expose_value=False,
        callback=remember,
        help="table (default) or json",
    )(command)


pass_session = click.make_pass_decorator(Session)


# Commands --------------------------------------------------------------------------------------


class PieCommands(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Unauthorized as refused:
            home = ctx.find_object(Session).local_key_home
            if home is not None:
                refused.message += (
                    f" (no pie-local serve announced itself on this port, so the token was signed with the key "
                    f"in {home}: set PIE_LOCAL_HOME to the server's --home directory, or PIE_TOKEN)"
                )
            raise


@click.group(cls=PieCommands, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES_HELP)
@click.option("--output", "-o", type=click.Choice(OUTPUT_FORMATS), default="table", show_default=True)
@click.version_option(package_name="pie-client")
@click.pass_context
def cli(ctx: click.Context, output: str) -> None:
    """PIE from the command line. PIE_API_URL and PIE_TOKEN (or PIE_TOKEN_COMMAND) say where and
    who; against a local `pie-local serve` neither is needed."""
    ctx.obj = Session(output)


@cli.group()
def models() -> None:
    """Models: list, get, create, update, delete."""


def _search_options(orders: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def add(command: Callable[..., Any]) -> Callable[..., Any]:
        command = click.option(
            "--order-by", metavar="FIELD [ASC|DESC]", help=f"{orders}, optionally followed by ASC or DESC"
        )(command)
        return click.option(
            "--filter",
            "filter_",
            metavar="EXPRESSION",
            help="MLflow's filter syntax, comparisons joined by AND (see docs/search.md)",
        )(command)

    return add


@models.command("list")
@click.option("--status", type=click.Choice(["pending", "active"]))
@click.option("--workspace", help="only this workspace's models")
@_search_options("name, created_at or updated_at")
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True, help="at most this many")
@output_option
@pass_session
def models_list(
    session: Session,
    status: str | None,
    workspace: str | None,
    filter_: str | None,
    order_by: str | None,
    limit: int,
) -> None:
    """The models (in the list's order, or --order-by's). --filter "name LIKE 'price%' AND
    tags.team = 'pricing'" keeps those matching; a filter that does not parse exits 1 with the
    position where reading stopped."""
    found = session.client.search_models(
        filter_,
        order_by=order_by,
        status=status,
        workspace=workspace,
        page_size=100,  # type: ignore[arg-type]
    )
    emit(session, _searched(session, filter_, lambda: _first(found, limit)), MODEL_COLUMNS)


@models.command("get", help="One model: handlers, contracts, metadata, versions.")
@click.argument("model_id")
@output_option
@pass_session
def models_get(session: Session, model_id: str) -> None:
    emit(session, session.client.get_model(model_id))


def _alias_field_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--promotion",
        metavar="ALIAS",
        help="the alias PIE moves to each version as it becomes active ('' for none)",
    )(command)
    return click.option(
        "--protected-aliases",
        metavar="A,B",
        help="comma-separated aliases only a token with models:promote may move or delete ('' for none)",
    )(command)


def _alias_fields(protected_aliases: str | None, promotion: str | None) -> dict[str, Any]:
    """The model's alias fields the options give: an empty value clears the field."""
    fields: dict[str, Any] = {}
    if protected_aliases is not None:
        fields["protected_aliases"] = [name.strip() for name in protected_aliases.split(",") if name.strip()]
    if promotion is not None:
        fields["promotion"] = {"alias": promotion.strip()} if promotion.strip() else None
    return fields


@models.command("create", help="Register a model (its version 1 is pending).")
@click.argument("model_id")
@click.option("--name", required=True)
@click.option("--handlers", type=JSON_OBJECT, required=True, help='{"training": {...}, "inference": {...}}')
@click.option("--description", default="")
@click.option("--metadata", type=JSON_OBJECT, default="{}")
@click.option("--contracts", type=JSON_OBJECT, help="handler_contracts")
@_alias_field_options
@output_option
@pass_session
def models_create(session: Session, model_id: str, **fields: Any) -> None:
    created = session.client.create_model(
        model_id,
        name=fields["name"],
        handlers=fields["handlers"],
        description=fields["description"],
        metadata=fields["metadata"],
        handler_contracts=fields["contracts"],
        **_alias_fields(fields["protected_aliases"], fields["promotion"]),
    )
    emit(session, created.model)


@models.command("update")
@click.argument("model_id")
@click.option("--name")
@click.option("--handlers", type=JSON_OBJECT)
@click.option("--description")
@click.option("--metadata", type=JSON_OBJECT)
@click.option("--contracts", type=JSON_OBJECT, help="handler_contracts")
@click.option("--clear-contracts", is_flag=True, help="remove the handler contracts")
@_alias_field_options
@output_option
@pass_session
def models_update(
    session: Session,
    model_id: str,
    clear_contracts: bool,
    protected_aliases: str | None,
    promotion: str | None,
    **changes: Any,
) -> None:
    """Change the given fields (the rest stay), conditional on the model read just before.
    Lifting a protection needs the models:promote scope."""
    fields = {"handler_contracts" if name == "contracts" else name: value for name, value in changes.items()}
    given = {name: value for name, value in fields.items() if value is not None}
    if clear_contracts:
        given["handler_contracts"] = None
    given.update(_alias_fields(protected_aliases, promotion))
    updated = session.client.update_model(model_id, **given)
    emit(session, updated.model)


@models.command("delete", help="Delete a model, its versions and its subscriptions.")
@click.argument("model_id")
@pass_session
def models_delete(session: Session, model_id: str) -> None:
    session.client.delete_model(model_id)
    _deleted(session, "model", model_id)


def _deleted(session: Session, kind: str, identifier: str) -> None:
    if session.output == "json":
        click.echo(json.dumps({"deleted": kind, "id": identifier}))
    else:
        session.err.print(f"deleted {kind} {identifier}")


@cli.group()
def versions() -> None:
    """Versions: list, get, create, status."""


@versions.command("list")
@click.argument("model_id")
@_search_options("created_at or updated_at")
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True)
@output_option
@pass_session
def versions_list(session: Session, model_id: str, filter_: str | None, order_by: str | None, limit: int) -> None:
    """A model's versions, newest first (or in --order-by's order). --filter "status = 'active'
    AND tags.stage = 'prod'" keeps those matching."""
    found = session.client.search_versions(model_id, filter_, order_by=order_by, page_size=100)
    emit(session, _searched(session, filter_, lambda: _first(found, limit)), VERSION_COLUMNS)


@versions.command("get")
@click.argument("model_id")
@click.argument("version", default="latest")
@output_option
@pass_session
def versions_get(session: Session, model_id: str, version: str) -> None:
    """One version, and its lineage: the jobs and subscriptions back to its chain's root. VERSION
    is a version, latest (the newest) or @alias (the version the alias points at)."""
    found = session.client.get_version(model_id, version).version
    lineage = session.client.get_version_lineage(model_id, found.version)
    if session.output == "json":
        emit(session, {**_plain(found), "lineage_steps": _plain(lineage)})
        return
    emit(session, found)
    if not lineage:
        session.out.print("lineage: none (no job has trained this version)")
        return
    session.out.print("lineage (nearest first):")
    emit(session, lineage, LINEAGE_COLUMNS)


@versions.command("create", help="Add a version to a model (pending).")
@click.argument("model_id")
@click.argument("version")
@click.option("--description", default="")
@click.option("--metadata", type=JSON_OBJECT, default="{}")
@output_option
@pass_session
def versions_create(session: Session, model_id: str, version: str, description: str, metadata: dict) -> None:
    emit(session, session.client.create_version(model_id, version, description=description, metadata=metadata).version)


@versions.command("status")
@click.argument("model_id")
@click.argument("version")
@click.argument("status", type=click.Choice(rules.VERSION_STATUSES))
@click.option("--message", help="status_message")
@output_option
@pass_session
def versions_status(session: Session, model_id: str, version: str, status: str, message: str | None) -> None:
    """Move VERSION to STATUS; prints the version and the subscriptions it fired."""
    changed = session.client.set_version_status(model_id, version, status, status_message=message)
    if session.output == "json":
        emit(session, changed)
        return
    emit(session, changed.version)
    for event in changed.triggered_events:
        outcome = f"job {event.job_id}" if event.job_id else f"not fired: {event.error}"
        session.err.print(f"fired subscription {event.subscription_id}: {outcome}")


@cli.group()
def subscriptions() -> None:
    """Event subscriptions: list, get, create, update, delete, test (a dry run).

    SUBSCRIPTION is an id or a label."""


def _subscription_id(session: Session, model_id: str, reference: str) -> str:
    if _UUID.match(reference):
        return reference
    labelled = [sub.id for sub in session.client.iter_subscriptions(model_id, page_size=100) if sub.label == reference]
    if len(labelled) != 1:
        problem = "no" if not labelled else f"{len(labelled)}"
        raise click.UsageError(f"model {model_id} has {problem} subscriptions labelled {reference!r}; give its id")
    return labelled[0]


@subscriptions.command("list", help="The subscriptions whose source is MODEL_ID.")
@click.argument("model_id")
@output_option
@pass_session
def subscriptions_list(session: Session, model_id: str) -> None:
    emit(session, list(session.client.iter_subscriptions(model_id, page_size=100)), SUBSCRIPTION_COLUMNS)


@subscriptions.command("get", help="One subscription, by id or label.")
@click.argument("model_id")
@click.argument("subscription")
@output_option
@pass_session
def subscriptions_get(session: Session, model_id: str, subscription: str) -> None:
    emit(session, session.client.get_subscription(model_id, _subscription_id(session, model_id, subscription)))


def _alias_option(help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--alias", metavar="ALIAS", help=help)


def _check_alias(event: str, alias: str | None) -> None:
    """--alias goes with an alias event (alias_set) and only with one: a usage error before any request."""
    if rules.is_alias_event(event) and alias is None:
        raise click.UsageError(f"--event {event} needs --alias: the alias whose moves it follows (e.g. champion)")
    if not rules.is_alias_event(event) and alias is not None:
        raise click.UsageError(f"--alias is only for an alias event (alias_set), not --event {event}")


@subscriptions.command("create", help="Fire TARGET's action when EVENT happens on MODEL_ID.")
@click.argument("model_id")
@click.option("--event", "trigger_event", type=click.Choice(rules.EVENT_NAMES), required=True)
@_alias_option("with --event alias_set: the alias of MODEL_ID whose moves to another version fire it")
@click.option("--target", "target_model_id", required=True)
@click.option("--action", "target_action", type=click.Choice(["inference", "training"]), required=True)
@click.option("--input", "input_", type=JSON_OBJECT, help="stored input (else the trigger's output is forwarded)")
@click.option("--label")
@output_option
@pass_session
def subscriptions_create(session: Session, model_id: str, input_: dict | None, **fields: Any) -> None:
    _check_alias(fields["trigger_event"], fields["alias"])
    created = session.client.create_subscription(
        model_id, input_source="stored" if input_ is not None else "trigger_output", input=input_, **fields
    )
    emit(session, created)
    for warning in created.warnings:
        session.err.print(f"warning: {warning}")


@subscriptions.command("update", help="Change its input, label or status (active re-validates).")
@click.argument("model_id")
@click.argument("subscription")
@click.option("--input", "input_", type=JSON_OBJECT)
@click.option("--label")
@click.option("--status", type=click.Choice(["active", "paused"]), help="active re-validates a stale subscription")
@output_option
@pass_session
def subscriptions_update(
    session: Session, model_id: str, subscription: str, input_: dict | None, **fields: Any
) -> None:
    changes = {name: value for name, value in {"input": input_, **fields}.items() if value is not None}
    if not changes:
        raise click.UsageError("nothing to change: give --input, --label or --status")
    subscription_id = _subscription_id(session, model_id, subscription)
    session.client.get_subscription(model_id, subscription_id)  # the version the update is conditional on
    updated = session.client.update_subscription(model_id, subscription_id, **changes)
    emit(session, updated)


@subscriptions.command("delete", help="Delete a subscription, by id or label.")
@click.argument("model_id")
@click.argument("subscription")
@pass_session
def subscriptions_delete(session: Session, model_id: str, subscription: str) -> None:
    subscription_id = _subscription_id(session, model_id, subscription)
    session.client.delete_subscription(model_id, subscription_id)
    _deleted(session, "subscription", subscription_id)


@subscriptions.command("test")
@click.argument("model_id")
@click.argument("subscription")
@click.option("--trigger-output", type=JSON_OBJECT, help="the output to pretend the trigger produced")
@output_option
@pass_session
def subscriptions_test(session: Session, model_id: str, subscription: str, trigger_output: dict | None) -> None:
    """A dry run: the job the subscription would create now, or what would stop it."""
    subscription_id = _subscription_id(session, model_id, subscription)
    emit(session, session.client.test_subscription(model_id, subscription_id, trigger_output=trigger_output))


@cli.group()
def aliases() -> None:
    """Aliases: set, get, list, history, delete. An alias (champion) points at one active version;
    VERSION arguments anywhere may name one as @champion."""


@aliases.command("set")
@click.argument("model_id")
@click.argument("alias")
@click.argument("version")
@click.option("--reason", help="why (kept in the alias's history)")
@click.option(
    "--if-match",
    type=click.IntRange(min=0),
    help="move only if the alias's entity_version is still this (else exit 1, nothing moved)",
)
@output_option
@pass_session
def aliases_set(
    session: Session, model_id: str, alias: str, version: str, reason: str | None, if_match: int | None
) -> None:
    """Point ALIAS at VERSION (an active version, or @another-alias), creating it. A protected
    alias needs the models:promote scope."""
    emit(session, session.client.set_alias(model_id, alias, version, reason=reason, if_match=if_match))


@aliases.command("get")
@click.argument("model_id")
@click.argument("alias")
@click.option(
    "--as-of", type=Instant(), help="the alias as it stood at this RFC 3339 time (exit 1 if it did not exist)"
)
@output_option
@pass_session
def aliases_get(session: Session, model_id: str, alias: str, as_of: datetime | None) -> None:
    """One alias: its version, who moved it last, when and why."""
    emit(session, session.client.get_alias(model_id, alias, as_of=as_of))


@aliases.command("list", help="A model's aliases.")
@click.argument("model_id")
@output_option
@pass_session
def aliases_list(session: Session, model_id: str) -> None:
    emit(session, sorted(session.client.list_aliases(model_id), key=lambda alias: alias.name), ALIAS_COLUMNS)


@aliases.command("history", help="Every move and delete of an alias (who, when, why), newest first.")
@click.argument("model_id")
@click.argument("alias")
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True, help="at most this many")
@output_option
@pass_session
def aliases_history(session: Session, model_id: str, alias: str, limit: int) -> None:
    changes = session.client.alias_history(model_id, alias, page_size=min(limit, 100))
    emit(session, _first(changes, limit), ALIAS_HISTORY_COLUMNS)


@aliases.command("delete")
@click.argument("model_id")
@click.argument("alias")
@click.option("--if-match", type=click.IntRange(min=0), help="delete only if the alias's entity_version is still this")
@pass_session
def aliases_delete(session: Session, model_id: str, alias: str, if_match: int | None) -> None:
    """Delete an alias (its history keeps the delete). A protected alias needs models:promote."""
    session.client.delete_alias(model_id, alias, if_match=if_match)
    _deleted(session, "alias", alias)


@cli.group()
def tags() -> None:
    """Tags: list, set, delete, on a model or (--version) one of its versions. Setting a tag never
    cuts a version or marks a subscription stale."""


def _tag_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--if-match",
        type=click.IntRange(min=0),
        help="change only if the resource's entity_version is still this (else exit 1, nothing changed)",
    )(command)
    return _version_option(command)


def _version_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--version",
        "version",
        metavar="VERSION",
        help="a version's tags (a version, latest or @alias), not the model's",
    )(command)


def _emit_tags(session: Session, resource: Any) -> None:
    """The resource's tags as KEY/VALUE rows; with -o json the whole resource (its entity_version too)."""
    if session.output == "json":
        emit(session, resource)
    else:
        emit(session, _tags(resource.tags), TAG_COLUMNS)


@tags.command("list")
@click.argument("model_id")
@_version_option
@output_option
@pass_session
def tags_list(session: Session, model_id: str, version: str | None) -> None:
    """A model's tags, or a version's (--version). -o json prints them as one object."""
    client = session.client
    resource = client.get_model(model_id) if version is None else client.get_version(model_id, version).version
    if session.output == "json":
        click.echo(json.dumps(resource.tags, indent=2, ensure_ascii=False))
    else:
        emit(session, _tags(resource.tags), TAG_COLUMNS)


@tags.command("set")
@click.argument("model_id")
@click.argument("key")
@click.argument("value")
@_tag_options
@output_option
@pass_session
def tags_set(session: Session, model_id: str, key: str, value: str, version: str | None, if_match: int | None) -> None:
    """Set tag KEY to VALUE on MODEL_ID, or on one of its versions (--version). Prints the
    resource's tags (-o json: the resource)."""
    client = session.client
    if version is None:
        changed = client.set_model_tag(model_id, key, value, if_match=if_match)
    else:
        changed = client.set_version_tag(model_id, version, key, value, if_match=if_match)
    _emit_tags(session, changed)


@tags.command("delete")
@click.argument("model_id")
@click.argument("key")
@_tag_options
@pass_session
def tags_delete(session: Session, model_id: str, key: str, version: str | None, if_match: int | None) -> None:
    """Remove tag KEY from MODEL_ID, or from one of its versions (--version); exit 1 if it has none."""
    if version is None:
        session.client.delete_model_tag(model_id, key, if_match=if_match)
    else:
        session.client.delete_version_tag(model_id, version, key, if_match=if_match)
    _deleted(session, "tag", key)


@cli.group()
def webhooks() -> None:
    """Webhooks: create, list, get, update, delete, rotate-secret, ping, deliveries, retry. PIE
    signs each event it sends (Standard Webhooks); the secret is printed by create and
    rotate-secret only."""


SECRET_NOTE = "the secret is shown only now: store it (pie webhooks rotate-secret makes a new one)"


def _emit_with_secret(session: Session, webhook: Any) -> None:
    emit(session, webhook)
    if session.output != "json":
        session.err.print(SECRET_NOTE)


def _names(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


@webhooks.command("create")
@click.argument("url")
@click.option("--events", required=True, metavar="E1,E2", help="comma-separated event types, or '*' for all")
@click.option("--models", "model_ids", metavar="M1,M2", help="only events of these models (default: all)")
@click.option("--workspace", help="the workspace (default: your only one; '*' every workspace, for admins)")
@click.option("--description")
@output_option
@pass_session
def webhooks_create(
    session: Session, url: str, events: str, model_ids: str | None, workspace: str | None, description: str | None
) -> None:
    """Send EVENTS to URL (https; loopback is allowed by pie-local). Prints the webhook with its
    secret, which no other command shows again."""
    created = session.client.create_webhook(
        url,
        events=_names(events),
        model_ids=_names(model_ids) if model_ids is not None else None,
        workspace=workspace,
        description=description,
    )
    _emit_with_secret(session, created)


@webhooks.command("list", help="The webhooks of your workspaces (never their secrets).")
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True, help="at most this many")
@output_option
@pass_session
def webhooks_list(session: Session, limit: int) -> None:
    emit(session, _first(session.client.iter_webhooks(page_size=100), limit), WEBHOOK_COLUMNS)


@webhooks.command("get", help="One webhook (never its secret).")
@click.argument("webhook_id")
@output_option
@pass_session
def webhooks_get(session: Session, webhook_id: str) -> None:
    emit(session, session.client.get_webhook(webhook_id))


@webhooks.command("update")
@click.argument("webhook_id")
@click.option("--url")
@click.option("--events", metavar="E1,E2", help="comma-separated event types, or '*'")
@click.option("--models", "model_ids", metavar="M1,M2", help="only these models ('' for all)")
@click.option("--description")
@click.option("--status", type=click.Choice(["active", "disabled"]), help="active re-enables a disabled endpoint")
@output_option
@pass_session
def webhooks_update(
    session: Session,
    webhook_id: str,
    url: str | None,
    events: str | None,
    model_ids: str | None,
    description: str | None,
    status: str | None,
) -> None:
    """Change the given fields; the rest stay."""
    changes: dict[str, Any] = {"url": url, "description": description, "status": status}
    given = {name: value for name, value in changes.items() if value is not None}
    if events is not None:
        given["events"] = _names(events)
    if model_ids is not None:
        given["model_ids"] = _names(model_ids) or None
    if not given:
        raise click.UsageError("nothing to change: give --url, --events, --models, --description or --status")
    emit(session, session.client.update_webhook(webhook_id, **given))


@webhooks.command("delete", help="Delete a webhook (no more deliveries).")
@click.argument("webhook_id")
@pass_session
def webhooks_delete(session: Session, webhook_id: str) -> None:
    session.client.delete_webhook(webhook_id)
    _deleted(session, "webhook", webhook_id)


@webhooks.command("rotate-secret")
@click.argument("webhook_id")
@output_option
@pass_session
def webhooks_rotate_secret(session: Session, webhook_id: str) -> None:
    """A new secret, printed now only; the one it replaces still signs for 24 hours."""
    _emit_with_secret(session, session.client.rotate_webhook_secret(webhook_id))


@webhooks.command("ping")
@click.argument("webhook_id")
@output_option
@pass_session
def webhooks_ping(session: Session, webhook_id: str) -> None:
    """Send a ping event to the endpoint; see it with `pie webhooks deliveries`."""
    emit(session, session.client.ping_webhook(webhook_id))
    if session.output != "json":
        session.err.print(f"ping queued: pie webhooks deliveries {webhook_id}")


@webhooks.command("deliveries")
@click.argument("webhook_id")
@click.option("--status", type=click.Choice(["pending", "delivered", "failed"]))
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="at most this many")
@output_option
@pass_session
def webhooks_deliveries(session: Session, webhook_id: str, status: str | None, limit: int) -> None:
    """The endpoint's delivery log, newest first: each delivery's status, attempts and next try
    (-o json: every attempt's status code, duration, error and response excerpt)."""
    found = session.client.iter_webhook_deliveries(webhook_id, status=status, page_size=min(limit, 100))  # type: ignore[arg-type]
    emit(session, _first(found, limit), DELIVERY_COLUMNS)


@webhooks.command("retry")
@click.argument("webhook_id")
@click.argument("delivery_id")
@output_option
@pass_session
def webhooks_retry(session: Session, webhook_id: str, delivery_id: str) -> None:
    """Send a failed delivery again now, under the same webhook-id (exit 1 if it has not failed)."""
    emit(session, session.client.retry_webhook_delivery(webhook_id, delivery_id))


@cli.group()
def jobs() -> None:
    """Jobs: list, get, watch, complete; cancel, retry and log where the server has them."""


def _job_command(name: str) -> Callable[[Callable[..., Any]], click.Command]:
    """``pie jobs NAME MODEL_ID JOB_ID`` (with ``--output``): the commands on one job."""

    def command(function: Callable[..., Any]) -> click.Command:
        for decorator in (pass_session, output_option, click.argument("job_id"), click.argument("model_id")):
            function = decorator(function)
        return jobs.command(name)(function)

    return command


@jobs.command("list", help="A model's jobs, newest first.")
@click.argument("model_id")
@click.option("--status", type=click.Choice(["queued", "dispatched", "succeeded", "failed"]))
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True)
@output_option
@pass_session
def jobs_list(session: Session, model_id: str, status: str | None, limit: int) -> None:
    emit(session, _first(session.client.iter_jobs(model_id, status=status, page_size=100), limit), JOB_COLUMNS)


@_job_command("get")
def jobs_get(session: Session, model_id: str, job_id: str) -> None:
    """One job: status, attempts, trigger, output or error."""
    emit(session, session.client.get_job(model_id, job_id))


@jobs.command("watch")
@click.argument("model_id")
@click.argument("job_id")
@click.option("--timeout", type=click.FloatRange(min=0), default=600, show_default=True, help="seconds")
@click.option("--poll", type=click.FloatRange(min=0.05), default=1.0, show_default=True, help="seconds between reads")
@output_option
@pass_session
def jobs_watch(session: Session, model_id: str, job_id: str, timeout: float, poll: float) -> None:
    """Follow a job's status live until it ends: exit 0 if it succeeded, 1 if it failed, 3 if the
    timeout passed first (the job goes on)."""
    _wait(session, model_id, job_id, timeout, poll)


@_job_command("cancel")
def jobs_cancel(session: Session, model_id: str, job_id: str) -> None:
    """End a queued or dispatched job (needs a PIE with job supervision)."""
    emit(session, session.client.cancel_job(model_id, job_id))


@_job_command("retry")
def jobs_retry(session: Session, model_id: str, job_id: str) -> None:
    """Queue a failed job again as its next attempt (needs a PIE with job supervision)."""
    emit(session, session.client.retry_job(model_id, job_id))


@jobs.command("log")
@click.option("--status", type=click.Choice(["queued", "dispatched", "succeeded", "failed"]))
@click.option("--model", "model_id")
@click.option("--since", help="ISO 8601 time: only jobs changed since then")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@output_option
@pass_session
def jobs_log(session: Session, status: str | None, model_id: str | None, since: str | None, limit: int) -> None:
    """The delivery log across models, newest change first (needs a PIE with GET /v2/jobs)."""
    jobs_found = session.client.iter_all_jobs(status=status, model_id=model_id, since=since, page_size=min(limit, 100))
    emit(session, _first(jobs_found, limit), {"MODEL": lambda job: job.model_id, **JOB_COLUMNS})


@jobs.command("complete")
@click.argument("model_id")
@click.argument("job_id")
@click.option("--status", type=click.Choice(["succeeded", "failed"]), required=True)
@click.option("--result", "job_output", type=JSON_OBJECT, help="the job's output (inline JSON, @file.json or -)")
@click.option("--error", help="why it failed")
@click.option("--format", "output_format", type=click.Choice(OUTPUT_FORMATS), hidden=True)  # before -o/--output
@output_option
@pass_session
def jobs_complete(
    session: Session,
    model_id: str,
    job_id: str,
    status: str,
    job_output: dict | None,
    error: str | None,
    output_format: str | None,
) -> None:
    """Report a job's result, as its handler would. --result is the job's output; -o/--output
    chooses how to print, as on every command."""
    session.output = output_format or session.output
    completion = session.client.complete_job(model_id, job_id, status, output=job_output, error=error)
    emit(session, completion.job)
    for warning in completion.warnings:
        session.err.print(f"warning: {warning}")


def _start(action: str) -> Callable[..., None]:
    def start(
        session: Session, model_id: str, input_: dict, version: str | None, wait: bool, timeout: float, poll: float
    ) -> None:
        starter = session.client.start_training if action == "training" else session.client.start_inference
        job = starter(model_id, input_, version=version)
        if not wait:
            emit(session, job)
            return
        session.err.print(f"{action} job {job.id} queued on {model_id} version {job.version}")
        _wait(session, model_id, job.id, timeout, poll)

    return start


def _job_start_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for decorator in reversed(
        [
            click.argument("model_id"),
            click.option("--input", "input_", type=JSON_OBJECT, required=True, help="inline JSON, @file.json or -"),
            click.option(
                "--version",
                help="the version to run, or @alias (default: training the newest, inference the active)",
            ),
            click.option(
                "--wait", is_flag=True, help="follow the job until it ends; exit 1 if it failed, 3 if it timed out"
            ),
            click.option("--timeout", type=click.FloatRange(min=0), default=600, show_default=True, help="seconds"),
            click.option("--poll", type=click.FloatRange(min=0.05), default=1.0, show_default=True),
            output_option,
            pass_session,
        ]
    ):
        command = decorator(command)
    return command


cli.command("train", help="Start a training job (the version goes to training).")(
    _job_start_options(_start("training"))
)
cli.command("infer", help="Start an inference job (input checked against the contract).")(
    _job_start_options(_start("inference"))
)


def _wait(session: Session, model_id: str, job_id: str, timeout: float, poll: float) -> None:
    started = time.monotonic()
    last_status: list[str] = []

    with session.err.status(f"job {job_id}: reading") as progress:

        def show(job: Job) -> None:
            elapsed = time.monotonic() - started
            if not last_status or last_status[-1] != job.status:
                last_status.append(job.status)
                session.err.print(f"{elapsed:6.1f}s  {job.status}")
            progress.update(f"job {job_id}: {job.status} ({elapsed:.0f} s)")

        job = session.client.wait_for_job(model_id, job_id, timeout=timeout, poll=poll, on_poll=show)
    emit(session, job)
    if job.status == "failed":
        raise JobFailed(job)


PLAN_CHANGES_EXIT = 2


@cli.command("apply")
@click.option("-f", "--file", "path", required=True, help="the declaration (YAML or JSON; - for stdin)")
@click.option(
    "--plan",
    "plan_only",
    is_flag=True,
    help="only show what would change; exit 0 no changes, 2 changes, 1 error (as terraform plan -detailed-exitcode)",
)
@click.option("--reactivate", is_flag=True, help="re-activate declared subscriptions that went stale")
@click.option(
    "--prune",
    is_flag=True,
    help="delete what the file owns (see `owner:`) but no longer declares: models and labelled subscriptions",
)
@output_option
@pass_session
def apply_command(session: Session, path: str, plan_only: bool, reactivate: bool, prune: bool) -> None:
    """Make PIE match a file of models and subscriptions (see pie_client/apply.schema.json).

    Every reference and handler is checked before anything is written: a plan with problems
    applies nothing. With --plan the exit code is 0 (no changes), 2 (changes) or 1 (an error,
    including a problem in the file)."""
    declaration = declared.load(path)  # before any request: a bad file needs no server
    plan = declared.plan(session.client, declaration, reactivate=reactivate, prune=prune)
    if session.output == "json" and plan_only:
        click.echo(json.dumps(plan.to_json(), indent=2, ensure_ascii=False))
        if plan.problems:
            raise declared.PlanProblems(plan.problems)
        if plan.has_changes:
            raise click.exceptions.Exit(PLAN_CHANGES_EXIT)
        return
    for line in declared.render(plan):
        session.out.print(line)
    if plan.problems:
        raise declared.PlanProblems(plan.problems)
    counts = plan.counts()
    actions = ("create", "update", "replace", "reactivate", "delete")
    summary = ", ".join(f"{counts[action]} to {action}" for action in actions if counts[action])
    if not plan.has_changes:
        session.out.print(f"No changes: {counts['unchanged']} declared resources match {path}.")
        return
    if plan_only:
        session.out.print(f"Plan: {summary}, {counts['unchanged']} unchanged.")
        raise click.exceptions.Exit(PLAN_CHANGES_EXIT)
    declared.execute(session.client, plan, report=lambda line: session.err.print(line))
    done = {
        "create": "created",
        "update": "updated",
        "replace": "replaced",
        "reactivate": "re-activated",
        "delete": "deleted",
    }
    applied = ", ".join(f"{counts[action]} {verb}" for action, verb in done.items() if counts[action])
    session.out.print(f"Applied: {applied}; {counts['unchanged']} unchanged.")


@cli.command("graph")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(GRAPH_FORMATS),
    help="text (default), dot, mermaid or json; -o json is the same as --format json",
)
@click.option("--impact", "impact_model", metavar="MODEL_ID", help="what an event on MODEL_ID would fire now")
@click.option(
    "--event",
    type=click.Choice(rules.EVENT_NAMES),
    default="training_complete",
    show_default=True,
    help="with --impact: the event",
)
@_alias_option("with --impact --event alias_set: the alias whose move to show")
@output_option
@pass_session
def graph_command(
    session: Session, output_format: str | None, impact_model: str | None, event: str, alias: str | None
) -> None:
    """The trigger graph: models, subscriptions (event, action, status) and the cycles they close.
    With --impact: the tree of jobs that EVENT on that model would start now, the version each
    would train (or cut), what would not fire and why, cycles, and the chain's job budget."""
    if output_format is None:
        output_format = "json" if session.output == "json" else "text"
    if impact_model is not None:
        _check_alias(event, alias)
        impact = session.client.get_impact(impact_model, event, alias=alias)  # type: ignore[arg-type]
        drawing: TriggerGraph | ImpactTree = ImpactTree(impact)
    elif alias is not None:
        raise click.UsageError("--alias goes with --impact MODEL_ID --event alias_set")
    else:
        drawing = TriggerGraph.from_api(session.client)
    renderers = {"text": drawing.to_text, "dot": drawing.to_dot, "mermaid": drawing.to_mermaid, "json": drawing.to_json}
    click.echo(renderers[output_format]())


def _output_everywhere(group: click.Group) -> None:
    """-o/--output on every group and command that lacks it, so it may follow any name."""
    for command in [group, *group.commands.values()]:
        if command is not group and isinstance(command, click.Group):
            _output_everywhere(command)
        elif command is not cli and not any("--output" in getattr(param, "opts", ()) for param in command.params):
            output_option(command)


_output_everywhere(cli)


# Entry point -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    # pie apply --plan exits 2 for "changes", so there every error is 1 (terraform -detailed-exitcode).
    usage = 1 if "apply" in arguments and "--plan" in arguments else 2
    try:
        # Outside standalone mode click returns a command's Exit code rather than raising it.
        ended = cli.main(args=argv, prog_name="pie", standalone_mode=False)
        if isinstance(ended, int) and not isinstance(ended, bool):
            return ended
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.UsageError as problem:
        hint = f" (see '{problem.ctx.command_path} --help')" if problem.ctx is not None else ""
        sys.stderr.write(f"error: {problem.format_message()}{hint}\n")
        return usage
    except click.ClickException as problem:
        problem.show()
        return usage if problem.exit_code == 2 else problem.exit_code
    except click.Abort:
        sys.stderr.write("aborted\n")
        return 130
    except (ConfigurationError, declared.ApplyFileError, ValidationError, InvalidRequest) as problem:
        _fail(problem, "error")
        return usage
    except WaitTimeout as failure:
        _fail(failure, "timed out")
        return TIMED_OUT_EXIT
    except (PieError, JobFailed) as failure:
        _fail(failure, "error")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception as bug:  # the promise is one line, never a traceback (PIE_DEBUG shows it)
        _fail(bug, f"error: unexpected {type(bug).__name__}")
        return 1
    return 0


def _fail(failure: Exception, kind: str) -> None:
    if os.environ.get("PIE_DEBUG"):
        raise failure
    if isinstance(failure, ValidationError):
        first = failure.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        detail = f"{where}: {first['msg']}" if where else first["msg"]
    else:
        detail = " ".join(str(failure).split())
    sys.stderr.write(f"{kind}: {detail}\n")


if __name__ == "__main__":
    sys.exit(main())

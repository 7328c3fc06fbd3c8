"""``make smoke API=... TOKEN=...``: a short end-to-end run against any PIE, local or deployed.

    python -m tools.smoke --api https://pie.example.com --token "$TOKEN" [--workspace W]
    python -m tools.smoke --api http://127.0.0.1:8000 --token "$(pie-local token)"

Under a prefix of its own (``smoke-<8 hex>``, or ``--prefix``) it creates two models with the in-process ``echo``
handler (allowed by the default deployment and by pie-local), subscribes B to A's training, trains
A and waits for the chain to train B (and B's lineage to lead back to A), then cuts and trains a
second version of A and moves an alias from version 1 to version 2 with If-Match, and last pings a
webhook: to ``--webhook-url`` (a receiver this PIE can reach; the delivery must end ``delivered``),
or, against a PIE on this machine, to a receiver the run starts on loopback, which also checks the
ping's Standard Webhooks signature with the webhook's secret (against a remote PIE without
``--webhook-url`` the step is skipped, and says so). Whatever it created (models marked with the
run's id in the metadata ``pie.smoke``, the webhook described with it) is deleted at the end, also
when a step fails or is interrupted; a model that was there before is never touched. One line per step on
stdout; exit 0 when every step passed and everything was cleaned up, 1 otherwise, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx

from pie_client import PieClient
from pie_client.errors import NotFound, PieError
from pie_client.webhooks import WebhookVerificationError, verify
from pie_local.console.console import is_loopback  # the same test the local console makes

ECHO = {"type": "in_process", "implementation": "echo"}
HANDLERS = {"training": ECHO, "inference": ECHO}
ALIAS = "smoke"
MARK = "pie.smoke"  # metadata naming the run that created a model


class SmokeFailed(Exception):
    """A step did not see what it expected."""


class StepSkipped(Exception):
    """A step this PIE cannot be checked on from here (said, not failed)."""


class Receiver:
    """A webhook endpoint on loopback for a PIE on this machine: keeps each request, answers 204."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append((dict(self.headers.items()), body))
                receiver.arrived.set()
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/pie-smoke"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Smoke:
    def __init__(
        self,
        api: str,
        token: str,
        *,
        workspace: str | None = None,
        prefix: str | None = None,
        timeout: float = 120,
        webhook_url: str | None = None,
        out: Any = sys.stdout,
    ) -> None:
        self.api = api.rstrip("/")
        self.token = token
        self.workspace = workspace
        self.timeout = timeout
        self.out = out
        self.run_id = uuid.uuid4().hex
        self.prefix = prefix or f"smoke-{self.run_id[:8]}"
        self.source = f"{self.prefix}-a"
        self.target = f"{self.prefix}-b"
        self.created: list[str] = []
        self.webhook_url = webhook_url
        self.webhooks: list[str] = []
        self.receiver: Receiver | None = None
        self.pie = PieClient(self.api, token, timeout=30)
        self.http = httpx.Client(
            base_url=self.api, timeout=30, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}
        )

    def run(self) -> int:
        self._say(f"smoke test of {self.api} under the prefix {self.prefix}")
        failed = False
        try:
            self._step("create two models", self.create_models)
            self._step("subscribe B to A's training", self.subscribe)
            self._step("train A; the chain trains B", self.chain)
            self._step("cut and train A's version 2", self.second_version)
            self._step("move an alias from version 1 to 2", self.move_alias)
            self._step("ping a webhook", self.ping_webhook)
        except (SmokeFailed, PieError, httpx.HTTPError):
            failed = True
        except KeyboardInterrupt:
            self._say("interrupted")
            failed = True
        finally:
            failed = not self._cleanup() or failed
            self.pie.close()
            self.http.close()
            if self.receiver is not None:
                self.receiver.close()
        self._say("FAILED" if failed else "passed")
        return 1 if failed else 0

    # Steps -------------------------------------------------------------------------------------

    def create_models(self) -> None:
        for model_id, name in ((self.source, "Smoke source"), (self.target, "Smoke target")):
            # A candidate before the call (a lost answer may still have created it); the cleanup
            # deletes it only if it carries this run's mark, never a model that was there before.
            self.created.append(model_id)
            self.pie.create_model(
                model_id, name=name, handlers=HANDLERS, workspace=self.workspace, metadata={MARK: self.run_id}
            )

    def subscribe(self) -> None:
        self.pie.create_subscription(
            self.source,
            trigger_event="training_complete",
            target_model_id=self.target,
            target_action="training",
            input_source="trigger_output",
        )

    def chain(self) -> None:
        self._train(self.source, {"smoke": self.prefix})
        job = self._until(f"a job of {self.target} succeeded", lambda: self._succeeded_job(self.target))
        lineage = [step.model_id for step in self.pie.get_version_lineage(self.target, job.version)]
        if self.source not in lineage:
            raise SmokeFailed(f"{self.target}'s lineage {lineage} does not lead back to {self.source}")

    def second_version(self) -> None:
        self.pie.create_version(self.source, "2")
        self._train(self.source, {"smoke": self.prefix, "round": 2}, version="2")

    def move_alias(self) -> None:
        path = f"/v2/models/{self.source}/aliases/{ALIAS}"
        first = self._alias_call("PUT", path, json={"version": "1", "reason": "smoke test"})
        moved = self._alias_call(
            "PUT",
            path,
            json={"version": "2", "reason": "smoke test"},
            headers={"If-Match": f'"{first["alias"]["entity_version"]}"'},
        )
        read = self._alias_call("GET", path)
        if moved["alias"]["version"] != "2" or read["alias"]["version"] != "2":
            raise SmokeFailed(f"the alias points at {read['alias']['version']}, not 2")

    # Helpers -----------------------------------------------------------------------------------

    def ping_webhook(self) -> None:
        url = self.webhook_url
        if url is None:
            if not is_loopback(urlsplit(self.api).hostname or ""):
                raise StepSkipped("give --webhook-url, a receiver this PIE can reach, to check delivery")
            self.receiver = Receiver()
            url = self.receiver.url
        # Only the ping is meant for it (the cleanup deletes the webhook before the model).
        created = self.pie.create_webhook(
            url,
            events=["model.deleted"],
            model_ids=[self.source],
            workspace=self.workspace,
            description=self._webhook_mark(),
        )
        self.webhooks.append(created.id)
        self.pie.ping_webhook(created.id)
        self._until(f"the ping to {url} was delivered", lambda: self._delivered_ping(created.id))
        if self.receiver is not None:
            headers, body = self.receiver.requests[0]
            try:
                payload = verify(body, headers, created.secret)
            except WebhookVerificationError as error:
                raise SmokeFailed(f"the ping's signature does not verify: {error}") from None
            if payload.get("type") != "ping":
                raise SmokeFailed(f"the receiver got a {payload.get('type')!r} event, not a ping")

    def _delivered_ping(self, webhook_id: str) -> Any:
        """The delivered ping; None while it is pending; its first failed attempt fails the step
        (it would be retried for days: the operator wants to know now)."""
        pings = [d for d in self.pie.iter_webhook_deliveries(webhook_id) if d.event_type == "ping"]
        delivered = next((d for d in pings if d.status == "delivered"), None)
        if delivered is None:
            for attempt in (a for d in pings for a in d.attempts):
                answer = f"answered {attempt.status_code}" if attempt.status_code else "was not reached"
                raise SmokeFailed(
                    f"the endpoint {answer}: {attempt.error or attempt.response_excerpt or ''}".rstrip(": ")
                )
        return delivered

    def _webhook_mark(self) -> str:
        return f"{MARK} {self.run_id}"

    def _train(self, model_id: str, input: dict[str, Any], version: str | None = None) -> None:
        job = self.pie.start_training(model_id, input, version=version)
        finished = self.pie.wait_for_job(model_id, job.id, timeout=self.timeout, poll=0.5)
        if finished.status != "succeeded":
            raise SmokeFailed(f"training job {job.id} of {model_id} {finished.status}: {finished.error}")

    def _succeeded_job(self, model_id: str) -> Any:
        jobs = self.pie.list_jobs(model_id).jobs
        failed = [job for job in jobs if job.status == "failed"]
        if failed:
            raise SmokeFailed(f"job {failed[0].id} of {model_id} failed: {failed[0].error}")
        return next((job for job in jobs if job.status == "succeeded"), None)

    def _until(self, what: str, found: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + self.timeout
        while True:
            value = found()
            if value:
                return value
            if time.monotonic() > deadline:
                raise SmokeFailed(f"not within {self.timeout:g} s: {what}")
            time.sleep(0.5)

    def _alias_call(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        response = self.http.request(method, path, **options)
        if not response.is_success:
            raise SmokeFailed(f"{method} {path} answered {response.status_code}: {response.text[:300]}")
        return response.json()

    def _step(self, name: str, action: Callable[[], None]) -> None:
        began = time.monotonic()
        try:
            action()
        except StepSkipped as reason:
            self._say(f"  skip {name}: {reason}")
            return
        except (SmokeFailed, PieError, httpx.HTTPError) as error:
            self._say(f"  FAIL {name}: {error}")
            raise
        self._say(f"  ok   {name} ({time.monotonic() - began:.1f} s)")

    def _cleanup(self) -> bool:
        """Delete what this run created: its webhooks (the ones it knows of, and any described
        with its mark, whose create answer was lost), then its models (the target first, so no
        subscription points at nothing)."""
        clean, deleted = True, 0
        try:
            marked = [hook.id for hook in self.pie.iter_webhooks() if hook.description == self._webhook_mark()]
            for webhook_id in dict.fromkeys([*self.webhooks, *marked]):
                try:
                    self.pie.delete_webhook(webhook_id)
                except NotFound:
                    pass
        except (PieError, httpx.HTTPError) as error:
            self._say(f"  FAIL cleanup: a webhook of this run was not deleted: {error}")
            clean = False
        for model_id in reversed(self.created):
            try:
                if self.pie.get_model(model_id).metadata.get(MARK) != self.run_id:
                    continue  # not this run's: it was there before
                self.pie.delete_model(model_id)
                deleted += 1
            except NotFound:
                pass
            except (PieError, httpx.HTTPError) as error:
                self._say(f"  FAIL cleanup: {model_id} was not deleted: {error}")
                clean = False
        if clean:
            self._say(f"  ok   cleanup ({deleted} models deleted)")
        return clean

    def _say(self, line: str) -> None:
        print(line, file=self.out, flush=True)


@contextmanager
def _no_traceback() -> Iterator[None]:
    try:
        yield
    except PieError as error:  # the client could not even be built
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(1) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.smoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", default=os.environ.get("PIE_API_URL"), help="PIE's base URL (default: $PIE_API_URL)")
    parser.add_argument("--token", default=os.environ.get("PIE_TOKEN"), help="a bearer token (default: $PIE_TOKEN)")
    parser.add_argument("--workspace", help="where to create the models (default: the token's only workspace)")
    parser.add_argument(
        "--prefix", help="the models' id prefix (default: smoke- and 8 random hex digits); ids are PREFIX-a, PREFIX-b"
    )
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for each job (default: 120)")
    parser.add_argument(
        "--webhook-url",
        help="an HTTPS endpoint this PIE can reach, answering 2xx, for the webhook ping (default: against a PIE on "
        "loopback, a receiver the run starts; against another, the step is skipped)",
    )
    arguments = parser.parse_args(argv)
    if not arguments.api or not arguments.token:
        parser.error("give --api and --token (make smoke API=... TOKEN=...)")
    with _no_traceback():
        return Smoke(
            arguments.api,
            arguments.token,
            workspace=arguments.workspace,
            prefix=arguments.prefix,
            timeout=arguments.timeout,
            webhook_url=arguments.webhook_url,
        ).run()


if __name__ == "__main__":
    sys.exit(main())

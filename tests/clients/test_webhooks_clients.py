"""Webhooks from the SDK and from ``pie webhooks ...`` against a real ``pie-local serve`` that
delivers to a receiver on loopback: the secret shown by create and rotate only, updates, ping,
the delivery log, and the redrive of a failed delivery under the same ``webhook-id``. The retry
schedule is shrunk (``--webhook-backoff-scale``) so a delivery fails for good within seconds."""

from __future__ import annotations

import asyncio
import functools
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pie_client import AsyncPieClient, Conflict, NotFound, PieClient, Unprocessable, webhooks
from tests.clients.handlers import WAITING, new_id
from tests.clients.test_pie_cli import assert_one_line_error
from tests.clients.test_pie_cli import pie as run_pie
from tests.e2e.local_server import LocalServer, serving
from tests.e2e.test_webhooks_over_http import Receiver

pytestmark = pytest.mark.e2e

# Six retries over 6.3 s in all, due ones looked for every 0.2 s.
FAST = ("--webhook-backoff-scale", "0.0001", "--webhook-sweep-seconds", "0.2")
DEADLINE_SECONDS = 60


@pytest.fixture(scope="module")
def server(pie_home: Path) -> Iterator[LocalServer]:
    with serving(pie_home, *FAST) as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiving = Receiver()
    receiving.up()
    yield receiving
    receiving.down()


@pytest.fixture(scope="module")
def cli(server: LocalServer, token: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    return functools.partial(run_pie, server, PIE_TOKEN=token)


def ok(completed: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert completed.returncode == 0, (completed.stdout, completed.stderr)
    return completed


def wait_for(check: Callable[[], object], what: str) -> object:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"{what} did not happen within {DEADLINE_SECONDS} s")


def test_a_webhook_is_created_read_updated_pinged_and_deleted_and_its_secret_shown_twice(
    pie: PieClient, receiver: Receiver
):
    model_id = new_id("hooked")
    pie.create_model(model_id, name="Hooked", handlers=WAITING)

    created = pie.create_webhook(receiver.url, events=["ping", "model.updated"], description="ci")
    got = pie.get_webhook(created.id)
    listed = [hook.id for hook in pie.iter_webhooks(page_size=1)]
    updated = pie.update_webhook(created.id, model_ids=[model_id], description="only one model")
    cleared = pie.update_webhook(created.id, model_ids=None)
    pinged = pie.ping_webhook(created.id)
    # The receiver answers before PIE records the answer: wait for the log, which is what users read.
    wait_for(lambda: pie.list_webhook_deliveries(created.id, status="delivered").deliveries, "the ping logged")
    headers, body = next(iter(receiver.delivered().values()))[0]
    deliveries = list(pie.iter_webhook_deliveries(created.id, status="delivered", page_size=1))
    with pytest.raises(Conflict):  # only a failed delivery is sent again
        pie.retry_webhook_delivery(created.id, deliveries[0].id)
    rotated = pie.rotate_webhook_secret(created.id)
    pie.delete_webhook(created.id)

    assert created.secret.startswith("whsec_") and created.url == receiver.url
    assert "secret" not in got.model_dump() and got.description == "ci"
    assert created.id in listed
    assert updated.model_ids == [model_id] and updated.description == "only one model"
    assert cleared.model_ids is None and cleared.description == "only one model"
    assert pinged.id == created.id
    assert webhooks.verify(body, headers, created.secret)["type"] == "ping"
    assert [(d.event_type, d.status, d.webhook_id) for d in deliveries] == [("ping", "delivered", created.id)]
    assert deliveries[0].attempts[0].status_code == 204
    assert rotated.secret.startswith("whsec_") and rotated.secret != created.secret
    with pytest.raises(NotFound):
        pie.get_webhook(created.id)


def test_a_failed_delivery_is_retried_under_the_same_webhook_id(pie: PieClient, receiver: Receiver):
    receiver.failures = 1_000  # every scheduled attempt fails
    created = pie.create_webhook(receiver.url, events=["ping"])
    pie.ping_webhook(created.id)
    failed = wait_for(lambda: pie.list_webhook_deliveries(created.id, status="failed").deliveries, "the failure")
    delivery = failed[0]  # type: ignore[index]
    tried = len(receiver.attempts())

    receiver.failures = 0
    redriven = pie.retry_webhook_delivery(created.id, delivery.id)
    wait_for(lambda: pie.list_webhook_deliveries(created.id, status="delivered").deliveries, "the redrive logged")
    after = pie.list_webhook_deliveries(created.id).deliveries[0]

    assert tried == 7  # the first attempt and six retries
    assert redriven.id == delivery.id and redriven.status == "pending"
    assert {headers["webhook-id"] for headers, _, _ in receiver.attempts()} == set(receiver.delivered())
    assert len(receiver.delivered()) == 1
    assert after.status == "delivered" and len(after.attempts) == 8


def test_a_bad_webhook_is_refused_by_the_sdk_and_the_async_client_manages_one(
    pie: PieClient, server: LocalServer, token: str, receiver: Receiver
):
    with pytest.raises(Unprocessable):
        pie.create_webhook("ftp://example.com/hook", events=["ping"])

    async def scenario() -> tuple[str, str, list[str]]:
        async with AsyncPieClient(server.url, token) as client:
            created = await client.create_webhook(receiver.url, events=["*"])
            await client.ping_webhook(created.id)
            ids = [hook.id async for hook in client.iter_webhooks()]
            got = await client.get_webhook(created.id)
            await client.delete_webhook(created.id)
            return created.id, got.url, ids

    webhook_id, url, ids = asyncio.run(scenario())

    assert url == receiver.url and webhook_id in ids


def test_pie_webhooks_prints_the_secret_only_on_create_and_rotate(cli, receiver: Receiver):
    created = json.loads(ok(cli("webhooks", "create", receiver.url, "--events", "ping,alias.set", "-o", "json")).stdout)
    table = ok(cli("webhooks", "create", receiver.url, "--events", "*", "--description", "tabled"))
    webhook_id = created["id"]
    got = json.loads(ok(cli("webhooks", "get", webhook_id, "-o", "json")).stdout)
    listed = ok(cli("webhooks", "list")).stdout
    listed_json = json.loads(ok(cli("webhooks", "list", "-o", "json")).stdout)
    updated = json.loads(
        ok(cli("webhooks", "update", webhook_id, "--models", "m1,m2", "--description", "two", "-o", "json")).stdout
    )
    cleared = json.loads(ok(cli("webhooks", "update", webhook_id, "--models", "", "-o", "json")).stdout)
    nothing = cli("webhooks", "update", webhook_id)
    ok(cli("webhooks", "ping", webhook_id))
    wait_for(
        lambda: json.loads(ok(cli("webhooks", "deliveries", webhook_id, "--status", "delivered", "-o", "json")).stdout),
        "the ping logged",
    )
    deliveries = json.loads(ok(cli("webhooks", "deliveries", webhook_id, "-o", "json")).stdout)
    deliveries_table = ok(cli("webhooks", "deliveries", webhook_id, "--status", "delivered")).stdout
    not_failed = cli("webhooks", "retry", webhook_id, deliveries[0]["id"])
    rotated = json.loads(ok(cli("webhooks", "rotate-secret", webhook_id, "-o", "json")).stdout)
    deleted = json.loads(ok(cli("webhooks", "delete", webhook_id, "-o", "json")).stdout)
    gone = cli("webhooks", "get", webhook_id)

    assert created["secret"].startswith("whsec_") and created["events"] == ["ping", "alias.set"]
    assert "whsec_" in table.stdout and "shown only now" in table.stderr
    assert "secret" not in got and "secret" not in json.dumps(listed_json) and "whsec_" not in listed
    assert webhook_id in listed and "ping,alias.set" in listed
    assert updated["model_ids"] == ["m1", "m2"] and updated["description"] == "two"
    assert cleared["model_ids"] is None
    assert nothing.returncode == 2 and "nothing to change" in nothing.stderr
    assert [(d["event_type"], d["status"]) for d in deliveries] == [("ping", "delivered")]
    assert deliveries[0]["attempts"][0]["status_code"] == 204
    assert "ping" in deliveries_table and "delivered" in deliveries_table and "204" in deliveries_table
    assert "409" in assert_one_line_error(not_failed, 1)
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    assert deleted == {"deleted": "webhook", "id": webhook_id}
    assert_one_line_error(gone, 1)


def test_pie_webhooks_retry_redrives_a_failed_delivery(cli, receiver: Receiver):
    receiver.failures = 1_000
    webhook_id = json.loads(ok(cli("webhooks", "create", receiver.url, "--events", "ping", "-o", "json")).stdout)["id"]
    ok(cli("webhooks", "ping", webhook_id, "-o", "json"))

    def failed() -> list[dict]:
        return json.loads(ok(cli("webhooks", "deliveries", webhook_id, "--status", "failed", "-o", "json")).stdout)

    delivery = wait_for(failed, "the failure")[0]  # type: ignore[index]
    receiver.failures = 0
    redriven = json.loads(ok(cli("webhooks", "retry", webhook_id, delivery["id"], "-o", "json")).stdout)
    wait_for(lambda: receiver.delivered(), "the redriven delivery")

    assert redriven["id"] == delivery["id"] and redriven["status"] == "pending"
    assert {headers["webhook-id"] for headers, _, _ in receiver.attempts()} == set(receiver.delivered())

"""Webhook endpoints (SPEC part three, "Outbound events"): registration with a secret shown once,
changes, rotation, ping, the workspace rule, SSRF refusals at registration, and the delivery log's
redrive. Host names resolve through a stub: nothing here reaches a network."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from shared import runtime
from shared.data.entities import EVENTS
from tests.conftest import invoke
from tests.integration.api_events import assert_error, call, event_for, with_claims

RECEIVER = "https://hooks.example.com/pie"
RESOLVE_HOST = runtime.resolve_host  # as imported, before the tests' fixture replaces it


@pytest.fixture
def deployed(table: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """A deployed stack's settings (no loopback), with host names resolving as the test says."""
    names: dict[str, list[str]] = {"hooks.example.com": ["93.184.216.34"]}

    def resolve(host: str, port: int) -> list[str]:
        if host not in names:
            raise OSError(f"unknown host {host}")
        return names[host]

    monkeypatch.setenv("PIE_WEBHOOKS_ALLOW_LOOPBACK", "false")
    monkeypatch.setattr(runtime, "resolve_host", resolve)
    runtime.reset()
    return names


def create(body: dict[str, Any], **claims: str) -> tuple[int, Any, Any]:
    event = event_for("create_webhook", body=body)
    if claims:
        with_claims(event, **claims)
    return invoke("create_webhook", event)


def created(**body: Any) -> dict[str, Any]:
    status, answer, _ = create({"url": RECEIVER, "events": ["*"], **body})
    assert status == 201, answer
    return answer["webhook"]


def test_a_webhook_is_created_with_a_secret_shown_in_that_answer_only(deployed: Any):
    webhook = created(events=["version.status_changed", "alias.set"], description="ops")

    assert webhook["id"].startswith("wh_") and webhook["status"] == "active" and webhook["workspace"] == "default"
    assert webhook["secret"].startswith("whsec_")
    assert len(base64.b64decode(webhook["secret"].removeprefix("whsec_"))) == 24
    for function, request in (
        ("get_webhook", {"webhook_id": webhook["id"]}),
        ("list_webhooks", {}),
        ("update_webhook", {"webhook_id": webhook["id"], "body": {"description": "changed"}}),
        ("ping_webhook", {"webhook_id": webhook["id"]}),
        ("list_webhook_deliveries", {"webhook_id": webhook["id"]}),
    ):
        status, body, _ = call(function, **request)
        assert status in (200, 202), body
        assert webhook["secret"] not in json.dumps(body), function
        assert "secret" not in json.dumps(body), function


def test_rotation_answers_a_new_secret_and_keeps_the_old_one_signing_for_a_while(deployed: Any):
    webhook = created()
    status, body, _ = call("rotate_webhook_secret", webhook_id=webhook["id"])
    assert status == 200, body
    assert body["webhook"]["secret"].startswith("whsec_") and body["webhook"]["secret"] != webhook["secret"]
    record = runtime.webhook_store().get(webhook["id"])
    assert record.secret == body["webhook"]["secret"] and record.previous_secret == webhook["secret"]


def test_put_changes_the_fields_given_and_delete_removes_the_webhook(deployed: Any):
    webhook = created()
    status, body, _ = call(
        "update_webhook", webhook_id=webhook["id"], body={"events": ["model.created"], "status": "disabled"}
    )
    assert status == 200, body
    assert body["webhook"]["events"] == ["model.created"] and body["webhook"]["status"] == "disabled"
    assert body["webhook"]["url"] == RECEIVER
    assert call("delete_webhook", webhook_id=webhook["id"])[0] == 204
    assert_error(call("get_webhook", webhook_id=webhook["id"]), 404)


@pytest.mark.parametrize(
    ("url", "resolves_to"),
    [
        ("http://hooks.example.com/pie", ["93.184.216.34"]),
        ("https://rebind.example.com/", ["127.0.0.1"]),
        ("https://metadata.example.com/", ["169.254.169.254"]),
        ("https://v6meta.example.com/", ["fd00:ec2::254"]),
        ("https://mapped.example.com/", ["::ffff:10.0.0.8"]),
        ("https://127.0.0.1:8080/", []),
        ("https://nowhere.example.com/", None),
    ],
)
def test_registration_refuses_ssrf_targets_with_a_422(deployed: dict[str, list[str]], url: str, resolves_to: Any):
    if resolves_to:
        deployed[url.split("/")[2]] = resolves_to
    message = assert_error(create({"url": url, "events": ["*"]}), 422)
    assert "webhook url refused" in message
    status, _, _ = call("update_webhook", webhook_id=created()["id"], body={"url": url})
    assert status == 422


def test_an_unknown_event_type_or_a_bad_body_is_a_4xx_naming_it(deployed: Any):
    assert "unknown event types" in assert_error(create({"url": RECEIVER, "events": ["model.exploded"]}), 400)
    assert_error(create({"url": RECEIVER, "events": []}), 400)
    assert_error(create({"url": RECEIVER, "events": ["*"], "secret": "mine"}), 400)


def test_only_admins_register_a_webhook_for_every_workspace(deployed: Any):
    status, body, _ = create({"url": RECEIVER, "events": ["*"], "workspace": "*"})
    assert status == 403, body
    status, body, _ = create({"url": RECEIVER, "events": ["*"], "workspace": "*"}, scope="models:write pie:admin")
    assert status == 201 and body["webhook"]["workspace"] == "*", body


def outsider(function: str, **request: Any) -> tuple[int, Any, Any]:
    event = event_for(function, **request)
    with_claims(event, **{"pie:workspaces": "[other]"})
    return invoke(function, event)


def test_another_workspaces_webhook_is_read_as_its_models_are_and_never_changed(
    deployed: Any, monkeypatch: pytest.MonkeyPatch
):
    theirs = created()["id"]
    assert outsider("get_webhook", webhook_id=theirs)[0] == 200  # reads are open, as for models
    for function, request in (
        ("update_webhook", {"body": {"description": "mine now"}}),
        ("delete_webhook", {}),
        ("rotate_webhook_secret", {}),
        ("ping_webhook", {}),
    ):
        assert "'default'" in assert_error(outsider(function, webhook_id=theirs, **request), 403), function
    assert "'default'" in assert_error(outsider("create_webhook", body={"url": RECEIVER, "events": ["*"],
                                                                       "workspace": "default"}), 403)  # fmt: skip

    monkeypatch.setenv("PIE_PRIVATE_READS", "true")
    runtime.reset()
    assert_error(outsider("get_webhook", webhook_id=theirs), 404)
    assert_error(outsider("list_webhook_deliveries", webhook_id=theirs), 404)
    assert outsider("list_webhooks")[1]["webhooks"] == []


def test_ping_writes_a_ping_event_for_that_webhook_alone(deployed: Any, table: Any):
    webhook = created()
    status, _, _ = call("ping_webhook", webhook_id=webhook["id"])
    assert status == 202
    items = table.scan(TableName="pie-local")["Items"]
    pings = [EVENTS.decode(i) for i in items if EVENTS.holds(i) and EVENTS.decode(i).type == "ping"]
    assert [p.data for p in pings] == [{"webhook_id": webhook["id"]}]


def test_webhooks_are_listed_by_id_in_pages(deployed: Any):
    ids = sorted(created()["id"] for _ in range(3))
    status, first, _ = call("list_webhooks", query={"limit": "2"})
    assert status == 200 and [w["id"] for w in first["webhooks"]] == ids[:2]
    status, second, _ = call("list_webhooks", query={"limit": "2", "next_token": first["next_token"]})
    assert [w["id"] for w in second["webhooks"]] == ids[2:] and second["next_token"] is None
    assert_error(call("list_webhooks", query={"next_token": "garbage"}), 400)


def test_an_unknown_webhook_or_delivery_is_a_404_and_a_malformed_id_a_400(deployed: Any):
    assert_error(call("get_webhook", webhook_id="wh_" + "0" * 24), 404)
    assert_error(call("get_webhook", webhook_id="nope"), 400)
    webhook = created()
    assert_error(call("retry_webhook_delivery", webhook_id=webhook["id"], delivery_id="msg_" + "0" * 36), 404)
    assert_error(call("list_webhook_deliveries", webhook_id=webhook["id"], query={"status": "lost"}), 400)


def test_a_host_table_setting_resolves_webhook_hosts_without_dns(table: Any, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(runtime, "resolve_host", RESOLVE_HOST)  # the wiring's own, not the tests' table
    monkeypatch.setenv("PIE_WEBHOOK_HOSTS", "hooks.example.com=93.184.216.34, localhost=127.0.0.1")
    runtime.reset()
    assert runtime.resolve_host("Hooks.Example.com", 443) == ["93.184.216.34"]
    with pytest.raises(OSError, match="not in PIE_WEBHOOK_HOSTS"):
        runtime.resolve_host("elsewhere.example.com", 443)
    status, body, _ = call("create_webhook", body={"url": "https://elsewhere.example.com/", "events": ["*"]})
    assert status == 422 and "does not resolve" in body["message"]

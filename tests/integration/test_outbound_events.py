"""The outbound event catalogue (SPEC part three, "Outbound events"): every change writes its event
in the same transaction as the change, and a change that is refused writes none."""

from __future__ import annotations

from typing import Any

import pytest

from pie_local.settings import LOCAL_TABLE_NAME
from shared.data.entities import EVENTS
from shared.domain import events
from tests.conftest import invoke
from tests.integration.api_events import call, create_model, create_version, event_for
from tests.integration.job_helpers import complete, start_training, started_job
from tests.integration.lifecycle_helpers import set_status, walk_to
from tests.integration.subscription_helpers import create_subscription, current_model, lambda_handler, replace_model


def stored_events(client: Any) -> list[events.Event]:
    items = client.scan(TableName=LOCAL_TABLE_NAME)["Items"]
    return sorted((EVENTS.decode(item) for item in items if EVENTS.holds(item)), key=lambda e: e.id)


def of_type(client: Any, kind: str) -> list[events.Event]:
    return [event for event in stored_events(client) if event.type == kind]


def test_every_registry_change_writes_its_event_with_ids_workspace_and_fields(table: Any):
    create_model("a")
    walk_to("a", "1", "active")
    create_version("a", "2")
    status, body, _ = call("set_alias", body={"version": "1", "reason": "go"}, model_id="a", alias="champion")
    assert status == 200, body
    assert call("delete_alias", model_id="a", alias="champion")[0] == 204
    assert call("delete_model", model_id="a")[0] == 204

    kinds = [event.type for event in stored_events(table)]
    assert kinds.count("model.created") == 1
    assert kinds.count("version.created") == 2
    assert kinds.count("version.status_changed") == 2
    assert kinds.count("alias.set") == 1
    assert kinds.count("alias.deleted") == 1
    assert kinds.count("model.deleted") == 1
    moves = of_type(table, "version.status_changed")
    assert [(m.data["from"], m.data["to"]) for m in moves] == [("pending", "training"), ("training", "active")]
    payload = moves[-1].payload()
    assert payload["type"] == "version.status_changed"
    assert payload["timestamp"].endswith("Z")
    assert payload["data"] == {
        "model_id": "a",
        "version": "1",
        "from": "training",
        "to": "active",
        "status_message": None,
        "by": moves[-1].data["by"],
        "workspace": "default",
    }
    (alias,) = of_type(table, "alias.set")
    assert alias.data | {"workspace": alias.workspace} == {
        "model_id": "a", "alias": "champion", "version": "1", "previous_version": None, "reason": "go",
        "by": alias.data["by"], "workspace": "default",
    }  # fmt: skip


def test_a_job_that_succeeds_or_fails_for_good_writes_its_event(table: Any):
    create_model("a")
    job = started_job(start_training("a", {}))
    assert complete("a", job["id"], {"status": "succeeded", "output": {"path": "s3://m"}})[0] == 200
    create_version("a", "2")
    failing = started_job(start_training("a", {}, version="2"))
    assert complete("a", failing["id"], {"status": "failed", "error": "boom"})[0] == 200

    (succeeded,) = of_type(table, "job.succeeded")
    assert succeeded.data["job_id"] == job["id"] and succeeded.data["output"] == {"path": "s3://m"}
    (failed,) = of_type(table, "job.failed")
    assert failed.data["job_id"] == failing["id"] and failed.data["error"] == "boom"


def test_model_update_and_a_stale_subscription_write_their_events(table: Any):
    create_model("a")
    create_model("b")
    create_subscription("a", "b")
    handlers = current_model("b")["handlers"]
    replace_model("b", handlers={**handlers, "inference": lambda_handler("other")})

    assert len(of_type(table, "model.updated")) == 1
    (stale,) = of_type(table, "subscription.stale")
    assert stale.data["target_model_id"] == "b" and stale.model_id == "a"


def test_the_event_is_in_the_same_transaction_as_its_change(table: Any, monkeypatch: pytest.MonkeyPatch):
    create_model("a")
    transactions: list[list[dict[str, Any]]] = []
    original = table.transact_write_items

    def recording(**request: Any) -> Any:
        transactions.append(request["TransactItems"])
        return original(**request)

    from shared import runtime

    monkeypatch.setattr(runtime.dynamodb_client(), "transact_write_items", recording)
    status, body, _ = set_status("a", "1", "training")
    assert status == 200, body

    (transaction,) = transactions
    types = [next(iter(op.values()))["Item"]["entity_type"]["S"] for op in transaction if "Put" in op]
    assert "EVENT" in types
    assert any("Update" in op for op in transaction)  # the version's own update, beside its event


def test_a_refused_change_writes_no_event(table: Any):
    create_model("a")
    before = len(stored_events(table))
    event = event_for(
        "set_version_status", body={"status": "training"}, headers={"If-Match": '"99"'}, model_id="a", model_version="1"
    )
    status, _, _ = invoke("set_version_status", event)
    assert status == 409
    assert len(stored_events(table)) == before

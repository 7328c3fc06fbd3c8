"""An alias never points at a version that is not active: moving an alias to version N and
withdrawing N (``active -> failed``) race, and one of them loses (SPEC part three, "Aliases").

The interleavings that matter are forced with threads: each request is held just before its
transaction until the other one has committed, so each order is tested on purpose, not by chance;
then free races are run without any holding.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from shared.runtime import dynamodb_client
from tests.conftest import invoke
from tests.integration.api_events import call, create_model, create_version, event_for
from tests.integration.lifecycle_helpers import set_status, walk_to

MODEL = "m"


@pytest.fixture
def model(table: Any) -> str:
    """Version 1 active, version 2 active; ``champion`` on 1."""
    importlib.import_module("aws_lambda_powertools")  # two threads importing a module at once can fail
    for function in ("set_alias", "set_version_status"):
        importlib.import_module(f"functions.{function}.handler")
    create_model(MODEL)
    walk_to(MODEL, "1", "active")
    create_version(MODEL, "2")
    walk_to(MODEL, "2", "active")
    assert move("champion", "1")[0] == 200
    return MODEL


def move(name: str, version: str):
    return invoke("set_alias", event_for("set_alias", body={"version": version}, model_id=MODEL, alias=name))


def withdraw(version: str):
    return set_status(MODEL, version, "failed")


def _is_alias_move(items: list[dict[str, Any]]) -> bool:
    return any("ALIAS#" in (item.get("Put") or {}).get("Item", {}).get("SK", {}).get("S", "") for item in items)


def _is_withdrawal(items: list[dict[str, Any]]) -> bool:
    for item in items:
        update = item.get("Update") or {}
        values = update.get("ExpressionAttributeValues", {})
        if update.get("Key", {}).get("SK", {}).get("S", "").startswith("VERSION#") and any(
            value.get("S") == "failed" for value in values.values()
        ):
            return True
    return False


def hold_until_other_commits(monkeypatch, held: Callable[[list], bool], other: Callable[[list], bool]) -> None:
    """The first transaction ``held`` recognises (its request has read all it decides on) waits
    until one that ``other`` recognises has been tried, and that one waits until the held one has
    arrived: so the held request decided on what it read before the other committed, and commits
    after it. Every later transaction goes straight through."""
    client = dynamodb_client()
    original = client.transact_write_items
    held_arrived, other_done = threading.Event(), threading.Event()
    lock = threading.Lock()
    seen = {"held": False, "other": False}

    def first(kind: str) -> bool:
        with lock:
            was, seen[kind] = seen[kind], True
            return not was

    def gated(**kwargs: Any):
        items = kwargs["TransactItems"]
        if held(items) and first("held"):
            held_arrived.set()
            assert other_done.wait(timeout=30), "the other request never committed"
        elif other(items) and first("other"):
            assert held_arrived.wait(timeout=30), "the held request never reached its commit"
            try:
                return original(**kwargs)
            finally:
                other_done.set()
        return original(**kwargs)

    monkeypatch.setattr(client, "transact_write_items", gated)


def _alias_version() -> str:
    status, body, _ = call("get_alias", model_id=MODEL, alias="champion")
    assert status == 200, body
    return body["alias"]["version"]


def _version_status(version: str) -> str:
    return call("get_version", model_id=MODEL, model_version=version)[1]["version"]["status"]


def _together(*requests: Callable[[], Any]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        futures = [pool.submit(request) for request in requests]
        return [future.result(timeout=60) for future in futures]


def test_a_withdrawal_that_read_no_alias_loses_to_a_move_that_committed_first(model: str, monkeypatch):
    # The withdrawal of 2 reads the aliases (none on 2), then waits; the move to 2 commits.
    hold_until_other_commits(monkeypatch, held=_is_withdrawal, other=_is_alias_move)

    (moved, withdrawn) = _together(lambda: move("champion", "2"), lambda: withdraw("2"))

    assert moved[0] == 200, moved
    assert withdrawn[0] == 409, withdrawn
    assert "champion" in withdrawn[1]["message"]
    assert _alias_version() == "2"
    assert _version_status("2") == "active"


def test_a_move_that_read_an_active_version_loses_to_a_withdrawal_that_committed_first(model: str, monkeypatch):
    # The move to 2 reads it active, then waits; the withdrawal of 2 commits.
    hold_until_other_commits(monkeypatch, held=_is_alias_move, other=_is_withdrawal)

    (moved, withdrawn) = _together(lambda: move("champion", "2"), lambda: withdraw("2"))

    assert withdrawn[0] == 200, withdrawn
    assert moved[0] == 422, moved
    assert _alias_version() == "1"
    assert _version_status("2") == "failed"


def test_free_races_never_leave_an_alias_on_a_failed_version(model: str):
    for round_number in range(8):
        version = str(round_number + 3)
        create_version(MODEL, version)
        walk_to(MODEL, version, "active")

        (moved, withdrawn) = _together(lambda v=version: move("champion", v), lambda v=version: withdraw(v))

        assert sorted([moved[0], withdrawn[0]]) in ([200, 409], [200, 422]), (moved, withdrawn)
        status = _version_status(version)
        assert (_alias_version() == version) == (status == "active")
        if status == "active":  # the move won: move the alias back so the next round starts clean
            assert move("champion", "1")[0] == 200

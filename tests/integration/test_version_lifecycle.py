"""new_status: the version lifecycle of SPEC.md, enforced through the set_version_status function."""

from __future__ import annotations

import itertools

import pytest

from shared.domain.lifecycle import NEXT_STATUSES
from tests.integration.api_events import assert_error, create_model, create_version
from tests.integration.lifecycle_helpers import PATH_TO, set_status, walk_to

STATUSES = ("pending", "training", "active", "failed")

pytestmark = pytest.mark.usefixtures("table")


@pytest.mark.parametrize(("current", "requested"), list(itertools.product(STATUSES, STATUSES)))
def test_every_transition_is_allowed_refused_or_a_no_op_as_the_lifecycle_says(current: str, requested: str):
    create_model("m")
    walk_to("m", "1", current)

    response = set_status("m", "1", requested)

    status, body, headers = response
    if requested == current:
        assert status == 200, body
        assert body["version"]["status"] == current
        assert body["triggered_events"] == []
        assert len(body["version"]["status_history"]) == 1 + len(PATH_TO[current])
    elif requested in NEXT_STATUSES[current]:
        assert status == 200, body
        assert body["version"]["status"] == requested
        assert body["version"]["status_history"][-1]["status"] == requested
        assert headers["ETag"] == f'"{body["version"]["entity_version"]}"'
    else:
        message = assert_error(response, 422)
        for allowed in NEXT_STATUSES[current]:
            assert allowed in message


def test_the_allowed_transitions_are_exactly_the_specified_ones():
    assert NEXT_STATUSES == {
        "pending": ("training", "failed"),
        "training": ("active", "failed", "pending"),
        "failed": ("pending", "training"),
        "active": ("failed",),
    }


def test_status_history_records_every_change_oldest_first_with_the_caller_and_message():
    create_model("m")
    set_status("m", "1", "training", sub="alice", status_message="started")
    set_status("m", "1", "failed", sub="bob", status_message="out of memory")
    status, body, _ = set_status("m", "1", "training", sub="carol")

    assert status == 200
    history = body["version"]["status_history"]
    assert [(h["status"], h["status_message"]) for h in history] == [
        ("pending", None),
        ("training", "started"),
        ("failed", "out of memory"),
        ("training", None),
    ]
    assert [h["by"] for h in history[1:]] == ["alice", "bob", "carol"]
    assert [h["at"] for h in history] == sorted(h["at"] for h in history)
    assert body["version"]["status_message"] is None


def test_a_no_op_writes_nothing():
    create_model("m")
    _, first, _ = set_status("m", "1", "training")
    _, again, _ = set_status("m", "1", "training", status_message="ignored")

    assert again["version"]["entity_version"] == first["version"]["entity_version"]
    assert again["version"]["status_history"] == first["version"]["status_history"]


def test_latest_names_the_newest_version():
    create_model("m")
    create_version("m", "2")

    status, body, _ = set_status("m", "latest", "training")

    assert status == 200
    assert body["version"]["version"] == "2"


def test_activating_a_version_makes_the_model_active_with_that_version():
    create_model("m")
    _, body, _ = set_status("m", "1", "training")
    assert body["model"]["status"] == "pending"

    _, body, _ = set_status("m", "1", "active")

    assert body["model"]["status"] == "active"
    assert body["model"]["active_version"] == "1"


def test_withdrawing_the_active_version_falls_back_to_the_previous_active_one():
    create_model("m")
    walk_to("m", "1", "active")
    create_version("m", "2")
    walk_to("m", "2", "active")

    _, body, _ = set_status("m", "2", "failed", status_message="regression")
    assert body["model"]["active_version"] == "1"
    assert body["model"]["status"] == "active"

    _, body, _ = set_status("m", "1", "failed")
    assert body["model"]["active_version"] is None
    assert body["model"]["status"] == "pending"


def test_withdrawing_an_older_active_version_keeps_the_current_one():
    create_model("m")
    walk_to("m", "1", "active")
    create_version("m", "2")
    walk_to("m", "2", "active")

    _, body, _ = set_status("m", "1", "failed")

    assert body["model"]["active_version"] == "2"


def test_a_status_message_over_1000_characters_is_a_400():
    create_model("m")
    assert_error(set_status("m", "1", "training", status_message="x" * 1001), 400)
    status, _, _ = set_status("m", "1", "training", status_message="x" * 1000)
    assert status == 200


@pytest.mark.parametrize("body_status", ["done", "", "ACTIVE"])
def test_an_unknown_status_is_a_400(body_status: str):
    create_model("m")
    assert_error(set_status("m", "1", body_status), 400)


def test_unknown_model_or_version_is_a_404():
    create_model("m")
    assert_error(set_status("nope", "1", "training"), 404)
    assert_error(set_status("m", "9", "training"), 404)
    assert_error(set_status("nope", "latest", "training"), 404)


def test_if_match_makes_the_transition_conditional_on_the_version_entity_version():
    create_model("m")
    _, body, headers = set_status("m", "1", "training")
    etag = headers["ETag"]

    message = assert_error(set_status("m", "1", "failed", headers={"If-Match": '"1"'}), 409)
    assert str(body["version"]["entity_version"]) in message

    status, body, _ = set_status("m", "1", "failed", headers={"If-Match": etag})
    assert status == 200
    assert body["version"]["status"] == "failed"


def test_a_malformed_if_match_is_a_400():
    create_model("m")
    assert_error(set_status("m", "1", "training", headers={"If-Match": "yesterday"}), 400)

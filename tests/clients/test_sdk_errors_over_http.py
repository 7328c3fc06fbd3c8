"""The SDK's typed errors and conditional writes against a real ``pie-local serve``.

These tests make the server refuse writes (409, 422), so they run on a server of their own: the
job tests in test_sdk_over_http.py must not depend on how the server recovers from refusals.
"""

from __future__ import annotations

import pytest

from pie_client import BadRequest, Conflict, Forbidden, PieClient, Unauthorized, Unprocessable
from tests.clients.handlers import ECHO, WAITING, new_id
from tests.e2e.client import mint
from tests.e2e.local_server import LocalServer

pytestmark = pytest.mark.e2e


def test_if_match_comes_from_the_last_version_seen_so_a_concurrent_change_is_a_conflict(pie: PieClient, server, token):
    model_id = new_id()
    pie.create_model(model_id, name="Prices", handlers=WAITING)
    with PieClient(server.url, token) as colleague:
        colleague.replace_model(model_id, name="Theirs", handlers=WAITING, description="", metadata={})

    with pytest.raises(Conflict) as conflict:
        pie.replace_model(model_id, name="Mine", handlers=WAITING, description="", metadata={})

    assert conflict.value.status == 409
    assert pie.get_model(model_id).name == "Theirs"  # not overwritten
    # Having read the current state, the same update now goes through; if_match=None never checks.
    assert pie.replace_model(model_id, name="Mine", handlers=WAITING, description="", metadata={}).model.name == "Mine"
    with PieClient(server.url, token) as colleague:
        colleague.replace_model(model_id, name="Theirs again", handlers=WAITING, description="", metadata={})
    forced = pie.replace_model(model_id, name="Forced", handlers=WAITING, description="", metadata={}, if_match=None)
    assert forced.model.name == "Forced"


def test_subscription_updates_and_status_changes_are_conditional_too(pie: PieClient, server, token):
    source, target = new_id("src"), new_id("dst")
    pie.create_model(source, name="Source", handlers=WAITING)
    pie.create_model(target, name="Target", handlers=WAITING)
    subscription = pie.create_subscription(
        source,
        trigger_event="training_complete",
        target_model_id=target,
        target_action="training",
        input_source="trigger_output",
    )
    pie.get_version(source, "1")
    with PieClient(server.url, token) as colleague:
        colleague.update_subscription(source, subscription.id, label="theirs")
        colleague.set_version_status(source, "1", "training")

    with pytest.raises(Conflict):
        pie.update_subscription(source, subscription.id, status="paused")
    with pytest.raises(Conflict):
        pie.set_version_status(source, "1", "failed")
    assert pie.update_subscription(source, subscription.id, if_match=2, status="paused").status == "paused"


def test_a_new_version_is_conditional_on_the_models_entity_version_when_asked(pie: PieClient):
    model_id = new_id()
    created = pie.create_model(model_id, name="Prices", handlers=WAITING)

    with pytest.raises(Conflict):
        pie.create_version(model_id, "2", if_match=created.model.entity_version + 1)
    assert pie.get_model(model_id).latest_version == "1"
    assert pie.create_version(model_id, "2", if_match=created.model.entity_version).version.version == "2"


def test_errors_are_typed_with_status_and_the_servers_message(server: LocalServer, pie_home, pie: PieClient):
    model_id = new_id()
    pie.create_model(model_id, name="Prices", handlers=WAITING)

    with pytest.raises(Conflict) as exists:
        pie.create_model(model_id, name="Prices", handlers=WAITING)
    with pytest.raises(Unprocessable) as illegal:
        pie.set_version_status(model_id, "1", "active")
    with pytest.raises(Unprocessable) as unknown_kind:
        pie.create_model(
            new_id(), name="x", handlers={**ECHO, "training": {"type": "in_process", "implementation": "nope"}}
        )
    with pytest.raises(BadRequest) as tampered:
        pie.list_models(next_token="not-a-token")
    with PieClient(server.url, None) as anonymous, pytest.raises(Unauthorized) as no_token:
        anonymous.get_model(model_id)
    with PieClient(server.url, mint(pie_home, "--scope", "models:read")) as reader, pytest.raises(Forbidden) as scope:
        reader.delete_model(model_id)

    assert (exists.value.status, illegal.value.status, unknown_kind.value.status) == (409, 422, 422)
    assert (tampered.value.status, no_token.value.status, scope.value.status) == (400, 401, 403)
    for error in (exists, illegal, unknown_kind, tampered, no_token, scope):
        assert error.value.message and "Traceback" not in error.value.message
    assert "pending" in illegal.value.message  # the lifecycle error names the state it is in


def test_apply_reports_a_change_made_after_its_plan_instead_of_overwriting_it(pie: PieClient, server, token, tmp_path):
    from pie_client import apply

    model_id = new_id("apply")
    declaration_file = tmp_path / "pie.yaml"
    declaration_file.write_text(
        f"models:\n  - id: {model_id}\n    name: Declared\n    handlers:\n"
        "      training: {type: in_process, implementation: echo}\n"
        "      inference: {type: in_process, implementation: echo}\n"
    )
    pie.create_model(model_id, name="Original", handlers=ECHO)
    plan = apply.plan(pie, apply.load(declaration_file))
    with PieClient(server.url, token) as colleague:
        colleague.replace_model(model_id, name="Colleague's", handlers=ECHO, description="", metadata={})

    with pytest.raises(apply.ApplyConflict) as conflict:
        apply.execute(pie, plan)

    assert conflict.value.status == 409 and f"model {model_id} changed since the plan" in conflict.value.message
    assert pie.get_model(model_id).name == "Colleague's"
    replanned = apply.plan(pie, apply.load(declaration_file))
    apply.execute(pie, replanned)
    assert pie.get_model(model_id).name == "Declared"
    assert not apply.plan(pie, apply.load(declaration_file)).has_changes

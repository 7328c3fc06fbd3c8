"""``update_model`` changes only the fields given, ``replace_model`` replaces the model, and
every error the SDK raises itself is a PIE error: over HTTP against ``pie-local serve``."""

from __future__ import annotations

import httpx
import pytest

from pie_client import Conflict, InvalidRequest, PieClient, PieError, UnexpectedResponse
from tests.clients.handlers import ECHO, WAITING, new_id

pytestmark = pytest.mark.e2e

CONTRACTS = {"training": {"input_schema": {"type": "object"}}}


def test_update_model_changes_only_the_fields_given(pie: PieClient):
    model_id = new_id()
    pie.create_model(
        model_id,
        name="Prices",
        handlers=ECHO,
        description="first",
        metadata={"team": "pricing"},
        handler_contracts=CONTRACTS,
    )

    renamed = pie.update_model(model_id, name="Prices v2").model
    cleared = pie.update_model(model_id, handler_contracts=None).model

    assert (renamed.name, renamed.description, renamed.metadata) == ("Prices v2", "first", {"team": "pricing"})
    assert renamed.handlers.model_dump(mode="json", exclude_none=True) == ECHO
    assert renamed.handler_contracts is not None
    assert cleared.handler_contracts is None and cleared.name == "Prices v2"


def test_update_model_is_conditional_on_what_it_read(pie: PieClient, server, token):
    model_id = new_id()
    read = pie.create_model(model_id, name="Prices", handlers=ECHO).model
    with PieClient(server.url, token) as colleague:
        colleague.update_model(model_id, description="theirs")

    with pytest.raises(Conflict):
        pie.update_model(model_id, name="mine", if_match=read.entity_version)

    assert pie.get_model(model_id).description == "theirs"
    assert pie.update_model(model_id, name="mine").model.description == "theirs"  # read again: kept


def test_replace_model_replaces_every_field(pie: PieClient):
    model_id = new_id()
    pie.create_model(model_id, name="Prices", handlers=ECHO, metadata={"team": "pricing"}, handler_contracts=CONTRACTS)

    replaced = pie.replace_model(model_id, name="Other", handlers=WAITING, description="", metadata={}).model

    assert (replaced.name, replaced.metadata, replaced.handler_contracts) == ("Other", {}, None)


def test_a_request_the_sdk_refuses_is_a_pie_error_and_nothing_is_sent(pie: PieClient):
    model_id = new_id()

    with pytest.raises(InvalidRequest) as refused:
        pie.create_model(model_id, name="Bad", handlers={"training": {"type": "lambda"}})
    with pytest.raises(PieError):
        pie.update_subscription(model_id, "s1", status="sleeping")  # type: ignore[arg-type]

    assert isinstance(refused.value, ValueError) and refused.value.status is None
    assert refused.value.message.startswith("invalid CreateModelRequest: handlers")
    assert refused.value.errors
    with pytest.raises(PieError):
        pie.get_model(model_id)  # not created


def test_an_answer_the_sdk_cannot_read_is_a_pie_error():
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"model": {"id": 7}}))
    with PieClient("http://pie.test", "token", transport=transport) as pie, pytest.raises(UnexpectedResponse) as odd:
        pie.get_model("m1")

    assert "GET /v2/models/m1" in odd.value.message

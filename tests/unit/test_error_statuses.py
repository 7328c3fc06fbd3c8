"""Typed errors map to HTTP statuses in one place, by family, subclasses included."""

from __future__ import annotations

import inspect

import pytest

from shared.domain import errors
from shared.http.errors import describe_validation_errors, error_body, status_for

FAMILY_STATUS = {
    errors.RequestInvalidError: 400,
    errors.AuthenticationRequiredError: 401,
    errors.ScopeMissingError: 403,
    errors.WorkspaceAccessDeniedError: 403,
    errors.ResourceNotFoundError: 404,
    errors.ConflictError: 409,
    errors.UnprocessableError: 422,
}

EXPECTED = [
    (errors.RequestInvalidError("bad"), 400),
    (errors.PageTokenInvalidError(), 400),
    (errors.ItemTooLargeError("too large"), 400),
    (errors.AuthenticationRequiredError("who are you"), 401),
    (errors.ScopeMissingError("models:write"), 403),
    (errors.WorkspaceAccessDeniedError("team-b", "model 'm' belongs to workspace 'team-b'"), 403),
    (errors.ResourceNotFoundError("gone"), 404),
    (errors.ModelNotFoundError("model_a"), 404),
    (errors.VersionNotFoundError("model_a", "2"), 404),
    (errors.ConflictError("conflict"), 409),
    (errors.ModelAlreadyExistsError("model_a"), 409),
    (errors.VersionAlreadyExistsError("model_a", "2"), 409),
    (errors.EntityVersionMismatchError("model", 3, 4), 409),
    (errors.ConcurrentUpdateError("model 'model_a'"), 409),
    (errors.UnprocessableError("no"), 422),
    (errors.HandlerNotAllowedError("not allowed"), 422),
    (errors.IllegalTransitionError("active", "training", ("failed",)), 422),
]

DEFINED_ERRORS = [
    kind
    for _, kind in inspect.getmembers(errors, inspect.isclass)
    if issubclass(kind, errors.PieError) and kind is not errors.PieError and kind.__module__ == errors.__name__
]


@pytest.mark.parametrize(("error", "status"), EXPECTED, ids=[type(error).__name__ for error, _ in EXPECTED])
def test_each_error_maps_to_its_status(error: errors.PieError, status: int):
    assert status_for(error) == status


@pytest.mark.parametrize("kind", DEFINED_ERRORS, ids=[kind.__name__ for kind in DEFINED_ERRORS])
def test_every_domain_error_belongs_to_exactly_one_status_family(kind: type[errors.PieError]):
    families = [family for family in FAMILY_STATUS if issubclass(kind, family)]

    assert len(families) == 1, f"{kind.__name__} is in families {families}"
    assert status_for(kind.__new__(kind)) == FAMILY_STATUS[families[0]]


def test_a_new_subclass_maps_like_its_family():
    class ModelArchivedError(errors.ModelNotFoundError):
        pass

    class ChainTooDeepError(errors.UnprocessableError):
        pass

    assert status_for(ModelArchivedError("model_a")) == 404
    assert status_for(ChainTooDeepError("too deep")) == 422


def test_an_error_of_no_family_is_a_500_not_a_client_error():
    assert status_for(errors.PieError("unclassified")) == 500


def test_error_messages_are_for_the_caller():
    assert errors.ModelNotFoundError("model_a").message == "model 'model_a' does not exist"
    assert errors.VersionNotFoundError("model_a", "2").message == "model 'model_a' has no version '2'"
    assert errors.ScopeMissingError("models:write").message == "this operation requires the 'models:write' scope"
    assert "entity_version 4" in errors.EntityVersionMismatchError("model", 3, 4).message


def test_the_error_body_is_success_false_and_a_message():
    assert error_body("model 'x' does not exist") == {"success": False, "message": "model 'x' does not exist"}


def test_a_validation_refusal_names_the_first_problems_and_counts_the_rest():
    problems = [{"type": "missing", "loc": ("body", f"field{number}"), "msg": "Field required"} for number in range(25)]

    message = describe_validation_errors(problems)

    assert message.startswith("body.field0: Field required; body.field1: Field required;")
    assert "body.field9: Field required; and 15 more problems" in message
    assert "field10" not in message


def test_a_validation_refusal_shortens_the_names_a_caller_chose():
    problems = [{"type": "extra_forbidden", "loc": ("body", "x" * 1_000_000), "msg": "Extra inputs are not permitted"}]

    message = describe_validation_errors(problems)

    assert message == "body." + "x" * 64 + "…: Extra inputs are not permitted"

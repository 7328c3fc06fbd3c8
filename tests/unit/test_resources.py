"""The resource models: the constraints the API contract carries."""

from __future__ import annotations

import socket
import urllib.request
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.domain.entities import Handler, HandlerContract, HandlerContracts, Handlers
from shared.domain.requests import CreateModelRequest, CreateVersionRequest, UpdateModelRequest
from shared.kinds.ecs import EcsHandler
from shared.kinds.in_process import InProcessHandler
from shared.kinds.lambda_ import LambdaHandler

HANDLER = TypeAdapter(Handler)
TRAIN_ARN = "arn:aws:lambda:us-west-2:123456789012:function:train"
INFER_ARN = "arn:aws:lambda:us-west-2:123456789012:function:infer"
SEED_HANDLERS = {
    "training": {"type": "lambda", "arn": TRAIN_ARN, "version": "1"},
    "inference": {"type": "lambda", "arn": INFER_ARN},
}


def _create_model(**changes: Any) -> CreateModelRequest:
    return CreateModelRequest.model_validate(
        {"id": "model_price_reco_v1", "name": "Price recommendation", "handlers": SEED_HANDLERS, **changes}
    )


# Handler discriminator --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "kind"),
    [
        ({"type": "lambda", "arn": TRAIN_ARN}, LambdaHandler),
        ({"type": "ecs", "task": "ml-cluster/train-price-model:3"}, EcsHandler),
        ({"type": "in_process", "implementation": "echo"}, InProcessHandler),
    ],
)
def test_the_type_field_selects_the_handler_model(document: dict[str, Any], kind: type):
    assert isinstance(HANDLER.validate_python(document), kind)


@pytest.mark.parametrize(
    "document",
    [
        {"type": "sagemaker", "endpoint": "price"},
        {"arn": TRAIN_ARN},
        {"type": "LAMBDA", "arn": TRAIN_ARN},
    ],
    ids=["unknown-type", "no-type", "type-is-case-sensitive"],
)
def test_a_handler_without_a_known_type_is_rejected(document: dict[str, Any]):
    with pytest.raises(ValidationError):
        HANDLER.validate_python(document)


def test_a_handler_carrying_the_fields_of_another_type_is_rejected():
    with pytest.raises(ValidationError):
        HANDLER.validate_python({"type": "lambda", "arn": TRAIN_ARN, "task": "ml-cluster/train"})


def test_a_lambda_handler_without_a_qualifier_serializes_without_version():
    handler = LambdaHandler(type="lambda", arn=INFER_ARN)
    assert handler.model_dump() == {"type": "lambda", "arn": INFER_ARN}


def test_a_lambda_handler_with_a_qualifier_keeps_it():
    handler = LambdaHandler(type="lambda", arn=TRAIN_ARN, version="1")
    assert handler.model_dump() == {"type": "lambda", "arn": TRAIN_ARN, "version": "1"}


def test_handlers_need_both_training_and_inference():
    with pytest.raises(ValidationError):
        Handlers.model_validate({"training": SEED_HANDLERS["training"]})


# Lambda ARNs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arn",
    [
        TRAIN_ARN,
        "arn:aws:lambda:eu-central-1:123456789012:function:price_model-train",
        "arn:aws-cn:lambda:cn-north-1:123456789012:function:train",
        "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:train",
        "arn:aws:lambda:us-west-2:123456789012:function:" + "f" * 64,
    ],
)
def test_an_unqualified_function_arn_is_accepted(arn: str):
    assert LambdaHandler(type="lambda", arn=arn).arn == arn


@pytest.mark.parametrize(
    "arn",
    [
        f"{TRAIN_ARN}:1",
        f"{TRAIN_ARN}:$LATEST",
        f"{TRAIN_ARN}:prod",
    ],
    ids=["version", "latest", "alias"],
)
def test_a_qualifier_inside_the_arn_is_rejected(arn: str):
    """The qualifier belongs in ``version``: one target must have one spelling."""
    with pytest.raises(ValidationError):
        LambdaHandler(type="lambda", arn=arn)


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:lambda:us-west-2:12345678901:function:train",
        "arn:aws:lambda:us-west-2:1234567890123:function:train",
        "arn:aws:lambda:us-west-2:12345678901x:function:train",
        "arn:aws:lambda:us-west-2::function:train",
    ],
    ids=["11-digits", "13-digits", "letter", "empty"],
)
def test_an_arn_with_a_malformed_account_is_rejected(arn: str):
    with pytest.raises(ValidationError):
        LambdaHandler(type="lambda", arn=arn)


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:lambda:uswest2:123456789012:function:train",
        "arn:aws:lambda:us-west-2:123456789012:layer:train",
        "arn:aws:lambda:us-west-2:123456789012:function:",
        "arn:aws:lambda:us-west-2:123456789012:function:" + "f" * 65,
        "arn:aws:lambda:us-west-2:123456789012:function:train model",
        "arn:aws:s3:::bucket",
        "train",
        f" {TRAIN_ARN}",
    ],
    ids=[
        "region",
        "not-a-function",
        "no-name",
        "name-too-long",
        "space",
        "other-service",
        "bare-name",
        "padded",
    ],
)
def test_anything_but_a_function_arn_is_rejected(arn: str):
    with pytest.raises(ValidationError):
        LambdaHandler(type="lambda", arn=arn)


@pytest.mark.parametrize("qualifier", ["1", "42", "$LATEST", "prod", "blue_green-2"])
def test_a_version_or_alias_qualifier_is_accepted(qualifier: str):
    assert LambdaHandler(type="lambda", arn=TRAIN_ARN, version=qualifier).version == qualifier


@pytest.mark.parametrize("qualifier", ["", "$latest", "1.0", "a:b", "x" * 129])
def test_a_malformed_qualifier_is_rejected(qualifier: str):
    with pytest.raises(ValidationError):
        LambdaHandler(type="lambda", arn=TRAIN_ARN, version=qualifier)


# ECS tasks --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "task", ["ml-cluster/train-price-model", "ml-cluster/train-price-model:3", "default/infer_v2:12"]
)
def test_a_cluster_and_task_family_with_an_optional_revision_is_accepted(task: str):
    assert EcsHandler(type="ecs", task=task).task == task


@pytest.mark.parametrize(
    "task",
    [
        "ml/cluster/train",
        "arn:aws:ecs:us-west-2:123456789012:cluster/ml-cluster/train",
        "train-price-model",
        "/train-price-model",
        "ml-cluster/",
        "ml-cluster/train:0",
        "ml-cluster/train:latest",
        "ml-cluster/train:3:4",
        "ml cluster/train",
    ],
    ids=[
        "slash-in-cluster",
        "cluster-arn",
        "no-cluster",
        "empty-cluster",
        "no-family",
        "revision-zero",
        "revision-not-a-number",
        "two-revisions",
        "space",
    ],
)
def test_a_task_not_of_the_form_cluster_slash_family_is_rejected(task: str):
    with pytest.raises(ValidationError):
        EcsHandler(type="ecs", task=task)


# In-process implementations ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["echo", "fail", "score_v2"])
def test_an_implementation_name_is_lowercase_snake_case(name: str):
    assert InProcessHandler(type="in_process", implementation=name).implementation == name


@pytest.mark.parametrize("name", ["", "Echo", "2echo", "_echo", "echo-v2", "echo.v2", "e" * 65])
def test_a_malformed_implementation_name_is_rejected(name: str):
    with pytest.raises(ValidationError):
        InProcessHandler(type="in_process", implementation=name)


# Handler contracts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "nope"},
        {"minimum": "x"},
        {"type": "object", "properties": {"features": {"type": 7}}},
        {"required": "features"},
        {"anyOf": []},
        {"$defs": {"x": {"type": ["string", "string"]}}},
    ],
    ids=["unknown-type", "minimum-string", "nested", "required-string", "empty-anyOf", "duplicate-types"],
)
def test_a_contract_that_is_not_a_draft_2020_12_schema_is_rejected(schema: dict[str, Any]):
    with pytest.raises(ValidationError, match="JSON Schema Draft 2020-12"):
        HandlerContract(input_schema=schema)
    with pytest.raises(ValidationError, match="JSON Schema Draft 2020-12"):
        HandlerContract(output_schema=schema)


def test_an_invalid_schema_is_located_in_the_error():
    with pytest.raises(ValidationError) as raised:
        HandlerContract(input_schema={"type": "object", "properties": {"features": {"type": 7}}})
    assert "properties/features/type" in str(raised.value)


@pytest.mark.parametrize(
    "schema",
    [
        {},
        {"type": "object", "properties": {"features": {"type": "array", "items": {"type": "number"}}}},
        {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"},
        {"prefixItems": [{"type": "string"}], "unevaluatedItems": False},
        {"$defs": {"row": {"type": "object"}}, "type": "array", "items": {"$ref": "#/$defs/row"}},
    ],
    ids=["empty", "seed-example", "declared-dialect", "2020-12-keywords", "local-ref"],
)
def test_a_valid_draft_2020_12_schema_is_accepted(schema: dict[str, Any]):
    assert HandlerContract(input_schema=schema).input_schema == schema


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the schema check tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.mark.usefixtures("no_network")
def test_a_remote_ref_is_accepted_as_a_schema_without_being_fetched():
    schema = {
        "type": "object",
        "properties": {"customer": {"$ref": "https://schemas.example.com/customer.json"}},
    }

    contract = HandlerContract(input_schema=schema, output_schema={"$ref": "http://169.254.169.254/latest"})

    assert contract.input_schema == schema


def test_absent_contracts_are_none():
    contracts = HandlerContracts.model_validate({"training": {}})
    assert contracts.training == HandlerContract(input_schema=None, output_schema=None)
    assert contracts.inference is None


def test_a_contract_for_an_unknown_handler_kind_is_rejected():
    with pytest.raises(ValidationError):
        HandlerContracts.model_validate({"scoring": {"input_schema": {}}})


def test_a_create_request_with_an_invalid_contract_is_rejected():
    with pytest.raises(ValidationError):
        _create_model(handler_contracts={"inference": {"input_schema": {"type": "nope"}}})


# Ids ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model_id", ["model_price_reco_v1", "M", "7", "a.b-c_d", "m" * 128])
def test_model_ids_matching_the_documented_pattern_are_accepted(model_id: str):
    assert _create_model(id=model_id).id == model_id


@pytest.mark.parametrize("model_id", ["", "_model", "-model", ".model", "bad id!", "a#b", "a/b", "m" * 129, "modèle"])
def test_model_ids_outside_the_documented_pattern_are_rejected(model_id: str):
    with pytest.raises(ValidationError):
        _create_model(id=model_id)


@pytest.mark.parametrize("version", ["1", "2", "v1.2-rc_3", "Latest", "LATEST", "v" * 64])
def test_version_ids_matching_the_documented_pattern_are_accepted(version: str):
    assert CreateVersionRequest(version=version).version == version


@pytest.mark.parametrize("version", ["", ".1", "-1", "1 2", "a#b", "a/b", "v" * 65])
def test_version_ids_outside_the_documented_pattern_are_rejected(version: str):
    with pytest.raises(ValidationError):
        CreateVersionRequest(version=version)


def test_latest_is_reserved_as_a_version_id():
    with pytest.raises(ValidationError, match="reserved"):
        CreateVersionRequest(version="latest")


def test_a_new_version_defaults_to_no_description_and_no_metadata():
    request = CreateVersionRequest(version="2")
    assert (request.description, request.metadata) == ("", {})


# Requests forbid unknown fields -----------------------------------------------------------------


def test_a_create_model_request_defaults_description_contracts_and_metadata():
    request = _create_model()
    assert (request.description, request.handler_contracts, request.metadata) == ("", None, {})


@pytest.mark.parametrize(
    ("model", "document"),
    [
        (CreateModelRequest, {"id": "m", "name": "n", "handlers": SEED_HANDLERS, "status": "active"}),
        (
            UpdateModelRequest,
            {"name": "n", "description": "", "handlers": SEED_HANDLERS, "metadata": {}, "id": "m"},
        ),
        (CreateVersionRequest, {"version": "2", "status": "active"}),
        (Handlers, {**SEED_HANDLERS, "scoring": SEED_HANDLERS["inference"]}),
        (HandlerContract, {"input_schema": {}, "schema": {}}),
    ],
    ids=["create-model", "update-model", "create-version", "handlers", "contract"],
)
def test_an_unknown_field_is_rejected(model: type, document: dict[str, Any]):
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model.model_validate(document)


def test_a_few_unknown_fields_are_named_one_by_one_beside_the_other_problems():
    document = {"name": "n", "handlers": SEED_HANDLERS, **{f"extra{number}": 1 for number in range(10)}}

    with pytest.raises(ValidationError) as refused:
        CreateModelRequest.model_validate(document)

    problems = refused.value.errors()
    assert sorted(problem["loc"][0] for problem in problems if problem["type"] == "extra_forbidden") == sorted(
        f"extra{number}" for number in range(10)
    )
    assert [problem["loc"] for problem in problems if problem["type"] == "missing"] == [("id",)]


@pytest.mark.parametrize(
    ("model", "document", "where"),
    [
        (CreateModelRequest, {"id": "m", "name": "n", "handlers": SEED_HANDLERS}, ()),
        (Handlers, SEED_HANDLERS, ()),
        (TypeAdapter(Handler), {"type": "lambda", "arn": TRAIN_ARN}, ("lambda",)),
    ],
    ids=["request", "nested-strict-object", "handler"],
)
def test_many_unknown_fields_are_one_problem_naming_the_first_and_counting_them(
    model: Any, document: dict[str, Any], where: tuple[str, ...]
):
    long_name = "x" * 100_000
    unknown = {long_name: 0, **{f"u{number:05d}": 0 for number in range(80_000)}}
    validate = model.validate_python if isinstance(model, TypeAdapter) else model.model_validate

    with pytest.raises(ValidationError) as refused:
        validate({**document, **unknown})

    (problem,) = refused.value.errors()
    assert (problem["type"], problem["loc"]) == ("extra_forbidden", where)
    assert problem["msg"].startswith("Extra inputs are not permitted: 80,001 unknown fields, the first 10: 'xxx")
    assert "'u00000', 'u00001'" in problem["msg"] and "'u00009'" not in problem["msg"]
    assert len(problem["msg"]) < 300


@pytest.mark.parametrize("missing", ["name", "description", "handlers", "metadata"])
def test_an_update_is_a_full_replacement_so_each_field_is_required(missing: str):
    document = {"name": "n", "description": "", "handlers": SEED_HANDLERS, "metadata": {}}
    del document[missing]
    with pytest.raises(ValidationError):
        UpdateModelRequest.model_validate(document)


@pytest.mark.parametrize(("field", "value"), [("name", ""), ("name", "n" * 257), ("description", "d" * 4097)])
def test_name_and_description_lengths_are_bounded(field: str, value: str):
    with pytest.raises(ValidationError):
        _create_model(**{field: value})

"""The SDK's wire types match docs/openapi.json: same schemas, fields, required fields and enums.

When a route changes its models and the document is regenerated, this fails until the SDK follows.
"""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pytest
from pydantic import BaseModel

from pie_client import models

DOCUMENT = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text())
SCHEMAS: dict[str, dict[str, Any]] = DOCUMENT["components"]["schemas"]


def sdk_class(name: str) -> type[BaseModel]:
    found = getattr(models, name, None)
    assert isinstance(found, type) and issubclass(found, BaseModel), f"pie_client.models has no {name}"
    return found


def test_every_component_schema_has_an_sdk_model():
    missing = [name for name in SCHEMAS if not isinstance(getattr(models, name, None), type)]

    assert missing == []


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_sdk_model_has_the_schemas_fields(name: str):
    schema = SCHEMAS[name]
    fields = sdk_class(name).model_fields

    assert set(fields) == set(schema.get("properties", {}))


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_sdk_model_requires_what_the_schema_requires(name: str):
    schema = SCHEMAS[name]
    fields = sdk_class(name).model_fields
    required_here = {field for field, info in fields.items() if info.is_required()}
    required_there = set(schema.get("required", []))

    # The SDK may require less of a response (a defaulted field) but never more than the contract.
    assert required_here <= required_there
    if name.endswith("Request"):
        assert required_here == required_there


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_sdk_model_enums_match_the_schemas(name: str):
    schema = SCHEMAS[name]
    fields = sdk_class(name).model_fields

    for field, definition in schema.get("properties", {}).items():
        documented = _enum(definition)
        if documented is None:
            continue
        assert _literal_values(fields[field].annotation) == documented, f"{name}.{field}"


def test_handler_kinds_match_the_documents_discriminator():
    """The document's kinds are the server's registry (``shared.kinds``); the SDK models each, in
    its one table of handler models, and its ``Handler`` union parses each to its model."""
    mapping = SCHEMAS["Handlers"]["properties"]["training"]["discriminator"]["mapping"]
    known = {
        get_args(member)[0].model_fields["type"].default
        for member in get_args(get_args(models.Handler)[0])
        if get_args(member)[0] is not models.UnknownHandler
    }

    assert known == set(mapping) == {model.model_fields["type"].default for model in models.HANDLER_MODELS}


def _enum(definition: dict[str, Any]) -> set[Any] | None:
    if "enum" in definition:
        return set(definition["enum"])
    if "const" in definition:
        return {definition["const"]}
    for option in definition.get("anyOf", []):
        if option.get("type") != "null":
            found = _enum(option)
            if found is not None:
                return found
    return None


def _literal_values(annotation: Any) -> set[Any]:
    if get_origin(annotation) is Literal:
        return set(get_args(annotation))
    if get_origin(annotation) in (typing.Union, __import__("types").UnionType):
        values: set[Any] = set()
        for member in get_args(annotation):
            if member is not type(None):
                values |= _literal_values(member)
        return values
    return set()

"""`sam local invoke` as the README and docs/deploy.md print it resolves to the function it names.

The SAM CLI identifies a function of a CDK template by its ``SamResourceId`` metadata, else by an
id it derives from the ``aws:cdk:path`` of a function directly under its stack, else by its logical
id; it also accepts the logical id and ``FunctionName`` (samcli ``ResourceMetadataNormalizer.
get_resource_id`` and ``SamFunctionProvider.get``).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from aws_cdk.assertions import Template
from stack_queries import functions_by_name

from infra.app import FUNCTIONS_DIR
from shared.routes import ROUTES

ROOT = FUNCTIONS_DIR.parent
DOCUMENTS = ("README.md", "docs/deploy.md")
_COMMAND = re.compile(r"^\s*(sam local invoke .*)$", re.MULTILINE)


def _sam_function_id(logical_id: str, resource: dict) -> str:
    metadata = resource.get("Metadata", {})
    if metadata.get("SamResourceId"):
        return metadata["SamResourceId"]
    parts = metadata.get("aws:cdk:path", "").split("/")
    if 2 <= len(parts) <= 3:
        return parts[-2] if parts[-1] == "Resource" else parts[-1]
    return logical_id


def _resolve(template: Template, name: str) -> list[str]:
    """The function names (``get_model``) SAM would find for ``sam local invoke <name>``."""
    found = []
    for function, (logical_id, resource) in functions_by_name(template).items():
        keys = {logical_id, _sam_function_id(logical_id, resource), resource["Properties"].get("FunctionName")}
        if name in keys:
            found.append(function)
    return found


def _documented_commands() -> list[tuple[str, list[str]]]:
    commands = []
    for document in DOCUMENTS:
        for command in _COMMAND.findall((ROOT / document).read_text()):
            commands.append((document, shlex.split(command)))
    return commands


def _option(arguments: list[str], *names: str) -> str | None:
    for index, argument in enumerate(arguments):
        if argument in names:
            return arguments[index + 1]
    return None


def _function_id(arguments: list[str]) -> str:
    """The one positional argument after ``sam local invoke`` (every option here takes a value)."""
    positional, rest = [], arguments[3:]
    while rest:
        if rest[0].startswith("-"):
            rest = rest[2:]
        else:
            positional.append(rest.pop(0))
    (function_id,) = positional
    return function_id


def test_the_docs_show_sam_local_invoke():
    assert {document for document, _ in _documented_commands()} == set(DOCUMENTS)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_function_a_sam_command_names_resolves_to_the_function_of_its_event(
    synthesized, template: Template, document: str
):
    for _, arguments in (command for command in _documented_commands() if command[0] == document):
        assert (
            _option(arguments, "-t", "--template", "--template-file") == f"cdk.out/{synthesized.deployed.template_file}"
        )
        event = Path(_option(arguments, "-e", "--event"))
        assert (ROOT / event).is_file(), event
        function_id = _function_id(arguments)
        assert _resolve(template, function_id) == [event.stem], (document, function_id)


def test_every_route_function_is_invoked_by_its_pascal_case_name(template: Template):
    """deploy.md promises ``get_model`` -> ``GetModel`` for every function, not only the one shown."""
    for route in ROUTES:
        name = "".join(part.capitalize() for part in route.function.split("_"))
        assert _resolve(template, name) == [route.function]

"""Read synthesized CloudFormation the way the assertions need it: by function, role and policy."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from aws_cdk.assertions import Template

Resource = dict[str, Any]
_HANDLER = re.compile(r"functions\.(?P<name>[a-z0-9_]+)\.handler\.lambda_handler")
# What aws-cdk-lib brings for the console's BucketDeployment (a deployment-time function, its role
# and its AWS CLI layer), not PIE's: the PIE-function checks skip it; cdk-nag and its named
# suppressions (infra/constructs/console.py) cover it.
CDK_PROVIDED_FUNCTIONS = ("CustomCDKBucketDeployment", "ConsoleDeploymentAwsCliLayer")


def pie_resources(template: Template, resource_type: str) -> dict[str, Resource]:
    return {
        logical_id: resource
        for logical_id, resource in resources(template, resource_type).items()
        if not logical_id.startswith(CDK_PROVIDED_FUNCTIONS)
    }


def resources(template: Template, resource_type: str) -> dict[str, Resource]:
    return dict(template.find_resources(resource_type))


def only(template: Template, resource_type: str) -> tuple[str, Resource]:
    found = resources(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def functions_by_name(template: Template) -> dict[str, tuple[str, Resource]]:
    """``{function name: (logical id, resource)}``.

    Every handler must be ``functions.<name>.handler.lambda_handler``.
    """
    named = {}
    for logical_id, resource in pie_resources(template, "AWS::Lambda::Function").items():
        handler = resource["Properties"]["Handler"]
        match = _HANDLER.fullmatch(handler)
        assert match, f"{logical_id}: handler {handler!r} is not functions.<name>.handler.lambda_handler"
        named[match["name"]] = (logical_id, resource)
    return named


def function(template: Template, name: str) -> tuple[str, Resource]:
    return functions_by_name(template)[name]


def role_of(function_resource: Resource) -> str:
    return function_resource["Properties"]["Role"]["Fn::GetAtt"][0]


def statements(template: Template, role_logical_id: str) -> list[dict[str, Any]]:
    """Every Allow/Deny statement that applies to the role: its inline and attached policies."""
    found = []
    role = resources(template, "AWS::IAM::Role")[role_logical_id]
    assert not role["Properties"].get("ManagedPolicyArns"), "roles carry no managed policies"
    for policy in role["Properties"].get("Policies", []):
        found += policy["PolicyDocument"]["Statement"]
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in policy["Properties"]["Roles"]:
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def function_statements(template: Template, name: str) -> list[dict[str, Any]]:
    _, resource = function(template, name)
    return statements(template, role_of(resource))


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def actions(statement: dict[str, Any]) -> list[str]:
    return as_list(statement["Action"])


def all_actions(statement_list: list[dict[str, Any]]) -> set[str]:
    return {action for statement in statement_list for action in actions(statement)}


def statements_with(statement_list: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [statement for statement in statement_list if action in actions(statement)]


def every_statement(template: Template) -> Iterator[dict[str, Any]]:
    for policy in pie_resources(template, "AWS::IAM::Policy").values():
        yield from policy["Properties"]["PolicyDocument"]["Statement"]
    for role in pie_resources(template, "AWS::IAM::Role").values():
        for policy in role["Properties"].get("Policies", []):
            yield from policy["PolicyDocument"]["Statement"]


def rendered(value: Any) -> str:
    """An intrinsic-function value as text: ``{"Ref": "AWS::Partition"}`` -> ``${AWS::Partition}``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(rendered(part) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return "${" + value["Ref"] + "}"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    return json.dumps(value, sort_keys=True)


STACK_PLACEHOLDERS = {"partition": "${AWS::Partition}", "region": "${AWS::Region}", "account": "${AWS::AccountId}"}


def holds(granted: list[dict[str, Any]], declared: Any) -> bool:
    """Whether the ``granted`` statements allow what a kind ``declared`` (an
    ``shared.kinds.base.IamStatement``, its placeholders the stack's pseudo parameters): each of its
    actions on exactly its resources (the CDK may merge it with another statement of the same
    resources)."""
    resources = {resource.format(**STACK_PLACEHOLDERS) for resource in declared.resources}
    return all(
        any(
            action in actions(statement)
            and {rendered(resource) for resource in as_list(statement["Resource"])} == resources
            and _condition(statement.get("Condition")) == _condition(declared.conditions, placeholders=True)
            for statement in granted
        )
        for action in declared.actions
    )


def _condition(condition: Any, placeholders: bool = False) -> Any:
    """A condition block with its values as sorted lists of rendered text (the template's) or of
    formatted templates (a kind's declaration)."""
    if condition is None:
        return None
    if isinstance(condition, dict) and not any(key.startswith("Fn::") or key == "Ref" for key in condition):
        return {key: _condition(value, placeholders) for key, value in condition.items()}
    values = condition if isinstance(condition, (list, tuple)) else [condition]
    if placeholders:
        return sorted(value.format(**STACK_PLACEHOLDERS) for value in values)
    return sorted(rendered(value) for value in values)


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def get_att(logical_id: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def live_alias(template: Template, name: str) -> str:
    """The logical id of function ``name``'s ``live`` alias: the SnapStart version every invoker
    targets."""
    function_id, _ = function(template, name)
    found = [
        alias_id
        for alias_id, alias in resources(template, "AWS::Lambda::Alias").items()
        if alias["Properties"]["FunctionName"] == ref(function_id) and alias["Properties"]["Name"] == "live"
    ]
    assert len(found) == 1, f"{name}: expected one live alias, found {found}"
    return found[0]


def refers_to(value: Any, logical_id: str) -> bool:
    """Whether an intrinsic-function value is built from ``logical_id``'s Ref (CDK writes an alias
    as its ARN, or as ``<function name>:<alias>`` / ``<alias>`` split out of that ARN)."""
    return json.dumps(ref(logical_id)) in json.dumps(value)

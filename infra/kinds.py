"""The handler kinds' deployed facets as CDK objects: IAM statements and EventBridge patterns.

Kinds declare them as plain data (``shared.kinds.base``) with ``{partition}``, ``{region}`` and
``{account}`` placeholders; here they become the stack's own pseudo parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Aws
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam

from shared.kinds.base import IamStatement


def stack_arn(template: str) -> str:
    return template.format(partition=Aws.PARTITION, region=Aws.REGION, account=Aws.ACCOUNT_ID)


def _resolved(value: Any) -> Any:
    if isinstance(value, str):
        return stack_arn(value)
    if isinstance(value, Mapping):
        return {key: _resolved(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_resolved(item) for item in value]
    return value


def policy_statement(statement: IamStatement) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        actions=list(statement.actions),
        resources=[stack_arn(resource) for resource in statement.resources],
        conditions=_resolved(statement.conditions) if statement.conditions else None,
    )


def _matchers(values: list[Any]) -> list[Any]:
    """A list of ``{"prefix": ...}`` matchers as CDK ``Match`` objects; other lists unchanged."""
    if not values or not all(isinstance(value, Mapping) and set(value) == {"prefix"} for value in values):
        return [_resolved(value) for value in values]
    prefixes = [events.Match.prefix(stack_arn(value["prefix"])) for value in values]
    return prefixes[0] if len(prefixes) == 1 else events.Match.any_of(*prefixes)


def _pattern_fields(pattern: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: _pattern_fields(value) if isinstance(value, Mapping) else _matchers(list(value))
        for key, value in pattern.items()
    }


_PATTERN_FIELDS = {"source", "detail-type", "resources", "detail"}


def event_pattern(pattern: Mapping[str, Any]) -> events.EventPattern:
    unknown = set(pattern) - _PATTERN_FIELDS
    if unknown:
        raise ValueError(f"event pattern fields this app does not build: {sorted(unknown)}")
    fields = _pattern_fields(pattern)
    return events.EventPattern(
        source=fields.get("source"),
        detail_type=fields.get("detail-type"),
        resources=fields.get("resources"),
        detail=fields.get("detail"),
    )

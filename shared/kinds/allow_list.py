"""The handler allow-list: which targets a model may name as its handlers (one field group per kind).

The same list scopes the deployed dispatcher's IAM policy and the completion rules, so nobody with
write access can make PIE start an arbitrary function, task or workflow.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

# The deployment's own partition; a deployment in another one (aws-cn, aws-us-gov) names its own.
DEFAULT_PARTITIONS = ("aws",)


class HandlerAllowList(BaseModel):
    """Targets PIE may start. An empty list admits nothing of that kind."""

    partitions: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PARTITIONS),
        description="ARN partitions handlers may name; the dispatcher can only reach its own.",
    )
    lambda_accounts: list[str] = Field(default_factory=list)
    lambda_regions: list[str] = Field(default_factory=list)
    lambda_name_prefixes: list[str] = Field(default_factory=list)
    ecs_clusters: list[str] = Field(default_factory=list)
    ecs_task_family_prefixes: list[str] = Field(
        default_factory=list,
        description='Task definition families an ECS handler may name begin with one of these ("" admits every family).',
    )
    in_process_implementations: list[str] = Field(default_factory=list)
    step_functions_accounts: list[str] = Field(default_factory=list)
    step_functions_regions: list[str] = Field(default_factory=list)
    step_functions_name_prefixes: list[str] = Field(default_factory=list)

"""The ``ecs`` kind: RunTask with the envelope in the first container's environment; the stopped
task's "ECS Task State Change" event completes the job (exit code 0 everywhere is success)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from shared.domain.errors import HandlerNotAllowedError
from shared.kinds.base import (
    EventRule,
    HandlerKind,
    HandlerModel,
    IamStatement,
    ReportedResult,
)

if TYPE_CHECKING:  # the allow-list is assembled from the registered kinds (shared.kinds.allow_list)
    from shared.kinds.allow_list import HandlerAllowList

ECS_TASK_PATTERN = r"^[A-Za-z0-9_-]{1,255}/[A-Za-z0-9_-]{1,255}(:[1-9][0-9]*)?$"
ECS_ENVIRONMENT_VARIABLE = "PIE_JOB"
TASK_STATE_CHANGE = "ECS Task State Change"
TASK_DEFINITIONS = "arn:{{partition}}:ecs:{{region}}:{{account}}:task-definition/{prefix}*"


class EcsHandler(HandlerModel):
    type: Literal["ecs"]
    task: Annotated[str, StringConstraints(pattern=ECS_TASK_PATTERN)] = Field(
        description="<cluster>/<task_definition>: cluster short name, task family[:revision].",
        examples=["ml-cluster/train-price-model:3"],
    )

    @property
    def cluster(self) -> str:
        return self.task.split("/", 1)[0]

    @property
    def task_definition(self) -> str:
        """The family, with its revision when one is given."""
        return self.task.split("/", 1)[1]

    @property
    def family(self) -> str:
        return self.task_definition.split(":", 1)[0]


class EcsSettings(BaseModel):
    """The ``ecs`` kind's dispatcher settings."""

    run_task_defaults: dict[str, Any] = Field(
        default_factory=dict,
        description="Added to every RunTask, e.g. launchType and networkConfiguration for Fargate "
        "(PIE_ECS_RUN_TASK_DEFAULTS, a JSON object).",
    )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> EcsSettings:
        return cls(run_task_defaults=json.loads(environ.get("PIE_ECS_RUN_TASK_DEFAULTS", "{}")))


def check(role: str, handler: EcsHandler, allow: HandlerAllowList, _implementations: Collection[str]) -> None:
    """The cluster is allowed, and so is the task family: anyone who may register a task definition
    on an allowed cluster must not thereby make PIE run it."""
    if handler.cluster not in allow.ecs_clusters:
        raise HandlerNotAllowedError(
            f"{role} handler: ECS cluster '{handler.cluster}' is not in the handler allow-list"
        )
    if not any(handler.family.startswith(prefix) for prefix in allow.ecs_task_family_prefixes):
        raise HandlerNotAllowedError(
            f"{role} handler: ECS task family '{handler.family}' does not begin with a task family prefix "
            "of the handler allow-list"
        )


def cluster_arns(allow: HandlerAllowList) -> list[str]:
    """Handlers name clusters by short name, so they live in the stack's account and region."""
    return [f"arn:{{partition}}:ecs:{{region}}:{{account}}:cluster/{cluster}" for cluster in allow.ecs_clusters]


def container_variables(overrides: Mapping[str, Any] | None) -> dict[str, str]:
    """The environment variables that a task's container overrides set (in a RunTask request or
    a task state change event). The envelope travels in ``PIE_JOB``."""
    return {
        variable.get("name"): variable.get("value")
        for override in (overrides or {}).get("containerOverrides") or []
        for variable in override.get("environment") or []
    }


def task_result(detail: dict[str, Any]) -> ReportedResult | None:
    """A stopped task PIE started: named by ``startedBy``, carrying the envelope in ``PIE_JOB``."""
    if detail.get("lastStatus") != "STOPPED":
        return None
    envelope = json.loads(container_variables(detail.get("overrides")).get(ECS_ENVIRONMENT_VARIABLE) or "{}")
    if not envelope or envelope.get("job_id") != detail.get("startedBy"):
        return None
    cluster = str(detail.get("clusterArn", "")).rsplit("/", 1)[-1]
    family = str(detail.get("taskDefinitionArn", "")).rsplit("/", 1)[-1]
    source = f"{cluster}/{family}"
    failed = [c for c in detail.get("containers", []) if c.get("exitCode") != 0]
    if failed:
        reasons = ", ".join(f"{c.get('name')} exited {c.get('exitCode')} {c.get('reason', '')}".strip() for c in failed)
        return ReportedResult.of(
            envelope, source, "failed", error=f"{detail.get('stoppedReason', 'task stopped')}: {reasons}"
        )
    return ReportedResult.of(envelope, source, "succeeded", output={})


def read_event(event: dict[str, Any]) -> ReportedResult | None:
    if event.get("source") == "aws.ecs" and event.get("detail-type") == TASK_STATE_CHANGE:
        return task_result(event.get("detail") or {})
    return None


def reported_by(handler: EcsHandler, source: str) -> bool:
    cluster, _, family_revision = source.partition("/")
    return cluster == handler.cluster and family_revision.split(":", 1)[0] == handler.family


def completion_rules(allow: HandlerAllowList) -> list[EventRule]:
    clusters = cluster_arns(allow)
    if not clusters:
        return []
    return [
        EventRule(
            "EcsTaskStopped",
            "PIE: stopped ECS tasks on allowed clusters",
            {
                "source": ["aws.ecs"],
                "detail-type": [TASK_STATE_CHANGE],
                "detail": {"lastStatus": ["STOPPED"], "clusterArn": clusters},
            },
        )
    ]


def dispatcher_statements(allow: HandlerAllowList, pass_roles: tuple[str, ...]) -> list[IamStatement]:
    clusters = cluster_arns(allow)
    task_definitions = tuple(TASK_DEFINITIONS.format(prefix=prefix) for prefix in allow.ecs_task_family_prefixes)
    if not clusters or not task_definitions:
        return []
    statements = [
        IamStatement(("ecs:RunTask",), task_definitions, {"ArnEquals": {"ecs:cluster": clusters}}),
        # The envelope goes to the task definition's first container, whose name RunTask's
        # overrides need; DescribeTaskDefinition has no resource-level permissions.
        IamStatement(("ecs:DescribeTaskDefinition",), ("*",)),
    ]
    if pass_roles:
        statements.append(
            IamStatement(
                ("iam:PassRole",),
                tuple(pass_roles),
                {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            )
        )
    return statements


def stop_statements(allow: HandlerAllowList) -> list[IamStatement]:
    """StopTask on any task of the allowed clusters: ECS generates task ARNs, so the cancel route
    can name no narrower resource."""
    tasks = tuple(f"arn:{{partition}}:ecs:{{region}}:{{account}}:task/{cluster}/*" for cluster in allow.ecs_clusters)
    return [IamStatement(("ecs:StopTask",), tasks)] if tasks else []


def deploy_warnings(allow: HandlerAllowList, pass_roles: tuple[str, ...]) -> list[str]:
    warnings = []
    if allow.ecs_clusters and not allow.ecs_task_family_prefixes:
        warnings.append(
            "ECS clusters are allowed but 'ecs_task_family_prefixes' is empty: no ECS handler is admitted "
            '(list the task families\' prefixes, or [""] for every family on the allowed clusters).'
        )
    if allow.ecs_clusters and not pass_roles:
        warnings.append(
            "ECS clusters are allowed but context 'ecsPassRoleArns' is empty: the dispatcher "
            "cannot start task definitions that have a task or execution role."
        )
    return warnings


KIND = HandlerKind(
    type="ecs",
    model=EcsHandler,
    allow_list={
        "ecs_clusters": "Clusters (short names, in the deployment's account and region) ECS handlers may name.",
        "ecs_task_family_prefixes": 'Task definition families an ECS handler may name begin with one of these ("" '
        "admits every family).",
    },
    check=check,
    starter="shared.kinds.ecs_start:EcsStarter",
    # Training tasks run for hours; a task still running after six is presumed lost.
    default_timeout_seconds=6 * 3600,
    stopper="shared.kinds.ecs_start:stop_task",
    stop_statements=stop_statements,
    settings=EcsSettings.from_environ,
    stop_wildcard_reason=(
        "Task ARNs are generated by ECS: the cancel route may stop any task, but only on the clusters "
        "of the handler allow-list"
    ),
    client_service="ecs",
    stand_in="pie_local.runtime.targets:LocalEcs",
    read_event=read_event,
    reported_by=reported_by,
    completion_rules=completion_rules,
    dispatcher_statements=dispatcher_statements,
    deploy_warnings=deploy_warnings,
    iam_wildcard_reason=(
        "task definitions of the allowed family prefixes run only on the allowed clusters (ecs:cluster "
        "condition); "
        "ecs:DescribeTaskDefinition supports no resource-level permissions (it is read-only and names "
        "the container that receives the job envelope)"
    ),
)

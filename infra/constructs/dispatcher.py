"""The stream dispatcher: the table's job records start jobs on their handlers.

The event source reports partial batch failures, bisects a failing batch to isolate a poison record,
retries a bounded number of times within a bounded record age, and then sends the failed batch's
description to a dead-letter queue. A filter keeps every other record of the table from invoking it.

The function may only start what the handler allow-list admits (the same list the API validates
registrations against): ``lambda:InvokeFunction`` on the allowed accounts x regions x name
prefixes, ``ecs:RunTask`` on the allowed clusters, and ``iam:PassRole`` on the task roles named in
``ecsPassRoleArns``.
"""

from __future__ import annotations

from itertools import product

from aws_cdk import Annotations, Aws, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.config import DeploymentConfig
from infra.constructs.dead_letter_queue import dead_letter_queue
from infra.constructs.route_functions import FunctionFactory
from infra.constructs.table import RegistryTable
from infra.function_profiles import DISPATCHER, DISPATCHER_FUNCTION
from shared.data import keys
from shared.domain.handler_policy import HandlerAllowList

# Records the dispatcher acts on: new queued jobs, and the outbox overflow of a change that fired
# more jobs than one transaction holds. A job's later changes (claimed, finished) are MODIFY
# records the dispatcher has no business with, so they never invoke it.
STREAM_FILTERS = (
    # A new job, and one put back in the queue: re-queued by the sweeper, retried, redriven.
    lambda_.FilterCriteria.filter(
        {
            "eventName": ["INSERT", "MODIFY"],
            "dynamodb": {"NewImage": {"entity_type": {"S": [keys.JOB_ENTITY]}, "status": {"S": ["queued"]}}},
        }
    ),
    lambda_.FilterCriteria.filter(
        {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"entity_type": {"S": [keys.FANOUT_ENTITY]}}}}
    ),
)
STREAM_BATCH_SIZE = 10
STREAM_RETRY_ATTEMPTS = 5
STREAM_MAX_RECORD_AGE = Duration.hours(1)


def lambda_handler_arn_patterns(allow_list: HandlerAllowList) -> list[str]:
    """One ARN pattern per allowed account x region x name prefix (a pattern also covers qualifiers)."""
    return [
        f"arn:{Aws.PARTITION}:lambda:{region}:{account}:function:{prefix}*"
        for account, region, prefix in product(
            allow_list.lambda_accounts, allow_list.lambda_regions, allow_list.lambda_name_prefixes
        )
    ]


def ecs_cluster_arns(scope: Construct, allow_list: HandlerAllowList) -> list[str]:
    """Handlers name clusters by short name, so they live in the stack's account and region."""
    stack = Stack.of(scope)
    return [
        stack.format_arn(service="ecs", resource="cluster", resource_name=cluster)
        for cluster in allow_list.ecs_clusters
    ]


class JobDispatcher(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        factory: FunctionFactory,
        table: RegistryTable,
        config: DeploymentConfig,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = dead_letter_queue(
            self, "DeadLetterQueue", holds="stream batches the dispatcher could not process"
        )
        self.function = factory.build(
            self, DISPATCHER_FUNCTION, DISPATCHER, description="job dispatcher (table stream)"
        )
        self.function.add_event_source(
            event_sources.DynamoEventSource(
                table.table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=STREAM_BATCH_SIZE,
                report_batch_item_failures=True,
                bisect_batch_on_error=True,
                retry_attempts=STREAM_RETRY_ATTEMPTS,
                max_record_age=STREAM_MAX_RECORD_AGE,
                on_failure=event_sources.SqsDlq(self.dead_letter_queue),
                filters=list(STREAM_FILTERS),
            )
        )
        self._allow_handler_targets(config)

    def _allow_handler_targets(self, config: DeploymentConfig) -> None:
        allow_list = config.handler_allow_list
        role = self.function.role
        assert role is not None  # the factory always gives a function its own role
        suppressed: list[str] = []

        lambda_arns = lambda_handler_arn_patterns(allow_list)
        if lambda_arns:
            role.add_to_principal_policy(
                iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=lambda_arns)
            )
            suppressed += lambda_arns

        clusters = ecs_cluster_arns(self, allow_list)
        if clusters:
            task_definitions = Stack.of(self).format_arn(
                service="ecs", resource="task-definition", resource_name="*"
            )
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["ecs:RunTask"],
                    resources=[task_definitions],
                    conditions={"ArnEquals": {"ecs:cluster": clusters}},
                )
            )
            suppressed.append(task_definitions)
            # The envelope goes to the task definition's first container, whose name RunTask's
            # overrides need; DescribeTaskDefinition has no resource-level permissions.
            role.add_to_principal_policy(
                iam.PolicyStatement(actions=["ecs:DescribeTaskDefinition"], resources=["*"])
            )
            suppressed.append("*")
            if config.ecs_pass_role_arns:
                role.add_to_principal_policy(
                    iam.PolicyStatement(
                        actions=["iam:PassRole"],
                        resources=list(config.ecs_pass_role_arns),
                        conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
                    )
                )
            else:
                Annotations.of(self).add_warning_v2(
                    "pie:ecsPassRoleArns",
                    "ECS clusters are allowed but context 'ecsPassRoleArns' is empty: the dispatcher "
                    "cannot start task definitions that have a task or execution role.",
                )

        if suppressed:
            NagSuppressions.add_resource_suppressions(
                role,
                [
                    NagPackSuppression(
                        id="AwsSolutions-IAM5",
                        reason=(
                            "The handler allow-list admits functions by name prefix and ECS tasks by "
                            "cluster, so the dispatcher may invoke exactly the functions matching "
                            "<allowed account>:<allowed region>:function:<allowed prefix>*, and run "
                            "task definitions only on the allowed clusters (ecs:cluster condition); "
                            "the API rejects registering any other target. ecs:DescribeTaskDefinition "
                            "supports no resource-level permissions (it is read-only and names the "
                            "container that receives the job envelope)."
                        ),
                        applies_to=[f"Resource::{_nag_resource(arn)}" for arn in suppressed],
                    )
                ],
                apply_to_children=True,
            )


def _nag_resource(arn: str) -> str:
    """The ARN as cdk-nag prints it: pseudo parameters appear as ``<AWS::Partition>`` etc."""
    stack_tokens = {
        Aws.PARTITION: "<AWS::Partition>",
        Aws.REGION: "<AWS::Region>",
        Aws.ACCOUNT_ID: "<AWS::AccountId>",
    }
    for token, printed in stack_tokens.items():
        arn = arn.replace(token, printed)
    return arn

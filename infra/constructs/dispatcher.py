"""The stream dispatcher: the table's job records start jobs on their handlers.

The event source reports partial batch failures, bisects a failing batch to isolate a poison record,
retries a bounded number of times within a bounded record age, and then sends the failed batch's
description to a dead-letter queue. A filter keeps every other record of the table from invoking it.

The function may only start what the handler allow-list admits (the same list the API validates
registrations against); each handler kind declares its statements (``shared.kinds``):
``lambda:InvokeFunction`` on the allowed accounts x regions x name prefixes, ``ecs:RunTask`` on the
allowed clusters and ``iam:PassRole`` on the task roles named in ``ecsPassRoleArns``,
``states:StartExecution`` on the allowed state machines.
"""

from __future__ import annotations

from aws_cdk import Annotations, Aws, Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.config import DeploymentConfig
from infra.constructs.dead_letter_queue import dead_letter_queue
from infra.constructs.route_functions import FunctionFactory
from infra.constructs.table import RegistryTable
from infra.function_profiles import DISPATCHER, DISPATCHER_FUNCTION
from infra.kinds import policy_statement, stack_arn
from shared.data import stream_filters
from shared.kinds import KINDS

# The records the dispatcher acts on (shared.data.stream_filters: pie-local filters its replay with the same).
STREAM_FILTERS = tuple(lambda_.FilterCriteria.filter(pattern) for pattern in stream_filters.DISPATCHER)
STREAM_BATCH_SIZE = 10
STREAM_RETRY_ATTEMPTS = 5
STREAM_MAX_RECORD_AGE = Duration.hours(1)


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
        """Each handler kind's statements for the allow-list (``shared.kinds``)."""
        allow_list = config.handler_allow_list
        role = self.function.role
        assert role is not None  # the factory always gives a function its own role
        suppressed: list[str] = []
        reasons: list[str] = []
        for kind in KINDS.values():
            statements = kind.dispatcher_statements(allow_list, config.ecs_pass_role_arns)
            for statement in statements:
                role.add_to_principal_policy(policy_statement(statement))
                suppressed += [stack_arn(arn) for arn in statement.resources if "*" in arn]
            if statements and kind.iam_wildcard_reason:
                reasons.append(f"{kind.type}: {kind.iam_wildcard_reason}")
            for warning in kind.deploy_warnings(allow_list, config.ecs_pass_role_arns):
                Annotations.of(self).add_warning_v2(f"pie:{kind.type}", warning)

        if suppressed:
            NagSuppressions.add_resource_suppressions(
                role,
                [
                    NagPackSuppression(
                        id="AwsSolutions-IAM5",
                        reason=(
                            "The dispatcher may start exactly the targets the handler allow-list admits, "
                            "which the API also validates registrations against; " + "; ".join(reasons) + "."
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

"""The job sweeper on a schedule: every minute, EventBridge invokes functions/sweep_jobs.

A run that fails is not retried by Lambda (the next minute's run does the same work, and two runs
at once are safe); a run EventBridge cannot deliver, or that fails, lands in the dead-letter queue,
which alarms like every other. The cancel route may stop what each kind's stopper stops (ECS tasks
on the allowed clusters only).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.config import DeploymentConfig
from infra.constructs.dead_letter_queue import dead_letter_queue
from infra.constructs.dispatcher import _nag_resource
from infra.constructs.route_functions import FunctionFactory
from infra.function_profiles import SWEEPER, SWEEPER_FUNCTION
from infra.kinds import policy_statement, stack_arn
from shared.kinds import KINDS

SWEEP_EVERY = Duration.minutes(1)
DELIVERY_RETRY_ATTEMPTS = 2
DELIVERY_MAX_EVENT_AGE = Duration.minutes(5)


class JobSweeper(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, factory: FunctionFactory) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = dead_letter_queue(self, "DeadLetterQueue", holds="job sweeper runs that failed")
        self.function = factory.build(
            self, SWEEPER_FUNCTION, SWEEPER, description="job sweeper (timeouts, retries, lost records)"
        )
        self.function.configure_async_invoke(
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
            retry_attempts=0,
            max_event_age=Duration.minutes(5),
        )
        events.Rule(
            self,
            "Schedule",
            description="PIE: sweep overdue jobs",
            schedule=events.Schedule.rate(SWEEP_EVERY),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=DELIVERY_RETRY_ATTEMPTS,
                    max_event_age=DELIVERY_MAX_EVENT_AGE,
                )
            ],
        )


def allow_stopping_jobs(function: lambda_.IFunction, config: DeploymentConfig) -> None:
    """Each handler kind's stop statements (``shared.kinds``), for the cancel route: ``ecs:StopTask``
    on tasks of the allowed clusters."""
    if function.role is None:
        return
    suppressed: list[str] = []
    reasons: list[str] = []
    for kind in KINDS.values():
        statements = kind.stop_statements(config.handler_allow_list)
        for statement in statements:
            function.role.add_to_principal_policy(policy_statement(statement))
            suppressed += [stack_arn(arn) for arn in statement.resources if "*" in arn]
        if statements and kind.stop_wildcard_reason:
            reasons.append(f"{kind.type}: {kind.stop_wildcard_reason}")
    if suppressed:
        NagSuppressions.add_resource_suppressions(
            function.role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="; ".join(reasons) + ".",
                    applies_to=[f"Resource::{_nag_resource(arn)}" for arn in suppressed],
                )
            ],
            apply_to_children=True,
        )

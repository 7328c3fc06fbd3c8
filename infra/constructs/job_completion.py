"""Automatic job completion: results of the handlers the dispatcher started come back on their own.

- **Lambda handlers** are invoked asynchronously; configured with the account's default event bus as
  their on-success / on-failure destination, their invocation records reach the completion function
  through a rule that admits only functions inside the handler allow-list.
- **ECS handlers**: the "Task State Change" events of stopped tasks on the allowed clusters.

Both reach the function as asynchronous invocations, so two retry layers guard a result, and both
end in the same dead-letter queue instead of dropping it:

- **delivery**: EventBridge retries a rule target it cannot invoke, then sends the event itself;
- **the function failing**: Lambda retries an invocation that throws (twice), then sends its
  invocation record (the event under ``requestPayload``, the error under ``responsePayload``).
  Without this on-failure destination Lambda would drop the event and the job would stay
  ``dispatched``; it also covers handlers that name the function as their destination directly.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda_destinations as destinations
from constructs import Construct

from infra.config import DeploymentConfig
from infra.constructs.dead_letter_queue import dead_letter_queue
from infra.constructs.dispatcher import ecs_cluster_arns, lambda_handler_arn_patterns
from infra.constructs.route_functions import FunctionFactory
from infra.function_profiles import JOB_COMPLETION, JOB_COMPLETION_FUNCTION

LAMBDA_RESULT_DETAIL_TYPES = (
    "Lambda Function Invocation Result - Success",
    "Lambda Function Invocation Result - Failure",
)
ECS_TASK_STATE_CHANGE = "ECS Task State Change"
DELIVERY_RETRY_ATTEMPTS = 8
DELIVERY_MAX_EVENT_AGE = Duration.hours(6)
# Lambda's own retries of an invocation that failed, and how long it keeps an event (at most 6 h).
INVOCATION_RETRY_ATTEMPTS = 2
INVOCATION_MAX_EVENT_AGE = Duration.hours(6)


class JobCompletion(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        factory: FunctionFactory,
        config: DeploymentConfig,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = dead_letter_queue(
            self, "DeadLetterQueue", holds="job results the completion function could not record"
        )
        self.function = factory.build(
            self,
            JOB_COMPLETION_FUNCTION,
            JOB_COMPLETION,
            description="job completion (Lambda destinations, ECS task state changes)",
        )
        self.function.configure_async_invoke(
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
            retry_attempts=INVOCATION_RETRY_ATTEMPTS,
            max_event_age=INVOCATION_MAX_EVENT_AGE,
        )
        target = targets.LambdaFunction(
            self.function,
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=DELIVERY_RETRY_ATTEMPTS,
            max_event_age=DELIVERY_MAX_EVENT_AGE,
        )
        allow_list = config.handler_allow_list

        function_patterns = [arn.removesuffix("*") for arn in lambda_handler_arn_patterns(allow_list)]
        if function_patterns:
            events.Rule(
                self,
                "LambdaResults",
                description="PIE: invocation records of allowed Lambda handlers",
                event_pattern=events.EventPattern(
                    source=["lambda"],
                    detail_type=list(LAMBDA_RESULT_DETAIL_TYPES),
                    resources=_any_prefix(function_patterns),
                ),
                targets=[target],
            )

        clusters = ecs_cluster_arns(self, allow_list)
        if clusters:
            events.Rule(
                self,
                "EcsTaskStopped",
                description="PIE: stopped ECS tasks on allowed clusters",
                event_pattern=events.EventPattern(
                    source=["aws.ecs"],
                    detail_type=[ECS_TASK_STATE_CHANGE],
                    detail={"lastStatus": ["STOPPED"], "clusterArn": clusters},
                ),
                targets=[target],
            )


def _any_prefix(prefixes: list[str]) -> list[str]:
    matchers = [events.Match.prefix(prefix) for prefix in prefixes]
    return matchers[0] if len(matchers) == 1 else events.Match.any_of(*matchers)

"""Automatic job completion: results of the handlers the dispatcher started come back on their own.

- **Lambda handlers** are invoked asynchronously; configured with the account's default event bus as
  their on-success / on-failure destination, their invocation records reach the completion function
  through a rule that admits only functions inside the handler allow-list.
- **ECS handlers**: the "Task State Change" events of stopped tasks on the allowed clusters.
- **Step Functions handlers**: the "Execution Status Change" events of finished executions of the
  allowed state machines.

Each handler kind declares its rules (``shared.kinds``).

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
from infra.constructs.route_functions import FunctionFactory
from infra.function_profiles import JOB_COMPLETION, JOB_COMPLETION_FUNCTION
from infra.kinds import event_pattern
from shared.kinds import KINDS

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
            description="job completion (Lambda destinations, ECS task state changes, Step Functions executions)",
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
        for kind in KINDS.values():
            for rule in kind.completion_rules(config.handler_allow_list):
                events.Rule(
                    self,
                    rule.construct_id,
                    description=rule.description,
                    event_pattern=event_pattern(rule.pattern),
                    targets=[target],
                )

"""Webhook delivery and the event bus (SPEC.md, "Outbound events"): functions/deliver_webhooks, fed by
the table's stream and run by a schedule, and the EventBridge bus every event is also put on.

- The stream: a filter lets only new event items and pending deliveries invoke the function (every
  other record of the table never does). The event source reports partial batch failures, bisects a
  failing batch, retries a bounded number of times within a bounded record age, then sends the
  batch's description to the dead-letter queue.
- The schedule: every minute EventBridge invokes the same function without records, and it sweeps
  the due index for retries whose time has come. Retries live in the table (the due index), not in
  Lambda or a queue, so they survive restarts, redeploys and an outage of hours. A run that fails
  is not retried (the next minute's does the same work) and lands in the dead-letter queue.
- The bus: the stack's own EventBridge bus; the function may put events on it and nothing else.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as event_sources
from constructs import Construct

from infra.constructs.dead_letter_queue import dead_letter_queue
from infra.constructs.route_functions import FunctionFactory
from infra.constructs.table import RegistryTable
from infra.function_profiles import WEBHOOK_DELIVERY, WEBHOOK_DELIVERY_FUNCTION
from shared.data import stream_filters

# Which records invoke it (shared.data.stream_filters: pie-local filters its replay with the same).
STREAM_FILTERS = tuple(lambda_.FilterCriteria.filter(pattern) for pattern in stream_filters.WEBHOOK_DELIVERY)
STREAM_BATCH_SIZE = 10
STREAM_RETRY_ATTEMPTS = 5
STREAM_MAX_RECORD_AGE = Duration.hours(1)
SWEEP_EVERY = Duration.minutes(1)
SCHEDULE_RETRY_ATTEMPTS = 2
SCHEDULE_MAX_EVENT_AGE = Duration.minutes(5)


class WebhookDelivery(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, factory: FunctionFactory, table: RegistryTable) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = dead_letter_queue(
            self, "DeadLetterQueue", holds="webhook stream batches and delivery sweeps that failed"
        )
        self.event_bus = events.EventBus(self, "EventBus", description="PIE: every outbound event (source pie)")
        self.function = factory.build(
            self, WEBHOOK_DELIVERY_FUNCTION, WEBHOOK_DELIVERY, description="webhook delivery (table stream, schedule)"
        )
        self.function.version.lambda_.add_environment("PIE_EVENT_BUS_NAME", self.event_bus.event_bus_name)
        # events:PutEvents on this bus alone.
        self.event_bus.grant_put_events_to(self.function)
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
        self.function.configure_async_invoke(
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
            retry_attempts=0,
            max_event_age=SCHEDULE_MAX_EVENT_AGE,
        )
        events.Rule(
            self,
            "Schedule",
            description="PIE: send webhook deliveries whose retry is due",
            schedule=events.Schedule.rate(SWEEP_EVERY),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=SCHEDULE_RETRY_ATTEMPTS,
                    max_event_age=SCHEDULE_MAX_EVENT_AGE,
                )
            ],
        )

"""Webhook delivery (see shared.dispatch.webhooks). Not an HTTP route: one function, two triggers.

- The table's stream (filtered to event items and pending deliveries): fans each new event out to
  its endpoints, attempts new deliveries at once, and puts every event on the EventBridge bus.
  Partial batch responses: the first record that fails is retried from there by the event source
  mapping, which sends a batch that keeps failing to the dead-letter queue.
- An EventBridge schedule every minute: sweeps the due index for retries whose time has come (and
  deliveries whose stream record was lost), so retries survive restarts and redeploys.
"""

from shared.dispatch.webhooks import publish_counts, stream_batch_handler
from shared.observability import log_invocations, logger, metrics, tracer
from shared.runtime import event_bus, webhook_deliverer

handle_stream = stream_batch_handler(webhook_deliverer, event_bus)


@log_invocations()
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    try:
        if "Records" in event:
            return handle_stream(event, context)
        outcomes = webhook_deliverer().sweep()
        log = logger.info if outcomes else logger.debug
        log("webhook sweep done", extra={"outcomes": dict(outcomes)})
        return {"outcomes": dict(outcomes)}
    finally:
        publish_counts(webhook_deliverer().take_counts(), metrics)

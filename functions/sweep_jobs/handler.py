"""Runs the job sweeper (see shared.dispatch.sweeper). Not an HTTP route: invoked by an
EventBridge schedule every minute (and every few seconds by pie-local)."""

from shared.observability import logger, metrics, tracer
from shared.runtime import sweeper


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    report = sweeper().sweep()
    report.publish(metrics)
    logger.info("sweep done", extra={"queries": report.queries, "outcomes": dict(report.outcomes)})
    return {"queries": report.queries, "outcomes": dict(report.outcomes)}

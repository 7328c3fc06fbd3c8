"""Runs the job sweeper (see shared.dispatch.sweeper). Not an HTTP route: invoked by an
EventBridge schedule every minute (and every few seconds by pie-local)."""

from shared.observability import log_invocations, logger, metrics, tracer
from shared.runtime import sweeper


@log_invocations()
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    report = sweeper().sweep()
    report.publish(metrics)
    # A sweep that changed nothing is the common case (every minute; every few seconds locally): its
    # figures are in the metrics, and a log line for it would bury the ones that did something.
    log = logger.info if report.outcomes else logger.debug
    log("sweep done", extra={"queries": report.queries, "outcomes": dict(report.outcomes)})
    return {"queries": report.queries, "outcomes": dict(report.outcomes)}

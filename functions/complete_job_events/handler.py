"""Completes jobs from AWS's own reports: Lambda destination records, ECS task state changes and
Step Functions execution status changes (see shared.dispatch.completions). Not an HTTP route:
invoked by Lambda destinations and EventBridge."""

from shared.observability import log_invocations, tracer
from shared.runtime import aws_completions


@log_invocations()
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return {"outcome": aws_completions().handle(event)}

"""The table's stream consumer: starts new jobs on their handlers (see shared.dispatch.dispatcher).

Partial batch responses: a record that fails is reported in ``batchItemFailures`` alone, retried by
the event source mapping, and sent to the dead-letter queue when its retries run out.
"""

from aws_lambda_powertools.utilities.batch import process_partial_response

from shared.dispatch.dispatcher import Outcomes, ParallelBatchProcessor, record_handler
from shared.observability import log_invocations, metrics, tracer
from shared.runtime import dispatcher, dispatcher_settings

outcomes = Outcomes()
handle_record = record_handler(dispatcher, outcomes)


@log_invocations()
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    processor = ParallelBatchProcessor(workers=dispatcher_settings().dispatch_workers)
    try:
        return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
    finally:
        outcomes.publish(metrics)

"""The table's stream consumer: starts new jobs on their handlers (see shared.dispatch.dispatcher).

Partial batch responses: a record that fails is reported in ``batchItemFailures`` alone, retried by
the event source mapping, and sent to the dead-letter queue when its retries run out.
"""

from aws_lambda_powertools.utilities.batch import process_partial_response

from shared.dispatch.dispatcher import ParallelBatchProcessor, record_handler
from shared.observability import logger, tracer
from shared.runtime import dispatcher, dispatcher_settings

handle_record = record_handler(dispatcher)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    processor = ParallelBatchProcessor(workers=dispatcher_settings().dispatch_workers)
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)

"""The dead-letter queue every asynchronous path of PIE ends in when its retries are exhausted."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct


def dead_letter_queue(scope: Construct, construct_id: str, *, holds: str) -> sqs.Queue:
    """An encrypted, TLS-only queue that keeps failures for the maximum 14 days; ``holds`` says what."""
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    NagSuppressions.add_resource_suppressions(
        queue,
        [
            NagPackSuppression(
                id="AwsSolutions-SQS3",
                reason=(
                    f"This queue is itself the dead-letter queue for {holds}; its messages are "
                    "inspected and replayed by an operator (an alarm fires on its depth), so a "
                    "further dead-letter queue would only hide them."
                ),
            )
        ],
    )
    return queue

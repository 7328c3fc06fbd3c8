"""Alarms on what must never go unnoticed, sent to one encrypted SNS topic.

- every dead-letter queue holding a message (a stream batch or a job result that was given up on);
- the dispatcher failing, or falling behind the stream (iterator age);
- every asynchronously invoked function failing (the completion function): its first error, before
  Lambda's retries give the event up to a dead-letter queue;
- the API answering 5xx (PIE never answers 500 to bad input, so any 5xx is a defect or an outage);
- jobs: attempts timing out, jobs failing for good, attempts retried, jobs cancelled, the oldest
  queued job waiting too long, a job the sweeper could not end, and a training job that ended
  without its version's move (the sweeper and the dispatcher publish them; with no sweeper deployed
  there are no job alarms);
- webhook delivery: the function failing or falling behind the stream, attempts that raised or
  stream records it gave back (``WebhookDeliveryErrors``), and an endpoint disabled after days of
  failure (``WebhookEndpointsDisabled``); its dead-letter queue alarms like every other.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.api import RegistryApi

ITERATOR_AGE_THRESHOLD = Duration.minutes(5)
# Job metrics the sweeper (shared.dispatch.sweeper.SweepReport) and the stream dispatcher
# (shared.dispatch.dispatcher.CHANGE_METRICS) publish, and when they alarm.
JOB_ALARMS = (
    ("JobsTimedOut", 10, "attempts timed out in 15 minutes: handlers are not completing their jobs"),
    ("JobsFailed", 10, "jobs ended as failed by the sweeper in 15 minutes (out of attempts or never dispatched)"),
    ("JobsRetried", 20, "attempts retried in 15 minutes: handlers are failing, timing out or not starting"),
    ("JobsCancelled", 20, "jobs cancelled in 15 minutes: someone is stopping work in bulk"),
    ("OldestQueuedJobAge", 900, "a queued job has waited over 15 minutes: is the dispatcher running?"),
    ("SweeperErrors", 1, "the sweeper could not end a job (its log names it); the job stays due, every run retries"),
    (
        "JobsEndedWithoutTheirVersion",
        1,
        "a training job ended without moving its version (its log says why): set the version's status by hand",
    ),
)
API_SERVER_ERRORS_THRESHOLD = 5
# Metrics the webhook delivery function publishes (shared.dispatch.webhooks.METRICS), and when they alarm.
WEBHOOK_ALARMS = (
    ("WebhookDeliveryErrors", 1, "webhook delivery failed on a stream record or an attempt (its log says why)"),
    ("WebhookEndpointsDisabled", 1, "a webhook endpoint failed for days and was disabled: tell its owner"),
)


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: RegistryApi,
        dead_letter_queues: Mapping[str, sqs.IQueue],
        stream_consumer: lambda_.IFunction | None,
        asynchronous_functions: Mapping[str, lambda_.IFunction],
        alarm_email: str | None,
        job_metrics: Mapping[str, str] | None = None,
        webhook_delivery: lambda_.IFunction | None = None,
        webhook_metrics: Mapping[str, str] | None = None,
    ) -> None:
        """``job_metrics``, ``webhook_metrics``: the namespace and service dimension the sweeper and
        the webhook delivery function publish under."""
        super().__init__(scope, construct_id)
        # CloudWatch cannot publish to a topic under the AWS-managed SNS key, hence a key of our own.
        key = kms.Key(self, "AlarmTopicKey", enable_key_rotation=True, description="PIE alarm topic")
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
        self.topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self._action = actions.SnsAction(self.topic)

        for name, queue in dead_letter_queues.items():
            self._alarm(
                f"{name}DeadLetters",
                queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM
                ),
                threshold=1,
                description=f"PIE: {name} dead-letter queue holds messages; inspect and replay them",
            )
        if stream_consumer is not None:
            self._alarm(
                "DispatcherErrors",
                stream_consumer.metric_errors(period=Duration.minutes(5), statistic=cloudwatch.Stats.SUM),
                threshold=1,
                description="PIE: the stream dispatcher failed invocations",
            )
            self._alarm(
                "DispatcherIteratorAge",
                stream_consumer.metric("IteratorAge", period=Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM),
                threshold=ITERATOR_AGE_THRESHOLD.to_milliseconds(),
                evaluation_periods=5,
                description="PIE: the dispatcher is falling behind the table stream",
            )
        for name, function in asynchronous_functions.items():
            self._alarm(
                f"{name}Errors",
                function.metric_errors(period=Duration.minutes(5), statistic=cloudwatch.Stats.SUM),
                threshold=1,
                description=f"PIE: the {name} function failed invocations; Lambda retries them, then "
                "sends them to its dead-letter queue",
            )
        if job_metrics is not None:
            for metric_name, threshold, what in JOB_ALARMS:
                statistic = cloudwatch.Stats.MAXIMUM if metric_name == "OldestQueuedJobAge" else cloudwatch.Stats.SUM
                self._alarm(
                    metric_name,
                    cloudwatch.Metric(
                        namespace=job_metrics["namespace"],
                        metric_name=metric_name,
                        dimensions_map={"service": job_metrics["service"]},
                        period=Duration.minutes(15),
                        statistic=statistic,
                    ),
                    threshold=threshold,
                    description=f"PIE: {what}",
                )
        if webhook_delivery is not None:
            self._alarm(
                "WebhookDeliveryFunctionErrors",
                webhook_delivery.metric_errors(period=Duration.minutes(5), statistic=cloudwatch.Stats.SUM),
                threshold=1,
                description="PIE: the webhook delivery function failed invocations",
            )
            self._alarm(
                "WebhookDeliveryIteratorAge",
                webhook_delivery.metric("IteratorAge", period=Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM),
                threshold=ITERATOR_AGE_THRESHOLD.to_milliseconds(),
                evaluation_periods=5,
                description="PIE: webhook delivery is falling behind the table stream",
            )
            if webhook_metrics is not None:
                for metric_name, threshold, what in WEBHOOK_ALARMS:
                    self._alarm(
                        metric_name,
                        cloudwatch.Metric(
                            namespace=webhook_metrics["namespace"],
                            metric_name=metric_name,
                            dimensions_map={"service": webhook_metrics["service"]},
                            period=Duration.minutes(15),
                            statistic=cloudwatch.Stats.SUM,
                        ),
                        threshold=threshold,
                        description=f"PIE: {what}",
                    )
        self._alarm(
            "ApiServerErrors",
            api.http_api.metric_server_error(period=Duration.minutes(5), statistic=cloudwatch.Stats.SUM),
            threshold=API_SERVER_ERRORS_THRESHOLD,
            description="PIE: the HTTP API answered 5xx",
        )

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        description: str,
        evaluation_periods: int = 1,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(self._action)
        return alarm

"""Alarms: dead letters, a failing or lagging dispatcher, and API server errors reach an operator."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template
from stack_queries import function, only, ref, resources

from infra.function_profiles import DISPATCHER_FUNCTION


def _alarms(template: Template) -> list[dict[str, Any]]:
    return [alarm["Properties"] for alarm in resources(template, "AWS::CloudWatch::Alarm").values()]


def _dimension(alarm: dict[str, Any], name: str) -> Any:
    return {dimension["Name"]: dimension["Value"] for dimension in alarm.get("Dimensions", [])}.get(name)


def test_every_dead_letter_queue_alarms_on_its_first_message(job_template: Template):
    topic_id, _ = only(job_template, "AWS::SNS::Topic")
    for queue_id in resources(job_template, "AWS::SQS::Queue"):
        (alarm,) = [
            alarm
            for alarm in _alarms(job_template)
            if _dimension(alarm, "QueueName") == {"Fn::GetAtt": [queue_id, "QueueName"]}
        ]
        assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["AlarmActions"] == [ref(topic_id)]


def test_the_dispatcher_alarms_on_errors_and_on_falling_behind_the_stream(job_template: Template):
    dispatcher_id, _ = function(job_template, DISPATCHER_FUNCTION)
    by_metric = {
        alarm["MetricName"]: alarm
        for alarm in _alarms(job_template)
        if _dimension(alarm, "FunctionName") == ref(dispatcher_id)
    }
    assert by_metric["Errors"]["Threshold"] == 1
    assert by_metric["Errors"]["Statistic"] == "Sum"
    iterator_age = by_metric["IteratorAge"]
    assert iterator_age["Statistic"] == "Maximum"
    assert 0 < iterator_age["Threshold"] <= 15 * 60 * 1000


def test_the_api_alarms_on_server_errors(template: Template):
    api_id, _ = only(template, "AWS::ApiGatewayV2::Api")
    (alarm,) = [alarm for alarm in _alarms(template) if _dimension(alarm, "ApiId") == ref(api_id)]
    assert alarm["MetricName"] == "5xx"


def test_every_alarm_notifies_the_alarm_topic(job_template: Template):
    topic_id, _ = only(job_template, "AWS::SNS::Topic")
    for alarm in _alarms(job_template):
        assert alarm["AlarmActions"] == [ref(topic_id)]
        assert alarm["TreatMissingData"] == "notBreaching"


def test_the_alarm_topic_is_encrypted_with_a_rotated_key_cloudwatch_may_use(template: Template):
    key_id, key = only(template, "AWS::KMS::Key")
    _, topic = only(template, "AWS::SNS::Topic")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True
    cloudwatch = [
        statement
        for statement in key["Properties"]["KeyPolicy"]["Statement"]
        if statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert cloudwatch and set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}

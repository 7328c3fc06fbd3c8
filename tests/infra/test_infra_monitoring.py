"""Alarms: dead letters, a failing or lagging dispatcher, failing asynchronously invoked functions and
API server errors reach an operator."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template
from stack_queries import function, only, ref, resources

from infra.function_profiles import DISPATCHER_FUNCTION, JOB_COMPLETION_FUNCTION


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


ASYNCHRONOUS_INVOKERS = {"events.amazonaws.com", "sns.amazonaws.com", "s3.amazonaws.com"}


def _asynchronously_invoked_functions(template: Template) -> set[str]:
    """Logical ids of the functions an AWS service invokes asynchronously: rule targets and
    functions the services above may invoke, directly or through an alias."""
    functions = set(resources(template, "AWS::Lambda::Function"))
    aliases = {
        alias_id: alias["Properties"]["FunctionName"]["Ref"]
        for alias_id, alias in resources(template, "AWS::Lambda::Alias").items()
    }

    def invoked_function(target: Any) -> str | None:
        if isinstance(target, dict) and "Fn::GetAtt" in target and target["Fn::GetAtt"][0] in functions:
            return target["Fn::GetAtt"][0]
        if isinstance(target, dict) and "Ref" in target:
            return aliases.get(target["Ref"])
        return None

    invoked = set()
    for rule in resources(template, "AWS::Events::Rule").values():
        for target in rule["Properties"].get("Targets", []):
            invoked.add(invoked_function(target["Arn"]))
    for permission in resources(template, "AWS::Lambda::Permission").values():
        if permission["Properties"]["Principal"] in ASYNCHRONOUS_INVOKERS:
            invoked.add(invoked_function(permission["Properties"]["FunctionName"]))
    return invoked - {None}


def test_every_asynchronously_invoked_function_has_an_on_failure_queue_and_an_errors_alarm(
    job_template: Template,
):
    """SPEC: every asynchronously invoked function (the completion function included) has an
    on-failure destination or dead-letter queue and an alarm."""
    completion_id, _ = function(job_template, JOB_COMPLETION_FUNCTION)
    invoked = _asynchronously_invoked_functions(job_template)
    assert completion_id in invoked
    queues = resources(job_template, "AWS::SQS::Queue")
    configs = {
        config["Properties"]["FunctionName"]["Ref"]: config["Properties"]
        for config in resources(job_template, "AWS::Lambda::EventInvokeConfig").values()
    }
    for function_id in invoked:
        on_failure = configs[function_id]["DestinationConfig"]["OnFailure"]["Destination"]
        assert on_failure["Fn::GetAtt"][0] in queues, function_id
        errors = [
            alarm
            for alarm in _alarms(job_template)
            if _dimension(alarm, "FunctionName") == ref(function_id) and alarm["MetricName"] == "Errors"
        ]
        assert len(errors) == 1, function_id
        assert errors[0]["Statistic"] == "Sum" and errors[0]["Threshold"] == 1, function_id

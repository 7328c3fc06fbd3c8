"""Webhook delivery deployed: functions/deliver_webhooks fed by the table's stream (event items and
pending deliveries only) with partial batch failures, bisection, bounded retries and a dead-letter
queue; the due-index sweep every minute; the stack's EventBridge bus, on which the function may
put events and do nothing else; alarms on its errors, its lag, its dead letters and endpoints
disabled."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.constructs.route_functions import METRICS_NAMESPACE, SERVICE_NAME
from infra.function_profiles import WEBHOOK_DELIVERY_FUNCTION
from shared.data import stream_filters
from shared.dispatch.webhooks import METRICS
from tests.infra.stack_queries import (
    all_actions,
    function,
    function_statements,
    get_att,
    live_alias,
    only,
    ref,
    refers_to,
    rendered,
    resources,
    statements_with,
)

MAX_STREAM_RETENTION_SECONDS = 24 * 3600


def _mapping(template: Template) -> dict[str, Any]:
    alias_id = live_alias(template, WEBHOOK_DELIVERY_FUNCTION)
    (mapping,) = [
        m["Properties"]
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if refers_to(m["Properties"]["FunctionName"], alias_id)
    ]
    return mapping


def _record(event_name: str, entity_type: str, status: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"PK": {"S": "X"}, "SK": {"S": "Y"}, "entity_type": {"S": entity_type}}
    if status is not None:
        item["status"] = {"S": status}
    return {"eventName": event_name, "dynamodb": {"NewImage": item}}


def test_the_function_is_deployed_because_its_code_exists(template: Template):
    function(template, WEBHOOK_DELIVERY_FUNCTION)
    only(template, "AWS::Events::EventBus")


def test_the_table_stream_feeds_it_with_partial_batch_failures_bisection_bounded_retries_and_a_dlq(
    job_template: Template,
):
    table_id, _ = only(job_template, "AWS::DynamoDB::Table")
    mapping = _mapping(job_template)
    assert mapping["EventSourceArn"] == get_att(table_id, "StreamArn")
    assert rendered(mapping["FunctionName"]).endswith(":live")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert 1 <= mapping["MaximumRetryAttempts"] <= 10
    assert 60 <= mapping["MaximumRecordAgeInSeconds"] < MAX_STREAM_RETENTION_SECONDS
    queue_id = mapping["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert queue_id in resources(job_template, "AWS::SQS::Queue")
    sends = statements_with(function_statements(job_template, WEBHOOK_DELIVERY_FUNCTION), "sqs:SendMessage")
    assert [statement["Resource"] for statement in sends] == [get_att(queue_id, "Arn")]


@pytest.mark.parametrize(
    ("record", "invokes"),
    [
        (_record("INSERT", "EVENT"), True),
        (_record("INSERT", "DELIVERY", "pending"), True),
        (_record("MODIFY", "DELIVERY", "pending"), True),  # a redrive, a claim
        (_record("MODIFY", "DELIVERY", "delivered"), False),
        (_record("MODIFY", "DELIVERY", "failed"), False),
        (_record("REMOVE", "EVENT"), False),  # an event's expiry
        (_record("INSERT", "JOB", "queued"), False),
        (_record("INSERT", "MODEL"), False),
        (_record("MODIFY", "WEBHOOK", "active"), False),
    ],
)
def test_only_new_events_and_pending_deliveries_invoke_it(job_template: Template, record: dict, invokes: bool):
    filters = [json.loads(f["Pattern"]) for f in _mapping(job_template)["FilterCriteria"]["Filters"]]
    assert any(stream_filters.matches(pattern, record) for pattern in filters) == invokes


def test_the_deployed_stream_filter_is_the_one_pie_local_replays_with(job_template: Template):
    filters = [json.loads(f["Pattern"]) for f in _mapping(job_template)["FilterCriteria"]["Filters"]]
    assert filters == list(stream_filters.WEBHOOK_DELIVERY)


def test_the_due_index_is_swept_every_minute_with_failed_runs_in_the_dead_letter_queue(job_template: Template):
    function_id, _ = function(job_template, WEBHOOK_DELIVERY_FUNCTION)
    alias_id = live_alias(job_template, WEBHOOK_DELIVERY_FUNCTION)
    (rule,) = [
        r["Properties"]
        for r in resources(job_template, "AWS::Events::Rule").values()
        if any(refers_to(t["Arn"], alias_id) for t in r["Properties"].get("Targets", []))
    ]
    assert rule["ScheduleExpression"] == "rate(1 minute)"
    assert "DeadLetterConfig" in rule["Targets"][0]
    (config,) = [
        c["Properties"]
        for c in resources(job_template, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == ref(function_id)
    ]
    assert refers_to(config["Qualifier"], alias_id)
    assert config["MaximumRetryAttempts"] == 0 and "OnFailure" in config["DestinationConfig"]


def test_it_reads_only_the_webhook_and_due_indexes_and_writes_only_the_table(job_template: Template):
    granted = function_statements(job_template, WEBHOOK_DELIVERY_FUNCTION)
    (query,) = statements_with(granted, "dynamodb:Query")
    indexes = sorted(rendered(r).rsplit("/", 1)[1] for r in query["Resource"] if "/index/" in rendered(r))
    assert indexes == ["GSI1", "GSI3"]
    table_id, _ = only(job_template, "AWS::DynamoDB::Table")
    for statement in statements_with(granted, "dynamodb:PutItem"):
        assert statement["Resource"] == get_att(table_id, "Arn")
    assert not {a for a in all_actions(granted) if a.startswith(("secretsmanager:", "lambda:", "ecs:", "states:"))}


def test_it_may_put_events_on_the_stacks_bus_and_nowhere_else(job_template: Template):
    bus_id, bus = only(job_template, "AWS::Events::EventBus")
    granted = function_statements(job_template, WEBHOOK_DELIVERY_FUNCTION)
    events_actions = {a for a in all_actions(granted) if a.startswith("events:")}
    assert events_actions == {"events:PutEvents"}
    (put,) = statements_with(granted, "events:PutEvents")
    assert put["Resource"] == get_att(bus_id, "Arn")
    _, resource = function(job_template, WEBHOOK_DELIVERY_FUNCTION)
    assert resource["Properties"]["Environment"]["Variables"]["PIE_EVENT_BUS_NAME"] == ref(bus_id)
    # No other function may put events on it.
    for name in ("dispatch_jobs", "create_model", "sweep_jobs"):
        assert not statements_with(function_statements(job_template, name), "events:PutEvents"), name


def test_delivery_alarms_watch_its_errors_lag_dead_letters_and_disabled_endpoints(job_template: Template):
    alarms = [a["Properties"] for a in resources(job_template, "AWS::CloudWatch::Alarm").values()]
    function_id, _ = function(job_template, WEBHOOK_DELIVERY_FUNCTION)
    on_function = {
        a["MetricName"]
        for a in alarms
        if refers_to(a.get("Dimensions", []), function_id) and a["Namespace"] == "AWS/Lambda"
    }
    assert {"Errors", "IteratorAge"} <= on_function
    published = {a["MetricName"]: a for a in alarms if a.get("Namespace") == METRICS_NAMESPACE}
    for metric in (METRICS["error"], METRICS["endpoint disabled"]):
        alarm = published[metric]
        assert alarm["Threshold"] == 1 and alarm["Statistic"] == "Sum"
        assert alarm["Dimensions"] == [{"Name": "service", "Value": SERVICE_NAME}]
        assert alarm["AlarmActions"], "an alarm nobody hears"
    queue_id = _mapping(job_template)["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert any(
        a["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and a["Dimensions"] == [{"Name": "QueueName", "Value": get_att(queue_id, "QueueName")}]
        for a in alarms
    )


def test_the_bus_name_is_an_output(template: Template):
    bus_id, _ = only(template, "AWS::Events::EventBus")
    outputs = template.to_json()["Outputs"]
    assert outputs["EventBusName"]["Value"] == ref(bus_id)

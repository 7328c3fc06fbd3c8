"""The job sweeper: on a one-minute schedule, reading only its index, with a dead-letter queue and
alarms; the cancel route may stop tasks on the allowed clusters only."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template

from infra.constructs.route_functions import METRICS_NAMESPACE, SERVICE_NAME
from infra.function_profiles import SWEEPER_FUNCTION
from shared.dispatch.dispatcher import CHANGE_METRICS
from shared.kinds import KINDS
from shared.kinds.allow_list import HandlerAllowList
from tests.infra.stack_queries import (
    function,
    function_statements,
    holds,
    live_alias,
    ref,
    refers_to,
    rendered,
    resources,
    statements_with,
)
from tests.infra.synthesis_context import HANDLER_ALLOW_LIST


def test_the_sweeper_runs_every_minute_with_a_dead_letter_queue(job_template: Template):
    sweeper_id, _ = function(job_template, SWEEPER_FUNCTION)
    alias_id = live_alias(job_template, SWEEPER_FUNCTION)
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
        if c["Properties"]["FunctionName"] == ref(sweeper_id)
    ]
    # Destinations belong to the alias EventBridge invokes (SnapStart's version).
    assert refers_to(config["Qualifier"], alias_id)
    assert "OnFailure" in config["DestinationConfig"]


def test_the_sweeper_queries_only_the_due_index(job_template: Template):
    (query,) = statements_with(function_statements(job_template, SWEEPER_FUNCTION), "dynamodb:Query")
    indexes = [rendered(resource) for resource in query["Resource"] if "/index/" in rendered(resource)]
    assert len(indexes) == 1 and indexes[0].endswith("/index/GSI3")


def test_job_alarms_exist(job_template: Template):
    names = {a["Properties"].get("MetricName") for a in resources(job_template, "AWS::CloudWatch::Alarm").values()}
    assert {
        "JobsTimedOut",
        "JobsFailed",
        "JobsRetried",
        "JobsCancelled",
        "OldestQueuedJobAge",
        "SweeperErrors",
        "JobsEndedWithoutTheirVersion",
    } <= names


def test_retried_and_cancelled_jobs_alarm_on_the_metrics_the_dispatcher_publishes(job_template: Template):
    alarms = {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in resources(job_template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") in CHANGE_METRICS.values()
    }
    assert set(alarms) == set(CHANGE_METRICS.values())
    for alarm in alarms.values():
        assert (alarm["Namespace"], alarm["Statistic"]) == (METRICS_NAMESPACE, "Sum")
        assert alarm["Dimensions"] == [{"Name": "service", "Value": SERVICE_NAME}]
        assert alarm["AlarmActions"], "an alarm nobody hears"


def test_only_the_cancel_route_may_stop_tasks_and_only_on_allowed_clusters(job_template: Template):
    stops = statements_with(function_statements(job_template, "cancel_job"), "ecs:StopTask")
    assert stops, "the cancel route cannot stop ECS tasks"
    for statement in stops:
        for resource in statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]:
            assert ":task/" in rendered(resource)


@pytest.mark.parametrize("type_", sorted(KINDS))
def test_the_cancel_route_holds_each_kinds_stop_statements(job_template: Template, type_: str):
    """The stack iterates the registry: whatever a kind's stopper needs is on the cancel route."""
    granted = function_statements(job_template, "cancel_job")
    for declared in KINDS[type_].stop_statements(HandlerAllowList.model_validate(HANDLER_ALLOW_LIST)):
        assert holds(granted, declared), declared

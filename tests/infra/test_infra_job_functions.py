"""The stream dispatcher and the job-completion function (tested whether or not their code exists)."""

from __future__ import annotations

import json
from itertools import product
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from stack_queries import (
    as_list,
    function,
    function_statements,
    functions_by_name,
    get_att,
    holds,
    live_alias,
    only,
    ref,
    refers_to,
    rendered,
    resources,
    statements_with,
)
from synthesis_context import ECS_PASS_ROLE_ARNS, HANDLER_ALLOW_LIST, TEST_CONTEXT

from infra.app import FUNCTIONS_DIR, build_stack, project_context
from infra.constructs.route_functions import discover_function_folders
from infra.function_profiles import DISPATCHER_FUNCTION, JOB_COMPLETION_FUNCTION
from shared.data import stream_filters
from shared.kinds import KINDS
from shared.kinds.allow_list import HandlerAllowList
from shared.routes import ROUTES

ALLOWED_FUNCTION_PREFIXES = {
    f"arn:${{AWS::Partition}}:lambda:{region}:{account}:function:{prefix}"
    for account, region, prefix in product(
        HANDLER_ALLOW_LIST["lambda_accounts"],
        HANDLER_ALLOW_LIST["lambda_regions"],
        HANDLER_ALLOW_LIST["lambda_name_prefixes"],
    )
}
ALLOWED_CLUSTERS = {
    f"arn:${{AWS::Partition}}:ecs:${{AWS::Region}}:${{AWS::AccountId}}:cluster/{cluster}"
    for cluster in HANDLER_ALLOW_LIST["ecs_clusters"]
}
ALLOWED_STATE_MACHINE_PREFIXES = {
    f"arn:${{AWS::Partition}}:states:{region}:{account}:stateMachine:{prefix}"
    for account, region, prefix in product(
        HANDLER_ALLOW_LIST["step_functions_accounts"],
        HANDLER_ALLOW_LIST["step_functions_regions"],
        HANDLER_ALLOW_LIST["step_functions_name_prefixes"],
    )
}
MAX_STREAM_RETENTION_SECONDS = 24 * 3600


def _stream_mapping(template: Template) -> dict[str, Any]:
    """The dispatcher's event source mapping (webhook delivery has its own on the same stream)."""
    alias_id = live_alias(template, DISPATCHER_FUNCTION)
    (mapping,) = [
        m["Properties"]
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if refers_to(m["Properties"]["FunctionName"], alias_id)
    ]
    return mapping


def _record(
    event_name: str, entity_type: str | None, image: str = "NewImage", status: str = "queued"
) -> dict[str, Any]:
    item = {"PK": {"S": "MODEL#m"}, "SK": {"S": "X"}, "status": {"S": status}}
    if entity_type:
        item["entity_type"] = {"S": entity_type}
    return {"eventName": event_name, "dynamodb": {image: item}}


def test_job_functions_are_deployed_exactly_when_their_code_exists(template: Template):
    folders = discover_function_folders(FUNCTIONS_DIR)
    deployed = set(functions_by_name(template))
    for name in (DISPATCHER_FUNCTION, JOB_COMPLETION_FUNCTION):
        assert (name in deployed) == (name in folders), name
    has_stream_consumer = DISPATCHER_FUNCTION in deployed and any(
        refers_to(m["Properties"]["FunctionName"], live_alias(template, DISPATCHER_FUNCTION))
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
    )
    assert has_stream_consumer == (DISPATCHER_FUNCTION in folders)


def test_the_dispatcher_consumes_the_table_stream_reporting_partial_batch_failures(job_template: Template):
    table_id, _ = only(job_template, "AWS::DynamoDB::Table")
    mapping = _stream_mapping(job_template)
    assert mapping["EventSourceArn"] == get_att(table_id, "StreamArn")
    assert refers_to(mapping["FunctionName"], live_alias(job_template, DISPATCHER_FUNCTION))
    assert rendered(mapping["FunctionName"]).endswith(":live")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["StartingPosition"] == "TRIM_HORIZON"


def test_a_failing_batch_is_bisected_retried_boundedly_then_sent_to_the_dead_letter_queue(
    job_template: Template,
):
    mapping = _stream_mapping(job_template)
    assert mapping["BisectBatchOnFunctionError"] is True
    assert 1 <= mapping["MaximumRetryAttempts"] <= 10
    assert 60 <= mapping["MaximumRecordAgeInSeconds"] < MAX_STREAM_RETENTION_SECONDS
    queue_id = mapping["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert queue_id in resources(job_template, "AWS::SQS::Queue")
    sends = statements_with(function_statements(job_template, DISPATCHER_FUNCTION), "sqs:SendMessage")
    assert [statement["Resource"] for statement in sends] == [get_att(queue_id, "Arn")]


@pytest.mark.parametrize(
    ("record", "dispatched"),
    [
        (_record("INSERT", "JOB"), True),
        (_record("INSERT", "JOB", status="dispatched"), False),
        (_record("MODIFY", "JOB"), True),  # put back in the queue: re-queued, retried, redriven
        (_record("MODIFY", "JOB", status="failed"), False),
        (_record("INSERT", "FANOUT"), True),
        (_record("INSERT", "MODEL"), False),
        (_record("MODIFY", "VERSION"), False),
        (_record("INSERT", "SUBSCRIPTION"), False),
        (_record("INSERT", None), False),
        (_record("REMOVE", "JOB", image="OldImage"), False),
    ],
)
def test_the_stream_filter_invokes_the_dispatcher_only_for_job_records(
    job_template: Template, record: dict[str, Any], dispatched: bool
):
    filters = [json.loads(f["Pattern"]) for f in _stream_mapping(job_template)["FilterCriteria"]["Filters"]]
    assert any(stream_filters.matches(pattern, record) for pattern in filters) == dispatched


def test_the_deployed_stream_filter_is_the_one_pie_local_replays_with(job_template: Template):
    filters = [json.loads(f["Pattern"]) for f in _stream_mapping(job_template)["FilterCriteria"]["Filters"]]
    assert filters == list(stream_filters.DISPATCHER)


def test_the_dispatcher_may_invoke_only_the_lambda_handlers_of_the_allow_list(job_template: Template):
    invokes = statements_with(function_statements(job_template, DISPATCHER_FUNCTION), "lambda:InvokeFunction")
    assert len(invokes) == 1 and "Condition" not in invokes[0]
    resources_granted = {rendered(resource) for resource in invokes[0]["Resource"]}
    assert resources_granted == {f"{prefix}*" for prefix in ALLOWED_FUNCTION_PREFIXES}


def test_the_dispatcher_may_run_tasks_only_on_the_allowed_clusters(job_template: Template):
    (run_task,) = statements_with(function_statements(job_template, DISPATCHER_FUNCTION), "ecs:RunTask")
    assert run_task["Action"] == "ecs:RunTask"
    clusters = run_task["Condition"]["ArnEquals"]["ecs:cluster"]
    assert {rendered(cluster) for cluster in clusters} == ALLOWED_CLUSTERS


def test_the_dispatcher_may_run_only_task_definitions_of_the_allowed_family_prefixes(job_template: Template):
    (run_task,) = statements_with(function_statements(job_template, DISPATCHER_FUNCTION), "ecs:RunTask")
    resources = run_task["Resource"] if isinstance(run_task["Resource"], list) else [run_task["Resource"]]
    assert {rendered(resource) for resource in resources} == {
        f"arn:${{AWS::Partition}}:ecs:${{AWS::Region}}:${{AWS::AccountId}}:task-definition/{prefix}*"
        for prefix in HANDLER_ALLOW_LIST["ecs_task_family_prefixes"]
    }


def test_the_dispatcher_passes_only_the_configured_task_roles_and_only_to_ecs_tasks(job_template: Template):
    (pass_role,) = statements_with(function_statements(job_template, DISPATCHER_FUNCTION), "iam:PassRole")
    assert pass_role["Action"] == "iam:PassRole"
    assert set(as_list(pass_role["Resource"])) == set(ECS_PASS_ROLE_ARNS)
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}


def test_the_dispatcher_reads_the_stream_and_writes_the_table(job_template: Template):
    table_id, _ = only(job_template, "AWS::DynamoDB::Table")
    granted = function_statements(job_template, DISPATCHER_FUNCTION)
    (stream_read,) = statements_with(granted, "dynamodb:GetRecords")
    assert stream_read["Resource"] == get_att(table_id, "StreamArn")
    (writes,) = statements_with(granted, "dynamodb:UpdateItem")
    assert writes["Resource"] == get_att(table_id, "Arn")


def test_dead_letter_queues_are_encrypted_tls_only_and_keep_messages_14_days(job_template: Template):
    queues = resources(job_template, "AWS::SQS::Queue")
    assert len(queues) == 4  # the dispatcher's, the completion function's, the sweeper's, webhook delivery's
    policies = resources(job_template, "AWS::SQS::QueuePolicy").values()
    for queue_id, queue in queues.items():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
        assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
        tls_denials = [
            statement
            for policy in policies
            if ref(queue_id) in policy["Properties"]["Queues"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            if statement["Effect"] == "Deny"
            and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert tls_denials, queue_id


def _rules_targeting_completion(job_template: Template) -> dict[str, dict[str, Any]]:
    alias = ref(live_alias(job_template, JOB_COMPLETION_FUNCTION))
    return {
        rule["Properties"]["EventPattern"]["source"][0]: rule["Properties"]
        for rule in resources(job_template, "AWS::Events::Rule").values()
        if any(target["Arn"] == alias for target in rule["Properties"]["Targets"])
    }


def test_results_of_allowed_lambda_handlers_reach_the_completion_function(job_template: Template):
    pattern = _rules_targeting_completion(job_template)["lambda"]["EventPattern"]
    assert set(pattern["detail-type"]) == {
        "Lambda Function Invocation Result - Success",
        "Lambda Function Invocation Result - Failure",
    }
    assert {rendered(matcher["prefix"]) for matcher in pattern["resources"]} == ALLOWED_FUNCTION_PREFIXES


def test_stopped_ecs_tasks_on_allowed_clusters_reach_the_completion_function(job_template: Template):
    pattern = _rules_targeting_completion(job_template)["aws.ecs"]["EventPattern"]
    assert pattern["detail-type"] == ["ECS Task State Change"]
    assert pattern["detail"]["lastStatus"] == ["STOPPED"]
    assert {rendered(cluster) for cluster in pattern["detail"]["clusterArn"]} == ALLOWED_CLUSTERS


def test_the_dispatcher_may_start_executions_only_of_the_allowed_state_machines(job_template: Template):
    (start,) = statements_with(function_statements(job_template, DISPATCHER_FUNCTION), "states:StartExecution")
    assert start["Action"] == "states:StartExecution" and "Condition" not in start
    assert {rendered(resource) for resource in as_list(start["Resource"])} == {
        f"{prefix}*" for prefix in ALLOWED_STATE_MACHINE_PREFIXES
    }
    assert not statements_with(function_statements(job_template, JOB_COMPLETION_FUNCTION), "states:StartExecution")


def test_finished_executions_of_allowed_state_machines_reach_the_completion_function(job_template: Template):
    pattern = _rules_targeting_completion(job_template)["aws.states"]["EventPattern"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert set(pattern["detail"]["status"]) == {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
    matchers = pattern["detail"]["stateMachineArn"]
    assert {rendered(matcher["prefix"]) for matcher in matchers} == ALLOWED_STATE_MACHINE_PREFIXES


def test_every_completion_rule_is_declared_by_a_handler_kind(job_template: Template):
    from shared.kinds import KINDS
    from shared.kinds.allow_list import HandlerAllowList

    declared = {
        rule.pattern["source"][0]
        for kind in KINDS.values()
        for rule in kind.completion_rules(HandlerAllowList.model_validate(HANDLER_ALLOW_LIST))
    }
    assert set(_rules_targeting_completion(job_template)) == declared == {"lambda", "aws.ecs", "aws.states"}


def test_undeliverable_job_results_are_retried_then_dead_lettered(job_template: Template):
    queues = resources(job_template, "AWS::SQS::Queue")
    for rule in _rules_targeting_completion(job_template).values():
        (target,) = rule["Targets"]
        assert target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0] in queues
        assert 1 <= target["RetryPolicy"]["MaximumRetryAttempts"] <= 185


def test_eventbridge_may_invoke_the_completion_function_only_from_its_rules(job_template: Template):
    alias = ref(live_alias(job_template, JOB_COMPLETION_FUNCTION))
    rule_ids = {
        rule_id
        for rule_id, rule in resources(job_template, "AWS::Events::Rule").items()
        if rule["Properties"] in _rules_targeting_completion(job_template).values()
    }
    permissions = [
        permission["Properties"]
        for permission in resources(job_template, "AWS::Lambda::Permission").values()
        if permission["Properties"]["FunctionName"] == alias
    ]
    assert {permission["Principal"] for permission in permissions} == {"events.amazonaws.com"}
    assert {permission["SourceArn"]["Fn::GetAtt"][0] for permission in permissions} == rule_ids


def test_allowing_ecs_clusters_without_task_roles_warns_at_synth(tmp_path):
    """Built, not synthesized: construct metadata already holds the warning."""
    context = project_context(
        {
            **TEST_CONTEXT,
            "handlerAllowList": {"ecs_clusters": ["ml-cluster"], "ecs_task_family_prefixes": ["train-"]},
            "ecsPassRoleArns": [],
        }
    )
    app = cdk.App(outdir=str(tmp_path / "cdk.out"), context=context)
    folders = {route.function for route in ROUTES} | {DISPATCHER_FUNCTION}
    stack = build_stack(app, build_dir=tmp_path / "build", function_folders=folders)
    warnings = [
        entry.data
        for construct in stack.node.find_all()
        for entry in construct.node.metadata
        if entry.type == "aws:cdk:warning"
    ]
    assert any("ecsPassRoleArns" in str(warning) for warning in warnings)
    dispatcher_role = stack.node.find_child("Dispatcher").node.find_child("DispatchJobsRole")
    policy = stack.resolve(dispatcher_role.node.find_child("DefaultPolicy").document.to_json())
    assert "ecs:RunTask" in str(policy)
    assert "iam:PassRole" not in str(policy)


def test_allowing_ecs_clusters_without_task_family_prefixes_warns_and_grants_no_run_task(tmp_path):
    context = project_context({**TEST_CONTEXT, "handlerAllowList": {"ecs_clusters": ["ml-cluster"]}})
    app = cdk.App(outdir=str(tmp_path / "cdk.out"), context=context)
    folders = {route.function for route in ROUTES} | {DISPATCHER_FUNCTION}
    stack = build_stack(app, build_dir=tmp_path / "build", function_folders=folders)
    warnings = [
        entry.data
        for construct in stack.node.find_all()
        for entry in construct.node.metadata
        if entry.type == "aws:cdk:warning"
    ]
    assert any("ecs_task_family_prefixes" in str(warning) for warning in warnings)
    dispatcher_role = stack.node.find_child("Dispatcher").node.find_child("DispatchJobsRole")
    policy = stack.resolve(dispatcher_role.node.find_child("DefaultPolicy").document.to_json())
    assert "ecs:RunTask" not in str(policy)


def test_a_completion_that_keeps_failing_is_retried_then_sent_to_the_dead_letter_queue(job_template: Template):
    """EventBridge's retries cover delivery only: an invocation that throws is Lambda's to retry,
    and without an on-failure destination Lambda drops it and the job stays dispatched."""
    completion_id, _ = function(job_template, JOB_COMPLETION_FUNCTION)
    (config,) = [
        config["Properties"]
        for config in resources(job_template, "AWS::Lambda::EventInvokeConfig").values()
        if config["Properties"]["FunctionName"] == ref(completion_id)
    ]
    # Destinations and retries belong to the alias the invokers call (SnapStart's version).
    assert refers_to(config["Qualifier"], live_alias(job_template, JOB_COMPLETION_FUNCTION))
    assert 1 <= config["MaximumRetryAttempts"] <= 2
    assert 60 <= config["MaximumEventAgeInSeconds"] <= 6 * 3600
    queue_id = config["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert queue_id in resources(job_template, "AWS::SQS::Queue")
    sends = statements_with(function_statements(job_template, JOB_COMPLETION_FUNCTION), "sqs:SendMessage")
    assert [statement["Resource"] for statement in sends] == [get_att(queue_id, "Arn")]
    # One queue holds every job result given up on, whichever retry layer gave it up.
    for rule in _rules_targeting_completion(job_template).values():
        (target,) = rule["Targets"]
        assert target["DeadLetterConfig"]["Arn"] == get_att(queue_id, "Arn")


def test_the_completion_function_knows_the_deployments_account_its_ecs_events_must_come_from(
    job_template: Template,
):
    _, completion = function(job_template, JOB_COMPLETION_FUNCTION)

    environment = completion["Properties"]["Environment"]["Variables"]

    assert environment["PIE_ACCOUNT_ID"] == {"Ref": "AWS::AccountId"}


@pytest.mark.parametrize("type_", sorted(KINDS))
def test_the_dispatcher_holds_each_kinds_start_statements(job_template: Template, type_: str):
    """The stack iterates the registry: whatever a kind's starter needs is on the dispatcher."""
    granted = function_statements(job_template, DISPATCHER_FUNCTION)
    allow = HandlerAllowList.model_validate(HANDLER_ALLOW_LIST)
    for declared in KINDS[type_].dispatcher_statements(allow, tuple(ECS_PASS_ROLE_ARNS)):
        assert holds(granted, declared), declared

"""The functions: one per route (plus the job functions whose code exists), built alike, each with
only the permissions its route needs."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Template
from stack_queries import (
    actions,
    all_actions,
    every_statement,
    function,
    function_statements,
    functions_by_name,
    get_att,
    live_alias,
    only,
    pie_resources,
    ref,
    refers_to,
    rendered,
    resources,
    role_of,
    statements_with,
)

from infra.app import FUNCTIONS_DIR
from infra.constructs.route_functions import discover_function_folders
from infra.function_profiles import (
    DISPATCHER_FUNCTION,
    JOB_COMPLETION_FUNCTION,
    SWEEPER_FUNCTION,
    WEBHOOK_DELIVERY_FUNCTION,
)
from shared.observability import SERVICE
from shared.routes import ROUTES
from shared.settings import ApiSettings

JOB_FUNCTIONS = {DISPATCHER_FUNCTION, JOB_COMPLETION_FUNCTION, SWEEPER_FUNCTION, WEBHOOK_DELIVERY_FUNCTION}
READ_ACTIONS = {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"}
WRITE_ACTIONS = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
}
# Actions IAM offers no resource-level permissions for: the only ones allowed on Resource "*".
# Actions that support no resource-level permissions at all.
UNSCOPED_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "dynamodb:ListStreams",
    "ecs:DescribeTaskDefinition",
}
HTTP_API_INTEGRATION_TIMEOUT_SECONDS = 30


def _is_list(route) -> bool:
    return not route.public and route.method == "GET" and not route.path.endswith("}")


def _dynamodb_actions(template: Template, name: str) -> set[str]:
    return {a for a in all_actions(function_statements(template, name)) if a.startswith("dynamodb:")}


def test_every_route_has_its_function_folder_and_every_folder_is_a_route_or_a_job_function():
    folders = discover_function_folders(FUNCTIONS_DIR)
    route_functions = {route.function for route in ROUTES}
    assert route_functions <= folders, f"routes without code: {sorted(route_functions - folders)}"
    unrouted = folders - route_functions - JOB_FUNCTIONS
    assert not unrouted, f"functions/ folders no route deploys: {sorted(unrouted)}"


def test_the_stack_deploys_exactly_the_route_functions_and_the_job_functions_whose_code_exists(
    template: Template,
):
    present_job_functions = JOB_FUNCTIONS & discover_function_folders(FUNCTIONS_DIR)
    assert set(functions_by_name(template)) == {route.function for route in ROUTES} | present_job_functions


def test_every_function_is_built_alike_by_the_factory(job_template: Template):
    (layer_id,) = pie_resources(job_template, "AWS::Lambda::LayerVersion")
    log_groups = resources(job_template, "AWS::Logs::LogGroup")
    for name, (_, resource) in functions_by_name(job_template).items():
        properties = resource["Properties"]
        version = tuple(int(part) for part in properties["Runtime"].removeprefix("python").split("."))
        assert version >= (3, 12), name
        assert properties["Architectures"] == ["arm64"], name
        assert properties["TracingConfig"] == {"Mode": "Active"}, name
        assert properties["Layers"] == [ref(layer_id)], name
        log_group_id = properties["LoggingConfig"]["LogGroup"]["Ref"]
        assert log_groups[log_group_id]["Properties"]["RetentionInDays"] > 0, name
        environment = properties["Environment"]["Variables"]
        assert environment["POWERTOOLS_SERVICE_NAME"] == SERVICE, name
        assert {"POWERTOOLS_METRICS_NAMESPACE", "LOG_LEVEL", "PIE_HANDLER_ALLOW_LIST"} <= set(environment)
        assert "PIE_PAGE_TOKEN_KEY" not in environment, "the signing key never sits in the environment"
        # Every function that checks a caller reads the same workspace settings.
        assert (environment["PIE_WORKSPACES_CLAIM"], environment["PIE_PRIVATE_READS"]) == ("pie:workspaces", "false")


def test_every_function_reads_the_table_name_and_the_allow_list_the_api_validates_against(
    job_template: Template,
):
    table_id, _ = only(job_template, "AWS::DynamoDB::Table")
    allow_lists = set()
    for name, (_, resource) in functions_by_name(job_template).items():
        environment = resource["Properties"]["Environment"]["Variables"]
        assert environment["PIE_TABLE_NAME"] == ref(table_id), name
        allow_lists.add(environment["PIE_HANDLER_ALLOW_LIST"])
    assert len(allow_lists) == 1


RESOLVED = {json.dumps({"Ref": "AWS::AccountId"}): "123456789012"}


def test_every_route_function_environment_satisfies_the_settings_the_functions_read(template: Template):
    for route in ROUTES:
        _, resource = function(template, route.function)
        deployed = resource["Properties"]["Environment"]["Variables"]
        # CloudFormation resolves references at deploy time (AWS::AccountId to 12 digits); Lambda
        # sets AWS_REGION itself.
        environment = {
            key: value if isinstance(value, str) else RESOLVED.get(json.dumps(value), f"resolved-{key}")
            for key, value in deployed.items()
        }
        settings = ApiSettings.from_environ({**environment, "AWS_REGION": "eu-west-1"})
        assert settings.page_token_key is None, "deployed functions read the key from Secrets Manager"
        assert settings.handler_allow_list().partitions, "the deployed allow-list validates (on first use)"


def test_route_functions_answer_within_the_http_api_integration_timeout(template: Template):
    for route in ROUTES:
        _, resource = function(template, route.function)
        assert resource["Properties"]["Timeout"] < HTTP_API_INTEGRATION_TIMEOUT_SECONDS, route.function


def test_every_function_has_a_role_of_its_own(job_template: Template):
    roles = [role_of(resource) for _, resource in functions_by_name(job_template).values()]
    assert len(roles) == len(set(roles))


def test_read_routes_can_only_read_the_table_and_its_indexes(template: Template):
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    for route in (route for route in ROUTES if route.read_only and not route.public):
        granted = function_statements(template, route.function)
        assert _dynamodb_actions(template, route.function) == READ_ACTIONS, route.function
        for statement in statements_with(granted, "dynamodb:Query"):
            readable = {rendered(resource) for resource in statement["Resource"]}
            assert readable == {
                f"${{{table_id}.Arn}}",
                *(f"${{{table_id}.Arn}}/index/{index}" for index in ("LSI1", "GSI1", "GSI2", "GSI3")),
            }


def test_a_public_route_function_can_reach_neither_the_table_nor_the_page_token_key(template: Template):
    public = [route for route in ROUTES if route.public]
    assert public
    for route in public:
        granted = all_actions(function_statements(template, route.function))
        assert not {action for action in granted if action.split(":")[0] in ("dynamodb", "secretsmanager")}, route


def test_write_routes_write_only_the_table_itself(template: Template):
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    for route in (route for route in ROUTES if not route.read_only):
        assert _dynamodb_actions(template, route.function) == READ_ACTIONS | WRITE_ACTIONS, route.function
        for statement in statements_with(function_statements(template, route.function), "dynamodb:PutItem"):
            assert statement["Resource"] == get_att(table_id, "Arn")
            assert set(actions(statement)) == WRITE_ACTIONS


def test_every_function_names_the_page_token_key_but_only_list_routes_may_read_it(template: Template):
    secret_id, _ = only(template, "AWS::SecretsManager::Secret")
    for name, (_, resource) in functions_by_name(template).items():
        environment = resource["Properties"]["Environment"]["Variables"]
        assert environment["PIE_PAGE_TOKEN_SECRET_ARN"] == ref(secret_id), name
    for route in ROUTES:
        granted = function_statements(template, route.function)
        secret_reads = statements_with(granted, "secretsmanager:GetSecretValue")
        if _is_list(route):
            assert [statement["Resource"] for statement in secret_reads] == [ref(secret_id)], route.function
            assert all(actions(statement) == ["secretsmanager:GetSecretValue"] for statement in secret_reads)
        else:
            assert secret_reads == [], route.function
    assert any(_is_list(route) for route in ROUTES)


def test_the_page_token_key_is_generated_not_written_in_the_template(template: Template):
    _, secret = only(template, "AWS::SecretsManager::Secret")
    generated = secret["Properties"]["GenerateSecretString"]
    assert generated["PasswordLength"] >= 32
    assert "SecretString" not in secret["Properties"]


def test_each_function_writes_logs_only_to_its_own_log_group(job_template: Template):
    for name, (_, resource) in functions_by_name(job_template).items():
        log_group_id = resource["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        log_writes = statements_with(function_statements(job_template, name), "logs:PutLogEvents")
        assert [statement["Resource"] for statement in log_writes] == [get_att(log_group_id, "Arn")], name


@pytest.mark.parametrize("stack", ["template", "job_template"])
def test_no_statement_grants_a_wildcard_action(stack: str, request: pytest.FixtureRequest):
    for statement in every_statement(request.getfixturevalue(stack)):
        wildcard = [action for action in actions(statement) if "*" in action]
        assert not wildcard, statement


@pytest.mark.parametrize("stack", ["template", "job_template"])
def test_resource_star_is_granted_only_for_actions_without_resource_level_permissions(
    stack: str, request: pytest.FixtureRequest
):
    for statement in every_statement(request.getfixturevalue(stack)):
        if statement["Resource"] == "*" or "*" in statement["Resource"]:
            assert set(actions(statement)) <= UNSCOPED_ACTIONS, statement


def test_every_function_runs_with_snapstart_behind_a_live_alias_on_its_published_version(
    job_template: Template,
):
    versions = resources(job_template, "AWS::Lambda::Version")
    aliases = resources(job_template, "AWS::Lambda::Alias")
    for name, (function_id, resource) in functions_by_name(job_template).items():
        assert resource["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}, name
        alias = aliases[live_alias(job_template, name)]["Properties"]
        version_id = alias["FunctionVersion"]["Fn::GetAtt"][0]
        assert versions[version_id]["Properties"]["FunctionName"] == ref(function_id), name
        # Each kept version keeps a billed snapshot: a superseded one is deleted.
        assert versions[version_id]["DeletionPolicy"] == "Delete", name


def test_only_the_live_alias_is_ever_invoked(job_template: Template):
    """Invoking the bare function would run $LATEST, which SnapStart never snapshots."""
    functions = set(resources(job_template, "AWS::Lambda::Function"))
    for permission in resources(job_template, "AWS::Lambda::Permission").values():
        target = permission["Properties"]["FunctionName"]
        assert not (isinstance(target, dict) and "Fn::GetAtt" in target and target["Fn::GetAtt"][0] in functions)
    aliases = resources(job_template, "AWS::Lambda::Alias")
    for mapping in resources(job_template, "AWS::Lambda::EventSourceMapping").values():
        assert any(refers_to(mapping["Properties"]["FunctionName"], alias_id) for alias_id in aliases)
    for rule in resources(job_template, "AWS::Events::Rule").values():
        for target in rule["Properties"].get("Targets", []):
            assert "Fn::GetAtt" not in target["Arn"] or target["Arn"]["Fn::GetAtt"][0] not in functions


def test_functions_skip_the_pydantic_plugin_scan(job_template: Template):
    for name, (_, resource) in functions_by_name(job_template).items():
        assert resource["Properties"]["Environment"]["Variables"]["PYDANTIC_DISABLE_PLUGINS"] == "__all__", name

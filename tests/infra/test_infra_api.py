"""The HTTP API: the route table's routes and nothing else, each behind the JWT authorizer."""

from __future__ import annotations

import json

from aws_cdk.assertions import Template
from stack_queries import live_alias, only, ref, resources
from synthesis_context import AUDIENCE, ISSUER

from shared.routes import ROUTES


def _routes_by_key(template: Template) -> dict[str, dict]:
    return {
        route["Properties"]["RouteKey"]: route["Properties"]
        for route in resources(template, "AWS::ApiGatewayV2::Route").values()
    }


def test_the_api_serves_exactly_the_routes_of_the_route_table(template: Template):
    assert set(_routes_by_key(template)) == {route.route_key for route in ROUTES}


def test_every_route_requires_a_jwt_with_the_routes_scope(template: Template):
    authorizer_id, _ = only(template, "AWS::ApiGatewayV2::Authorizer")
    routes = _routes_by_key(template)
    for route in (route for route in ROUTES if not route.public):
        deployed = routes[route.route_key]
        assert deployed["AuthorizationType"] == "JWT", route.route_key
        assert deployed["AuthorizerId"] == ref(authorizer_id), route.route_key
        assert deployed["AuthorizationScopes"] == [route.scope], route.route_key


def test_only_the_public_routes_of_the_route_table_are_open_and_only_the_document_is_public(template: Template):
    routes = _routes_by_key(template)
    public = [route for route in ROUTES if route.public]
    assert [route.route_key for route in public] == ["GET /v2/openapi.json"]
    for route in public:
        deployed = routes[route.route_key]
        assert deployed.get("AuthorizationType", "NONE") == "NONE"
        assert "AuthorizerId" not in deployed and "AuthorizationScopes" not in deployed


def test_the_authorizer_checks_the_configured_issuer_and_audience_on_the_bearer_token(template: Template):
    _, authorizer = only(template, "AWS::ApiGatewayV2::Authorizer")
    properties = authorizer["Properties"]
    assert properties["AuthorizerType"] == "JWT"
    assert properties["IdentitySource"] == ["$request.header.Authorization"]
    assert properties["JwtConfiguration"] == {"Issuer": ISSUER, "Audience": AUDIENCE}


def test_every_route_invokes_its_own_function_with_payload_format_2(template: Template):
    integrations = resources(template, "AWS::ApiGatewayV2::Integration")
    routes = _routes_by_key(template)
    for route in ROUTES:
        target = routes[route.route_key]["Target"]["Fn::Join"][1][1]["Ref"]
        integration = integrations[target]["Properties"]
        assert integration["IntegrationType"] == "AWS_PROXY"
        assert integration["PayloadFormatVersion"] == "2.0"
        # The alias, so requests run the SnapStart version and never $LATEST.
        assert integration["IntegrationUri"] == ref(live_alias(template, route.function)), route.route_key


def test_only_the_api_may_invoke_a_route_function_and_only_through_its_route(template: Template):
    api_id, _ = only(template, "AWS::ApiGatewayV2::Api")
    permissions = resources(template, "AWS::Lambda::Permission").values()
    for route in ROUTES:
        granted = [
            permission["Properties"]
            for permission in permissions
            if permission["Properties"]["FunctionName"] == ref(live_alias(template, route.function))
        ]
        assert len(granted) == 1, route.function
        assert granted[0]["Principal"] == "apigateway.amazonaws.com"
        source_arn = json.dumps(granted[0]["SourceArn"])
        assert api_id in source_arn and route.path in source_arn, route.route_key


def test_the_default_stage_writes_json_access_logs_and_throttles(template: Template):
    _, stage = only(template, "AWS::ApiGatewayV2::Stage")
    properties = stage["Properties"]
    assert properties["StageName"] == "$default"
    assert properties["AutoDeploy"] is True
    log_group_id = properties["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"][0]
    assert resources(template, "AWS::Logs::LogGroup")[log_group_id]["Properties"]["RetentionInDays"] > 0
    log_format = json.loads(properties["AccessLogSettings"]["Format"])
    assert log_format["requestId"] == "$context.requestId"
    assert {"routeKey", "status", "principal", "authorizerError"} <= set(log_format)
    throttle = properties["DefaultRouteSettings"]
    assert throttle["ThrottlingRateLimit"] > 0
    assert throttle["ThrottlingBurstLimit"] >= throttle["ThrottlingRateLimit"]


def test_outputs_name_the_api_url_and_the_table(template: Template):
    api_id, _ = only(template, "AWS::ApiGatewayV2::Api")
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    outputs = template.to_json()["Outputs"]
    assert api_id in json.dumps(outputs["ApiUrl"]["Value"])
    assert outputs["TableName"]["Value"] == ref(table_id)

"""The HTTP API: one route per row of the route table, each behind the JWT authorizer with its scope
(a public row, the OpenAPI document, has none)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import jsii
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.config import DeploymentConfig
from infra.constructs.route_functions import LOG_RETENTION, construct_name
from shared.routes import Route

# One JSON line per request: who called which route, the outcome, and why a request was refused.
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "latencyMs": "$context.responseLatency",
    "principal": "$context.authorizer.claims.sub",
    "authorizerError": "$context.authorizer.error",
    "integrationError": "$context.integrationErrorMessage",
}


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    def __init__(self, destination: apigwv2.IAccessLogDestination, log_format: apigateway.AccessLogFormat):
        self._destination = destination
        self._format = log_format

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return self._format


class RegistryApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        routes: Sequence[Route],
        functions: Mapping[str, lambda_.IFunction],
        config: DeploymentConfig,
    ) -> None:
        super().__init__(scope, construct_id)
        # With a custom domain the default execute-api endpoint is switched off: the domain's TLS
        # policy and its name are then the only way in (docs/decisions.md).
        self.http_api = apigwv2.HttpApi(
            self,
            "HttpApi",
            description="PIE model registry",
            create_default_stage=False,
            disable_execute_api_endpoint=config.api_domain is not None,
        )
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=LOG_RETENTION)
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            stage_name="$default",
            auto_deploy=True,
            access_log_settings=_AccessLogSettings(
                apigwv2.LogGroupLogDestination(self.access_logs),
                apigateway.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FORMAT)),
            ),
            throttle=apigwv2.ThrottleSettings(rate_limit=config.api_rate_limit, burst_limit=config.api_burst_limit),
        )
        self._custom_domain = config.api_domain.name if config.api_domain is not None else None
        self.domain_name: apigwv2.DomainName | None = None
        if config.api_domain is not None:
            self.domain_name = apigwv2.DomainName(
                self,
                "DomainName",
                domain_name=config.api_domain.name,
                certificate=acm.Certificate.from_certificate_arn(
                    self, "Certificate", config.api_domain.certificate_arn
                ),
                security_policy=apigwv2.SecurityPolicy.TLS_1_2,
            )
            apigwv2.ApiMapping(self, "ApiMapping", api=self.http_api, domain_name=self.domain_name, stage=self.stage)
        self.authorizer = authorizers.HttpJwtAuthorizer(
            "JwtAuthorizer",
            config.jwt_issuer,
            jwt_audience=list(config.jwt_audience),
            authorizer_name="pie-jwt",
        )
        for route in routes:
            name = construct_name(route.function)
            http_route = apigwv2.HttpRoute(
                self,
                f"{name}Route",
                http_api=self.http_api,
                route_key=apigwv2.HttpRouteKey.with_(route.path, apigwv2.HttpMethod(route.method)),
                integration=integrations.HttpLambdaIntegration(f"{name}Integration", functions[route.function]),
                authorizer=apigwv2.HttpNoneAuthorizer() if route.public else self.authorizer,
                authorization_scopes=None if route.public else [route.scope],
            )
            if route.public:
                NagSuppressions.add_resource_suppressions(
                    http_route,
                    [
                        NagPackSuppression(
                            id="AwsSolutions-APIG4",
                            reason=(
                                f"{route.route_key} is public by design: it serves the published "
                                "OpenAPI document, which clients read before they hold a token. Its "
                                "function reads no table and no secret; every other route requires "
                                "the JWT authorizer with its scope."
                            ),
                        )
                    ],
                )

    @property
    def endpoint(self) -> str:
        """``https://<host>``: the custom domain when there is one, else the execute-api endpoint."""
        if self._custom_domain is not None:
            return f"https://{self._custom_domain}"
        return self.http_api.api_endpoint

    @property
    def url(self) -> str:
        return f"{self.endpoint}/" if self._custom_domain is not None else self.stage.url

"""Custom domains: with one for the API its default execute-api endpoint is disabled (and the
console reaches the API through the domain); with one for the console, CloudFront serves it with
that certificate and TLSv1.2_2021 as the viewers' minimum. Without them nothing changes."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from stack_queries import only, rendered, resources
from synthesis_context import TEST_CONTEXT

from infra.app import build_stack, project_context
from infra.config import DeploymentConfig, DeploymentConfigError
from shared.routes import ROUTES

API_DOMAIN = "api.pie.example.com"
API_CERTIFICATE = "arn:aws:acm:eu-west-1:111122223333:certificate/11111111-2222-3333-4444-555555555555"
CONSOLE_DOMAIN = "console.pie.example.com"
CONSOLE_CERTIFICATE = "arn:aws:acm:us-east-1:111122223333:certificate/66666666-7777-8888-9999-000000000000"


@pytest.fixture(scope="module")
def domains_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    workdir = tmp_path_factory.mktemp("cdk-domains")
    context = {
        **TEST_CONTEXT,
        "apiDomainName": API_DOMAIN,
        "apiCertificateArn": API_CERTIFICATE,
        "consoleDomainName": CONSOLE_DOMAIN,
        "consoleCertificateArn": CONSOLE_CERTIFICATE,
    }
    app = cdk.App(outdir=str(workdir / "cdk.out"), context=project_context(context))
    stack = build_stack(app, build_dir=workdir / "build", function_folders={route.function for route in ROUTES})
    return Template.from_stack(stack)


def test_without_a_custom_domain_the_execute_api_endpoint_stays_on(template: Template):
    _, api = only(template, "AWS::ApiGatewayV2::Api")
    assert not api["Properties"].get("DisableExecuteApiEndpoint", False)
    assert resources(template, "AWS::ApiGatewayV2::DomainName") == {}


def test_with_a_custom_domain_the_api_answers_only_there_over_tls_1_2(domains_template: Template):
    _, api = only(domains_template, "AWS::ApiGatewayV2::Api")
    _, domain = only(domains_template, "AWS::ApiGatewayV2::DomainName")
    _, mapping = only(domains_template, "AWS::ApiGatewayV2::ApiMapping")

    assert api["Properties"]["DisableExecuteApiEndpoint"] is True
    assert domain["Properties"]["DomainName"] == API_DOMAIN
    (configuration,) = domain["Properties"]["DomainNameConfigurations"]
    assert configuration["CertificateArn"] == API_CERTIFICATE
    assert configuration["SecurityPolicy"] == "TLS_1_2"
    assert mapping["Properties"]["Stage"]


def test_the_console_reaches_the_api_through_its_custom_domain(domains_template: Template):
    _, distribution = only(domains_template, "AWS::CloudFront::Distribution")
    origins = distribution["Properties"]["DistributionConfig"]["Origins"]
    api_origins = [o for o in origins if "CustomOriginConfig" in o]
    assert [rendered(o["DomainName"]) for o in api_origins] == [API_DOMAIN]
    outputs = domains_template.to_json()["Outputs"]
    assert rendered(outputs["ApiUrl"]["Value"]) == f"https://{API_DOMAIN}/"


def test_with_a_custom_certificate_the_console_requires_tls_1_2_2021(domains_template: Template):
    _, distribution = only(domains_template, "AWS::CloudFront::Distribution")
    config = distribution["Properties"]["DistributionConfig"]
    assert config["Aliases"] == [CONSOLE_DOMAIN]
    assert config["ViewerCertificate"] == {
        "AcmCertificateArn": CONSOLE_CERTIFICATE,
        "MinimumProtocolVersion": "TLSv1.2_2021",
        "SslSupportMethod": "sni-only",
    }


@pytest.mark.parametrize(
    "context",
    [
        {"apiDomainName": API_DOMAIN},
        {"consoleCertificateArn": CONSOLE_CERTIFICATE},
        {"apiDomainName": "not a domain", "apiCertificateArn": API_CERTIFICATE},
        {"consoleDomainName": CONSOLE_DOMAIN, "consoleCertificateArn": "arn:aws:iam::1:role/x"},
    ],
    ids=["domain-without-certificate", "certificate-without-domain", "bad-domain", "bad-certificate"],
)
def test_a_custom_domain_needs_its_name_and_an_acm_certificate(context: dict):
    with pytest.raises(DeploymentConfigError):
        DeploymentConfig.from_context({**TEST_CONTEXT, **context}.get)

"""The console's static site: private bucket, CloudFront with origin access control, HTTPS only,
strict security headers, PIE's API on the same origin, and a config.json for the PKCE sign-in."""

from __future__ import annotations

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Match, Template
from stack_queries import only, resources
from synthesis_context import AUDIENCE, ISSUER, TEST_CONTEXT

from infra.config import DEFAULT_CONSOLE_SCOPES, DeploymentConfig, DeploymentConfigError
from infra.constructs.console import API_PATH_PATTERN


def _distribution(template: Template) -> dict:
    return only(template, "AWS::CloudFront::Distribution")[1]["Properties"]["DistributionConfig"]


def _security_headers(template: Template) -> dict:
    _, policy = only(template, "AWS::CloudFront::ResponseHeadersPolicy")
    return policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]


def _site_bucket(template: Template) -> tuple[str, dict]:
    found = {
        key: value for key, value in resources(template, "AWS::S3::Bucket").items() if key.startswith("ConsoleFiles")
    }
    assert len(found) == 1, found
    return next(iter(found.items()))


def test_the_site_bucket_is_private_encrypted_and_tls_only(template: Template):
    bucket_id, bucket = _site_bucket(template)
    properties = bucket["Properties"]

    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_only_cloudfront_reads_the_bucket_through_origin_access_control(template: Template):
    oac_id, oac = only(template, "AWS::CloudFront::OriginAccessControl")
    bucket_id, _ = _site_bucket(template)
    s3_origins = [origin for origin in _distribution(template)["Origins"] if "S3OriginConfig" in origin]

    assert oac["Properties"]["OriginAccessControlConfig"]["OriginAccessControlOriginType"] == "s3"
    assert oac["Properties"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    assert len(s3_origins) == 1
    assert s3_origins[0]["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert s3_origins[0]["S3OriginConfig"]["OriginAccessIdentity"] == ""
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "cloudfront.amazonaws.com"},
                                "Action": "s3:GetObject",
                            }
                        )
                    ]
                )
            },
        },
    )


def test_viewers_are_sent_to_https_and_the_api_is_https_only(template: Template):
    distribution = _distribution(template)
    api_behavior = next(b for b in distribution["CacheBehaviors"] if b["PathPattern"] == API_PATH_PATTERN)

    assert distribution["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert api_behavior["ViewerProtocolPolicy"] == "https-only"
    assert distribution["DefaultRootObject"] == "index.html"
    api_origin = next(o for o in distribution["Origins"] if o["Id"] == api_behavior["TargetOriginId"])
    assert api_origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"


def test_the_api_behaviour_forwards_the_token_and_caches_nothing(template: Template):
    api_behavior = next(b for b in _distribution(template)["CacheBehaviors"] if b["PathPattern"] == API_PATH_PATTERN)
    policy_id = api_behavior["CachePolicyId"]["Ref"]
    policy = resources(template, "AWS::CloudFront::CachePolicy")[policy_id]["Properties"]["CachePolicyConfig"]

    assert policy["DefaultTTL"] == 0 and policy["MinTTL"] == 0
    assert policy["ParametersInCacheKeyAndForwardedToOrigin"]["HeadersConfig"]["Headers"] == ["Authorization"]
    assert set(api_behavior["AllowedMethods"]) >= {"GET", "POST", "PUT", "DELETE"}


def test_every_response_carries_strict_security_headers(template: Template):
    headers = _security_headers(template)

    assert headers["StrictTransportSecurity"] == {
        "AccessControlMaxAgeSec": 730 * 86400,
        "IncludeSubdomains": True,
        "Preload": True,
        "Override": True,
    }
    assert headers["ContentTypeOptions"] == {"Override": True}
    assert headers["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    assert headers["ReferrerPolicy"] == {"ReferrerPolicy": "no-referrer", "Override": True}
    for behavior in [
        _distribution(template)["DefaultCacheBehavior"],
        *_distribution(template)["CacheBehaviors"],
    ]:
        assert "ResponseHeadersPolicyId" in behavior


def test_the_content_security_policy_allows_only_the_console_its_api_and_the_issuer(template: Template):
    policy = _security_headers(template)["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    directives = dict(directive.strip().split(" ", 1) for directive in policy.split(";") if " " in directive.strip())

    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self' https://issuer.example.com"
    assert directives["frame-ancestors"] == "'none'"
    assert "*" not in policy and "unsafe" not in policy


def test_the_console_files_and_its_config_are_deployed_to_the_bucket(synthesized, template: Template):
    _, deployment = only(template, "Custom::CDKBucketDeployment")
    bucket_id, _ = _site_bucket(template)
    site = synthesized.deployed.node.find_child("Console")
    config = Stack.of(site).resolve(site.site_config)

    assert deployment["Properties"]["DestinationBucketName"] == {"Ref": bucket_id}
    assert len(deployment["Properties"]["SourceObjectKeys"]) == 3
    assert deployment["Properties"]["DistributionPaths"] == ["/*"]
    assert config["api_url"] == ""
    assert config["auth"]["mode"] == "oidc"
    assert config["auth"]["issuer"] == ISSUER
    assert config["auth"]["client_id"] == AUDIENCE[0]
    assert config["auth"]["scope"] == DEFAULT_CONSOLE_SCOPES
    domain = {"Fn::GetAtt": [only(template, "AWS::CloudFront::Distribution")[0], "DomainName"]}
    assert config["auth"]["redirect_uri"] == {"Fn::Join": ["", ["https://", domain, "/"]]}


def test_the_stack_prints_the_console_url(template: Template):
    assert "ConsoleUrl" in template.to_json()["Outputs"]


def _config(**overrides: object) -> DeploymentConfig:
    return DeploymentConfig.from_context({**TEST_CONTEXT, **overrides}.get)


def test_the_console_sign_in_settings_come_from_context():
    config = _config(
        consoleClientId="console-app",
        consoleRedirectUrl="https://pie.example.com/",
        consoleScopes="openid pie/models:read",
        consoleIdentityOrigins="https://auth.example.com",
    )

    assert config.console_client_id == "console-app"
    assert config.console_redirect_url == "https://pie.example.com/"
    assert config.console_scopes == "openid pie/models:read"
    assert config.console_identity_origins == ("https://auth.example.com",)


@pytest.mark.parametrize("key", ["consoleRedirectUrl", "consoleIdentityOrigins"])
def test_console_urls_must_be_https(key: str):
    with pytest.raises(DeploymentConfigError, match=key):
        _config(**{key: "http://pie.example.com/"})

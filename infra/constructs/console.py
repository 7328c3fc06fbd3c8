"""The console as a static site: a private bucket behind CloudFront, with strict security headers.

The bucket is reachable only through the distribution (origin access control); viewers are sent to
HTTPS; every response carries HSTS, nosniff, DENY framing, no referrer and a Content-Security-Policy
whose ``connect-src`` names only the console's own origin and the identity provider it signs in with.
PIE's API is on that same origin: the distribution passes ``/v2/*`` to the HTTP API uncached, so
the page needs no CORS (an API that allowed the distribution's origin, while the distribution's
policy named the API, would be a dependency cycle). The site's files are the ``console/`` folder
plus a generated ``config.json`` (how to sign in) and the OpenAPI document of this checkout (the
page uses routes only when it lists them).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from aws_cdk import Duration, Fn, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

from infra.config import DeploymentConfig

# Files in console/ that are not the site: the folder is also a Python package (for pie-local).
NOT_SITE_FILES = ["*.py", "__pycache__", "__pycache__/*"]
HSTS_MAX_AGE = Duration.days(730)
# BucketDeployment's handler is a singleton at the stack's root, under this id (its memory size appended).
BUCKET_DEPLOYMENT_HANDLER = "Custom::CDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756C256MiB"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


API_PATH_PATTERN = "/v2/*"


def content_security_policy(identity_origins: list[str]) -> str:
    connect = " ".join(["'self'", *identity_origins])
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {connect}; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'; upgrade-insecure-requests"
    )


class ConsoleSite(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        api_endpoint: str,
        site_dir: Path,
        openapi_document: Path,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Files",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
        )
        identity_origins = sorted({origin_of(config.jwt_issuer), *config.console_identity_origins})
        self.headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="PIE console: strict security headers",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(identity_origins),
                    override=True,
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=HSTS_MAX_AGE, include_subdomains=True, preload=True, override=True
                ),
            ),
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="PIE console",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.headers,
            ),
            additional_behaviors={API_PATH_PATTERN: self._api_behavior(api_endpoint)},
            # Applies with a custom certificate only: on CloudFront's default one (*.cloudfront.net)
            # CloudFront keeps its own policy, which still accepts TLSv1 (docs/decisions.md).
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            domain_names=[config.console_domain.name] if config.console_domain else None,
            certificate=acm.Certificate.from_certificate_arn(self, "Certificate", config.console_domain.certificate_arn)
            if config.console_domain
            else None,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
        )
        host = config.console_domain.name if config.console_domain else self.distribution.distribution_domain_name
        self.url = f"https://{host}/"
        self.origin = f"https://{host}"
        self.site_config = {
            "api_url": "",
            "auth": {
                "mode": "oidc",
                "issuer": config.jwt_issuer,
                "client_id": config.console_client_id or config.jwt_audience[0],
                "redirect_uri": config.console_redirect_url or self.url,
                "scope": config.console_scopes,
            },
        }
        s3deploy.BucketDeployment(
            self,
            "Deployment",
            destination_bucket=self.bucket,
            sources=[
                s3deploy.Source.asset(str(site_dir), exclude=NOT_SITE_FILES),
                s3deploy.Source.json_data("config.json", self.site_config),
                s3deploy.Source.data("openapi.json", openapi_document.read_text()),
            ],
            # A new release is seen at once, not when the edge caches expire.
            distribution=self.distribution,
            distribution_paths=["/*"],
            memory_limit=256,
        )
        self._explain_findings(default_certificate=config.console_domain is None)

    def _api_behavior(self, api_endpoint: str) -> cloudfront.BehaviorOptions:
        """PIE's API passed through: every method, header (but Host) and query; nothing kept."""
        # CloudFront forwards Authorization only when it is part of the cache key, and a cache key
        # needs a TTL above zero; with no Cache-Control from the API the default of 0 applies.
        pass_through = cloudfront.CachePolicy(
            self,
            "ApiPassThrough",
            comment="PIE API through the console's distribution: not cached",
            default_ttl=Duration.seconds(0),
            min_ttl=Duration.seconds(0),
            max_ttl=Duration.seconds(1),
            header_behavior=cloudfront.CacheHeaderBehavior.allow_list("Authorization"),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.all(),
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
        )
        api_domain = Fn.select(2, Fn.split("/", api_endpoint))
        return cloudfront.BehaviorOptions(
            origin=origins.HttpOrigin(api_domain, protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY),
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            cache_policy=pass_through,
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            response_headers_policy=self.headers,
        )

    def _explain_findings(self, *, default_certificate: bool) -> None:
        static_only = (
            "The console is static HTML, CSS and JavaScript with no personal data; every call it "
            "makes lands in the API's own access log"
        )
        NagSuppressions.add_resource_suppressions(
            self.bucket,
            [
                NagPackSuppression(
                    id="AwsSolutions-S1", reason=f"{static_only}, so S3 server access logs would add nothing."
                )
            ],
        )
        NagSuppressions.add_resource_suppressions(
            self.distribution,
            [
                NagPackSuppression(
                    id="AwsSolutions-CFR1",
                    reason="PIE's teams work from anywhere; the API's JWT authorizer, not geography, decides who may act.",
                ),
                NagPackSuppression(
                    id="AwsSolutions-CFR2",
                    reason=f"{static_only}; the API is throttled per stage, and a WAF in front of static files adds cost without protecting data.",
                ),
                NagPackSuppression(
                    id="AwsSolutions-CFR3",
                    reason=f"{static_only}, so CloudFront access logs would record only page loads of public assets.",
                ),
            ],
        )
        if default_certificate:
            NagSuppressions.add_resource_suppressions(
                self.distribution,
                [
                    NagPackSuppression(
                        id="AwsSolutions-CFR4",
                        reason="The distribution uses CloudFront's default certificate, which fixes the viewer TLS policy; set consoleDomainName and consoleCertificateArn to enforce TLSv1.2_2021 (docs/deploy.md).",
                    )
                ],
            )
        stack = Stack.of(self)
        NagSuppressions.add_resource_suppressions_by_path(
            stack,
            f"{stack.node.path}/{BUCKET_DEPLOYMENT_HANDLER}",
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM4",
                    reason="CDK's BucketDeployment handler writes its logs with the AWS-managed basic execution policy; it runs only during deployments.",
                    applies_to=[
                        "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
                    ],
                ),
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason=(
                        "CDK's BucketDeployment handler copies the site's files: it needs every object of "
                        "the asset bucket it reads and of the console bucket it writes, and invalidates the "
                        "distribution's cache (cloudfront:CreateInvalidation has no resource-level scope)."
                    ),
                    applies_to=[
                        "Action::s3:GetBucket*",
                        "Action::s3:GetObject*",
                        "Action::s3:List*",
                        "Action::s3:Abort*",
                        "Action::s3:DeleteObject*",
                        RegexAppliesTo(regex=r"/^Resource::<ConsoleFiles[A-Za-z0-9]+\.Arn>\/\*$/g"),
                        "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*",
                        "Resource::*",
                    ],
                ),
                NagPackSuppression(
                    id="AwsSolutions-L1",
                    reason="The runtime of CDK's BucketDeployment handler is chosen by aws-cdk-lib and moves with it; it runs only during deployments.",
                ),
            ],
            apply_to_children=True,
        )

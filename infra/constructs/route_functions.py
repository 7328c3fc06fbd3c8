"""The function factory (the only Lambda definition in the app) and one function per route.

Every function PIE deploys, route or not, comes out of ``FunctionFactory.build``: the same runtime,
architecture, packaging, tracing, log group and environment, with its own role that holds only what
its profile (``infra.function_profiles``) grants.

Every function runs with SnapStart, which applies only to published versions: ``build`` publishes
the function's current version and returns the ``live`` alias pointing at it, and everything that
invokes a function (API integrations, the stream's event source mapping, EventBridge rules, handlers'
destinations) invokes that alias. Invoking the bare function would run ``$LATEST`` without a snapshot.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.config import DeploymentConfig
from infra.constructs.table import RegistryTable
from infra.function_profiles import FunctionProfile, route_profile
from shared.routes import Route
from shared.settings import LIBRARY_ENVIRONMENT

# cdk-nag's AwsSolutions-L1 holds the app to the newest Python runtime aws-cdk-lib knows.
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
SERVICE_NAME = "pie"
METRICS_NAMESPACE = "PIE"
# The resource metadata the SAM CLI identifies a function by, before its CDK path or logical id.
SAM_RESOURCE_ID = "SamResourceId"
# The alias every invoker targets: the version published (and snapshotted) by the latest deploy.
LIVE_ALIAS = "live"

_UNSCOPED_REASON = (
    "Resource '*' appears only for actions that have no resource-level permissions in IAM: X-Ray "
    "trace upload (xray:PutTraceSegments, xray:PutTelemetryRecords) on every function and "
    "dynamodb:ListStreams on the stream consumer. Every other statement names its resources."
)


def python_version(runtime: lambda_.Runtime = RUNTIME) -> str:
    """``python3.14`` -> ``3.14``: the version pip installs the dependency layer for."""
    return runtime.name.removeprefix("python")


def handler_path(function: str) -> str:
    return f"functions.{function}.handler.lambda_handler"


def construct_name(function: str) -> str:
    """``list_models`` -> ``ListModels``, for readable construct paths and logical ids."""
    return "".join(part.capitalize() for part in function.split("_"))


def discover_function_folders(functions_dir: Path) -> frozenset[str]:
    """The functions the code base has: every ``functions/<name>/handler.py``."""
    return frozenset(path.parent.name for path in functions_dir.glob("*/handler.py"))


@dataclass(frozen=True)
class FunctionAssets:
    """Directories of the code asset and of the dependency layer (see ``infra.bundling``)."""

    code_dir: Path
    layer_dir: Path


class FunctionFactory(Construct):
    """Owns what every function shares (code, dependency layer, page-token signing key, settings)
    and builds functions."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        assets: FunctionAssets,
        table: RegistryTable,
        config: DeploymentConfig,
    ) -> None:
        super().__init__(scope, construct_id)
        self._table = table
        self._config = config
        self._code = lambda_.Code.from_asset(str(assets.code_dir))
        self.dependencies = lambda_.LayerVersion(
            self,
            "Dependencies",
            code=lambda_.Code.from_asset(str(assets.layer_dir)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="PIE runtime dependencies from pyproject.toml",
        )
        self.page_token_key = secretsmanager.Secret(
            self,
            "PageTokenKey",
            description="PIE: HMAC key that signs list pagination tokens",
            generate_secret_string=secretsmanager.SecretStringGenerator(password_length=64, exclude_punctuation=True),
        )
        NagSuppressions.add_resource_suppressions(
            self.page_token_key,
            [
                NagPackSuppression(
                    id="AwsSolutions-SMG4",
                    reason=(
                        "Not a credential: an HMAC key that signs opaque pagination cursors, read "
                        "only by the list functions. Rotating it merely invalidates cursors in "
                        "flight (clients get a 400 and restart the list); rotate by updating the "
                        "secret value when needed."
                    ),
                )
            ],
        )

    def build(
        self,
        scope: Construct,
        function: str,
        profile: FunctionProfile,
        *,
        description: str,
    ) -> lambda_.Alias:
        """``functions/<function>`` as a Lambda function with its own role, log group and grants,
        behind its ``live`` alias (the alias is what callers wire to; ``alias.version.lambda_`` is
        the function).

        The function's construct id is its name in PascalCase (``GetModel``), and so is its
        ``SamResourceId``: ``sam local invoke GetModel`` finds it by that metadata, because SAM
        derives an id from a CDK path only for a function directly under its stack, and PIE's
        functions sit inside constructs (``Pie/RouteFunctions/GetModel``).
        """
        name = construct_name(function)
        log_group = logs.LogGroup(scope, f"{name}Logs", retention=LOG_RETENTION)
        role = iam.Role(
            scope,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"PIE {function}: {profile.kind} access",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            )
        )
        table = self._table.table
        if profile.table_read_actions:
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=list(profile.table_read_actions),
                    resources=[table.table_arn, *self._table.index_arns_of(profile.read_indexes)],
                )
            )
        if profile.table_write_actions:
            role.add_to_policy(
                iam.PolicyStatement(actions=list(profile.table_write_actions), resources=[table.table_arn])
            )
        if profile.reads_page_token_key:
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["secretsmanager:GetSecretValue"],
                    resources=[self.page_token_key.secret_arn],
                )
            )
        NagSuppressions.add_resource_suppressions(
            role,
            [NagPackSuppression(id="AwsSolutions-IAM5", reason=_UNSCOPED_REASON, applies_to=["Resource::*"])],
            apply_to_children=True,
        )
        lambda_function = lambda_.Function(
            scope,
            name,
            description=f"PIE {description}",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler_path(function),
            code=self._code,
            layers=[self.dependencies],
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            # Init (imports, and compiling every module from source: neither the code asset nor the
            # layer carries bytecode for the runtime's Python, and Lambda's filesystem is read-only)
            # runs once per published version instead of once per cold start.
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS,
            # A superseded version is deleted, not kept: each kept version's snapshot is billed.
            current_version_options=lambda_.VersionOptions(removal_policy=RemovalPolicy.DESTROY),
            memory_size=profile.memory_mb,
            timeout=Duration.seconds(profile.timeout_seconds),
            environment={
                "PIE_TABLE_NAME": table.table_name,
                "PIE_HANDLER_ALLOW_LIST": self._config.handler_allow_list_json,
                # The completion function accepts ECS task events of this account only.
                "PIE_ACCOUNT_ID": Aws.ACCOUNT_ID,
                "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "LOG_LEVEL": self._config.log_level,
                "PIE_MAX_CHAIN_DEPTH": str(self._config.max_chain_depth),
                "PIE_WORKSPACES_CLAIM": self._config.workspaces_claim,
                "PIE_PRIVATE_READS": "true" if self._config.private_reads else "false",
                # Every function's settings name the key; only list functions may read it.
                "PIE_PAGE_TOKEN_SECRET_ARN": self.page_token_key.secret_arn,
                **LIBRARY_ENVIRONMENT,
            },
        )
        lambda_function.node.default_child.add_metadata(SAM_RESOURCE_ID, name)
        return lambda_function.add_alias(LIVE_ALIAS)


class RouteFunctionsMissingError(ValueError):
    pass


class RouteFunctions(Construct):
    """One function per row of the route table."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        factory: FunctionFactory,
        routes: Sequence[Route],
        function_folders: Collection[str],
    ) -> None:
        super().__init__(scope, construct_id)
        missing = sorted(route.function for route in routes if route.function not in function_folders)
        if missing:
            raise RouteFunctionsMissingError(
                "the route table names functions with no functions/<name>/handler.py: " + ", ".join(missing)
            )
        self.functions: dict[str, lambda_.Alias] = {}
        for route in routes:
            self.functions[route.function] = factory.build(
                self, route.function, route_profile(route), description=route.route_key
            )

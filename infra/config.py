"""The deployment's settings, read once from CDK context and validated before anything is built.

Context comes from ``cdk.json``, ``-c key=value`` on the command line, or the tests. Values given on
the command line arrive as strings, so lists and objects are also accepted as JSON text. A missing or
invalid value stops the synth with a message that names the key and shows how to pass it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from shared.domain.access import DEFAULT_WORKSPACES_CLAIM
from shared.kinds.allow_list import HandlerAllowList

JWT_ISSUER = "jwtIssuer"
JWT_AUDIENCE = "jwtAudience"
HANDLER_ALLOW_LIST = "handlerAllowList"
ECS_PASS_ROLE_ARNS = "ecsPassRoleArns"
ALARM_EMAIL = "alarmEmail"
LOG_LEVEL = "logLevel"
API_RATE_LIMIT = "apiRateLimit"
API_BURST_LIMIT = "apiBurstLimit"
BUNDLE_DEPENDENCIES = "bundleDependencies"
STACK_NAME = "stackName"
MAX_CHAIN_DEPTH = "maxChainDepth"
WORKSPACES_CLAIM = "workspacesClaim"
PRIVATE_READS = "privateReads"
CONSOLE_CLIENT_ID = "consoleClientId"
CONSOLE_REDIRECT_URL = "consoleRedirectUrl"
CONSOLE_SCOPES = "consoleScopes"
CONSOLE_IDENTITY_ORIGINS = "consoleIdentityOrigins"
API_DOMAIN_NAME = "apiDomainName"
API_CERTIFICATE_ARN = "apiCertificateArn"
CONSOLE_DOMAIN_NAME = "consoleDomainName"
CONSOLE_CERTIFICATE_ARN = "consoleCertificateArn"
DEFAULT_CONSOLE_SCOPES = "openid models:read models:write"

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_EXAMPLE = (
    "e.g. npx aws-cdk@2 deploy -c jwtIssuer=https://cognito-idp.<region>.amazonaws.com/<pool-id> "
    "-c jwtAudience=<app-client-id> (see docs/deploy.md)"
)


class DeploymentConfigError(ValueError):
    """A context value is missing or invalid; the message says which and how to fix it."""


@dataclass(frozen=True)
class DeploymentConfig:
    jwt_issuer: str
    jwt_audience: tuple[str, ...]
    handler_allow_list: HandlerAllowList
    ecs_pass_role_arns: tuple[str, ...] = ()
    alarm_email: str | None = None
    log_level: str = "INFO"
    api_rate_limit: int = 50
    api_burst_limit: int = 100
    bundle_dependencies: bool = True
    stack_name: str = "Pie"
    max_chain_depth: int = 8
    workspaces_claim: str = DEFAULT_WORKSPACES_CLAIM
    private_reads: bool = False
    console_client_id: str | None = None
    console_redirect_url: str | None = None
    console_scopes: str = DEFAULT_CONSOLE_SCOPES
    console_identity_origins: tuple[str, ...] = ()
    # A custom domain for the API (its ACM certificate in the stack's region): the default
    # execute-api endpoint is then disabled, so every request goes through the domain.
    api_domain: CustomDomain | None = None
    # A custom domain for the console (its ACM certificate in us-east-1, as CloudFront requires).
    console_domain: CustomDomain | None = None

    @classmethod
    def from_context(cls, get: Callable[[str], Any]) -> DeploymentConfig:
        """Read every setting through ``get`` (``node.try_get_context``)."""
        return cls(
            jwt_issuer=_jwt_issuer(get(JWT_ISSUER)),
            jwt_audience=_jwt_audience(get(JWT_AUDIENCE)),
            handler_allow_list=_handler_allow_list(get(HANDLER_ALLOW_LIST)),
            ecs_pass_role_arns=_string_list(ECS_PASS_ROLE_ARNS, get(ECS_PASS_ROLE_ARNS)),
            alarm_email=get(ALARM_EMAIL) or None,
            log_level=_log_level(get(LOG_LEVEL)),
            api_rate_limit=_positive_int(API_RATE_LIMIT, get(API_RATE_LIMIT), 50),
            api_burst_limit=_positive_int(API_BURST_LIMIT, get(API_BURST_LIMIT), 100),
            bundle_dependencies=_flag(BUNDLE_DEPENDENCIES, get(BUNDLE_DEPENDENCIES), True),
            stack_name=get(STACK_NAME) or "Pie",
            max_chain_depth=_positive_int(MAX_CHAIN_DEPTH, get(MAX_CHAIN_DEPTH), 8),
            workspaces_claim=_claim_name(get(WORKSPACES_CLAIM)),
            private_reads=_flag(PRIVATE_READS, get(PRIVATE_READS), False),
            console_client_id=get(CONSOLE_CLIENT_ID) or None,
            console_redirect_url=_https_url(CONSOLE_REDIRECT_URL, get(CONSOLE_REDIRECT_URL)),
            console_scopes=get(CONSOLE_SCOPES) or DEFAULT_CONSOLE_SCOPES,
            console_identity_origins=tuple(
                _https_url(CONSOLE_IDENTITY_ORIGINS, origin) or ""
                for origin in _string_list(CONSOLE_IDENTITY_ORIGINS, get(CONSOLE_IDENTITY_ORIGINS))
            ),
            api_domain=_custom_domain(
                API_DOMAIN_NAME, get(API_DOMAIN_NAME), API_CERTIFICATE_ARN, get(API_CERTIFICATE_ARN)
            ),
            console_domain=_custom_domain(
                CONSOLE_DOMAIN_NAME, get(CONSOLE_DOMAIN_NAME), CONSOLE_CERTIFICATE_ARN, get(CONSOLE_CERTIFICATE_ARN)
            ),
        )

    @property
    def handler_allow_list_json(self) -> str:
        """The allow-list as the functions read it (``PIE_HANDLER_ALLOW_LIST``)."""
        return self.handler_allow_list.model_dump_json()


@dataclass(frozen=True)
class CustomDomain:
    name: str
    certificate_arn: str


_DOMAIN_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_CERTIFICATE_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+$")


def _custom_domain(name_key: str, name: Any, certificate_key: str, certificate_arn: Any) -> CustomDomain | None:
    if not name and not certificate_arn:
        return None
    if not name or not certificate_arn:
        raise DeploymentConfigError(f"context '{name_key}' and '{certificate_key}' go together: set both or neither")
    if not isinstance(name, str) or not _DOMAIN_NAME.match(name):
        raise DeploymentConfigError(f"context '{name_key}' must be a DNS name such as pie.example.com, got {name!r}")
    if not isinstance(certificate_arn, str) or not _CERTIFICATE_ARN.match(certificate_arn):
        raise DeploymentConfigError(
            f"context '{certificate_key}' must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>), "
            f"got {certificate_arn!r}"
        )
    return CustomDomain(name, certificate_arn)


def _jwt_issuer(value: Any) -> str:
    if not value:
        raise DeploymentConfigError(
            f"context '{JWT_ISSUER}' is missing: the HTTP API's JWT authorizer needs the token "
            f"issuer URL of your identity provider; {_EXAMPLE}"
        )
    if not isinstance(value, str) or not value.startswith("https://"):
        raise DeploymentConfigError(
            f"context '{JWT_ISSUER}' must be the issuer's https:// URL, got {value!r}; {_EXAMPLE}"
        )
    return value


def _jwt_audience(value: Any) -> tuple[str, ...]:
    audience = _string_list(JWT_AUDIENCE, value)
    if not audience:
        raise DeploymentConfigError(
            f"context '{JWT_AUDIENCE}' is missing: the JWT authorizer accepts only tokens issued "
            f"for these audiences (client ids), as a list or a comma-separated string; {_EXAMPLE}"
        )
    return audience


def _handler_allow_list(value: Any) -> HandlerAllowList:
    try:
        if isinstance(value, str):
            value = json.loads(value)
        return HandlerAllowList.model_validate(value or {})
    except (json.JSONDecodeError, ValidationError) as error:
        raise DeploymentConfigError(
            f"context '{HANDLER_ALLOW_LIST}' must be a JSON object shaped like "
            f"shared.kinds.allow_list.HandlerAllowList: {error}"
        ) from error


def _string_list(key: str, value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as error:
                raise DeploymentConfigError(f"context '{key}' is not valid JSON: {error}") from error
        else:
            value = text.split(",")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise DeploymentConfigError(f"context '{key}' must be a list of strings, got {value!r}")
    return tuple(item.strip() for item in value if item.strip())


def _https_url(key: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.startswith("https://"):
        raise DeploymentConfigError(f"context '{key}' must be an https:// URL, got {value!r}")
    return value


def _log_level(value: Any) -> str:
    level = str(value or "INFO").upper()
    if level not in _LOG_LEVELS:
        raise DeploymentConfigError(f"context '{LOG_LEVEL}' must be one of {', '.join(_LOG_LEVELS)}")
    return level


def _claim_name(value: Any) -> str:
    if value is None or value == "":
        return DEFAULT_WORKSPACES_CLAIM
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise DeploymentConfigError(
            f"context '{WORKSPACES_CLAIM}' must name a JWT claim (e.g. pie:workspaces or cognito:groups), got {value!r}"
        )
    return value


def _positive_int(key: str, value: Any, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise DeploymentConfigError(f"context '{key}' must be a positive integer, got {value!r}")
    return number


def _flag(key: str, value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise DeploymentConfigError(f"context '{key}' must be true or false, got {value!r}")

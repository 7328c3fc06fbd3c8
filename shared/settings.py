"""Configuration: one validated settings model, read once per cold start from the environment.

Only ``from_environ`` touches the environment, and only when a function first needs its services;
domain code receives plain values.
"""

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator

from shared.domain.access import DEFAULT_WORKSPACES_CLAIM
from shared.kinds import KINDS

if TYPE_CHECKING:  # imported by chain_limits(): only the routes that fire or plan chains load triggers
    from shared.domain.triggers import ChainLimits
    from shared.kinds.allow_list import HandlerAllowList

# Environment every deployed function gets for its libraries (the stack sets it; the benchmarks
# simulate it). PIE uses no pydantic plugin, so pydantic need not scan every installed
# distribution's entry points when it builds the first model of a cold start.
LIBRARY_ENVIRONMENT = {"PYDANTIC_DISABLE_PLUGINS": "__all__"}


class SettingsError(Exception):
    pass


class ApiSettings(BaseModel):
    """Settings of every API route function."""

    table_name: str = Field(min_length=3)
    region: str = Field(min_length=1)
    dynamodb_endpoint: str | None = None
    page_token_key: SecretStr | None = Field(default=None, min_length=16)
    page_token_secret_arn: str | None = None
    # PIE_HANDLER_ALLOW_LIST as a JSON object; validated into the allow-list model on its first use
    # (``handler_allow_list``), by the routes that check handlers only.
    handler_allow_list_document: dict[str, Any] = Field(default_factory=dict)
    max_chain_depth: int = Field(default=8, ge=1, le=100)
    # Jobs one root (a direct request or a status set by hand) may cause in its whole chain.
    chain_job_budget: int = Field(default=64, ge=1, le=10_000)
    workspaces_claim: str = Field(default=DEFAULT_WORKSPACES_CLAIM, min_length=1)
    # True: callers see only their workspaces' models (others answer 404); False: reads are open.
    private_reads: bool = False
    # The deployment's AWS account: the completion function accepts ECS task events from it only.
    account_id: str | None = Field(default=None, pattern=r"^[0-9]{12}$")
    # Webhooks may call loopback addresses, over http too (pie-local only; never deployed).
    webhooks_allow_loopback: bool = False
    # Every webhook retry interval times this (a local stack or a test in a hurry); 1 deployed.
    webhook_backoff_scale: float = Field(default=1.0, gt=0, le=1.0)
    # Resolve webhook hosts from this table only, never through DNS (tests; an air-gapped stack).
    webhook_hosts: dict[str, list[str]] | None = None
    # The EventBridge bus every event is also put on (deployed: the stack's bus; pie-local has none).
    event_bus_name: str | None = Field(default=None, min_length=1, max_length=256)

    def handler_allow_list(self) -> "HandlerAllowList":
        """The allow-list, built from its model (assembled from every kind's fields) when a function
        first checks a handler: a route that never does (a read) never builds that model."""
        from shared.kinds.allow_list import HandlerAllowList

        try:
            return HandlerAllowList.model_validate(self.handler_allow_list_document)
        except ValidationError as error:
            raise SettingsError(f"invalid PIE settings in the environment: PIE_HANDLER_ALLOW_LIST: {error}") from error

    def chain_limits(self) -> "ChainLimits":
        from shared.domain.triggers import ChainLimits

        return ChainLimits(max_depth=self.max_chain_depth, job_budget=self.chain_job_budget)

    @model_validator(mode="after")
    def _one_page_token_key_source(self) -> "ApiSettings":
        if self.page_token_key is not None and self.page_token_secret_arn is not None:
            raise ValueError("set PIE_PAGE_TOKEN_KEY or PIE_PAGE_TOKEN_SECRET_ARN, not both")
        return self

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "ApiSettings":
        try:
            return cls(
                table_name=environ.get("PIE_TABLE_NAME", ""),
                region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION", ""),
                dynamodb_endpoint=environ.get("PIE_DYNAMODB_ENDPOINT") or None,
                page_token_key=environ.get("PIE_PAGE_TOKEN_KEY") or None,
                page_token_secret_arn=environ.get("PIE_PAGE_TOKEN_SECRET_ARN") or None,
                max_chain_depth=environ.get("PIE_MAX_CHAIN_DEPTH") or 8,
                chain_job_budget=environ.get("PIE_CHAIN_JOB_BUDGET") or 64,
                workspaces_claim=environ.get("PIE_WORKSPACES_CLAIM") or DEFAULT_WORKSPACES_CLAIM,
                private_reads=environ.get("PIE_PRIVATE_READS") or False,
                account_id=environ.get("PIE_ACCOUNT_ID") or None,
                webhooks_allow_loopback=environ.get("PIE_WEBHOOKS_ALLOW_LOOPBACK") or False,
                webhook_backoff_scale=environ.get("PIE_WEBHOOK_BACKOFF_SCALE") or 1.0,
                webhook_hosts=_host_table(environ.get("PIE_WEBHOOK_HOSTS")),
                event_bus_name=environ.get("PIE_EVENT_BUS_NAME") or None,
                handler_allow_list_document=json.loads(environ.get("PIE_HANDLER_ALLOW_LIST", "{}")),
            )
        except (ValidationError, ValueError) as error:  # JSONDecodeError is a ValueError
            raise SettingsError(f"invalid PIE settings in the environment: {error}") from error


def _host_table(text: str | None) -> dict[str, list[str]] | None:
    """``name=address,name=address`` (a name may repeat) as a table; None when not set."""
    if text is None:
        return None
    table: dict[str, list[str]] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        name, separator, address = entry.partition("=")
        if not separator or not name or not address:
            raise ValueError(f"PIE_WEBHOOK_HOSTS entries are name=address, not {entry!r}")
        table.setdefault(name.strip().lower(), []).append(address.strip())
    return table


class DispatcherSettings(BaseModel):
    """Settings of the stream dispatcher, beside the ``ApiSettings`` of the services it shares."""

    dispatch_workers: int = Field(default=16, ge=1, le=64)
    dispatch_attempts: int = Field(default=5, ge=1, le=10)
    kinds: dict[str, Any] = Field(
        default_factory=dict,
        description="Each handler kind's own settings by type, as the kind reads them (HandlerKind.settings).",
    )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "DispatcherSettings":
        try:
            return cls(
                dispatch_workers=environ.get("PIE_DISPATCH_WORKERS") or 16,
                dispatch_attempts=environ.get("PIE_DISPATCH_ATTEMPTS") or 5,
                kinds={kind.type: kind.settings(environ) for kind in KINDS.values() if kind.settings is not None},
            )
        except (ValidationError, ValueError) as error:
            raise SettingsError(f"invalid PIE dispatcher settings in the environment: {error}") from error

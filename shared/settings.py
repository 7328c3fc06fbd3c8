"""Configuration: one validated settings model, read once per cold start from the environment.

Only ``from_environ`` touches the environment, and only when a function first needs its services;
domain code receives plain values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator

from shared.domain.handler_policy import HandlerAllowList


class SettingsError(Exception):
    pass


class ApiSettings(BaseModel):
    """Settings of every API route function."""

    table_name: str = Field(min_length=3)
    region: str = Field(min_length=1)
    dynamodb_endpoint: str | None = None
    page_token_key: SecretStr | None = Field(default=None, min_length=16)
    page_token_secret_arn: str | None = None
    handler_allow_list: HandlerAllowList
    max_chain_depth: int = Field(default=8, ge=1, le=100)

    @model_validator(mode="after")
    def _one_page_token_key_source(self) -> "ApiSettings":
        if (self.page_token_key is None) == (self.page_token_secret_arn is None):
            raise ValueError("set exactly one of PIE_PAGE_TOKEN_KEY and PIE_PAGE_TOKEN_SECRET_ARN")
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
                handler_allow_list=HandlerAllowList.model_validate(
                    json.loads(environ.get("PIE_HANDLER_ALLOW_LIST", "{}"))
                ),
            )
        except (ValidationError, json.JSONDecodeError) as error:
            raise SettingsError(f"invalid PIE settings in the environment: {error}") from error

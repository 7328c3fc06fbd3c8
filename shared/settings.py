"""Configuration: one validated settings model, read once per cold start from the environment.

Only ``from_environ`` touches the environment, and only when a function first needs its services;
domain code receives plain values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from pydantic import BaseModel, Field, SecretStr, ValidationError

from shared.domain.handler_policy import HandlerAllowList


class SettingsError(Exception):
    pass


class ApiSettings(BaseModel):
    """Settings of every API route function."""

    table_name: str = Field(min_length=3)
    region: str = Field(min_length=1)
    dynamodb_endpoint: str | None = None
    page_token_key: SecretStr = Field(min_length=16)
    handler_allow_list: HandlerAllowList

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "ApiSettings":
        try:
            return cls(
                table_name=environ.get("PIE_TABLE_NAME", ""),
                region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION", ""),
                dynamodb_endpoint=environ.get("PIE_DYNAMODB_ENDPOINT") or None,
                page_token_key=environ.get("PIE_PAGE_TOKEN_KEY", ""),
                handler_allow_list=HandlerAllowList.model_validate(
                    json.loads(environ.get("PIE_HANDLER_ALLOW_LIST", "{}"))
                ),
            )
        except (ValidationError, json.JSONDecodeError) as error:
            raise SettingsError(f"invalid PIE settings in the environment: {error}") from error

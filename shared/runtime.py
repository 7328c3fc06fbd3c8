"""Builds each function's services from its settings, once per execution environment.

Nothing is built at import time: the first invocation reads the settings and creates the clients,
and later invocations of the same warm environment reuse them. ``reset()`` forgets them (tests and
the local stack use it after changing the environment).
"""

from __future__ import annotations

import os
from functools import cache

import boto3

from shared.data.page_tokens import PageTokenCodec
from shared.data.store import RegistryStore
from shared.dispatch.implementations import IMPLEMENTATIONS
from shared.domain.handler_policy import HandlerPolicy
from shared.domain.registry import ModelRegistry
from shared.settings import ApiSettings


@cache
def api_settings() -> ApiSettings:
    return ApiSettings.from_environ(os.environ)


@cache
def dynamodb_client():
    settings = api_settings()
    return boto3.client(
        "dynamodb", region_name=settings.region, endpoint_url=settings.dynamodb_endpoint
    )


@cache
def registry_store() -> RegistryStore:
    settings = api_settings()
    return RegistryStore(
        dynamodb_client(),
        settings.table_name,
        PageTokenCodec(settings.page_token_key.get_secret_value().encode()),
    )


@cache
def model_registry() -> ModelRegistry:
    policy = HandlerPolicy(api_settings().handler_allow_list, IMPLEMENTATIONS.keys())
    return ModelRegistry(registry_store(), policy)


def reset() -> None:
    for built in (api_settings, dynamodb_client, registry_store, model_registry):
        built.cache_clear()

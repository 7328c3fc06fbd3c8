"""Builds each function's services from its settings, once per execution environment.

Nothing is built at import time: the first invocation reads the settings and creates the clients,
and later invocations of the same warm environment reuse them. ``reset()`` forgets them (tests and
the local stack use it after changing the environment).

Deployed functions run with Lambda SnapStart: many execution environments resume from one snapshot
taken after init, so ``after_restore`` gives each its own random state and forgets anything built
before the snapshot (see docs/decisions.md, "Cold start: SnapStart").
"""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.config import Config

from shared.data.store import RegistryStore
from shared.services.registry import ModelRegistry, utc_now
from shared.settings import ApiSettings, DispatcherSettings, SettingsError

# Each factory imports what it builds, so a function loads only the modules of the services its
# route uses: a model read does not load subscriptions, chains, handler kinds' allow-lists, jobs,
# the outbox or the dispatcher at cold start (tests/unit/test_route_imports.py holds this). The
# registry's store and service are imported here: almost every function uses them on every
# request, and what init imports is in the SnapStart snapshot instead of each first request.
if TYPE_CHECKING:
    from shared.data.aliases import AliasStore
    from shared.data.chains import ChainBudgets
    from shared.data.outbox import OutboxWriter
    from shared.data.page_tokens import PageTokenCodec
    from shared.data.subscriptions import SubscriptionStore
    from shared.dispatch.completions import AwsCompletions
    from shared.dispatch.dispatcher import Dispatcher
    from shared.dispatch.sweeper import Sweeper
    from shared.services.aliases import AliasService
    from shared.services.chains import ChainQueries
    from shared.services.firing import Firing
    from shared.services.handler_policy import HandlerPolicy
    from shared.services.jobs import JobService
    from shared.services.search import SearchService
    from shared.services.subscriptions import SubscriptionService
    from shared.services.tags import TagService
    from shared.services.transitions import VersionLifecycle
    from shared.services.webhooks import WebhookService


class _OnFirstUse:
    """Stands for the service ``build`` returns, built when one of its attributes is first used:
    a model read never calls the handler policy or the subscriptions' staleness marks, so it never
    builds them (nor imports their modules)."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build

    def __getattr__(self, name: str) -> Any:
        return getattr(self._build(), name)


@cache
def api_settings() -> ApiSettings:
    return ApiSettings.from_environ(os.environ)


@cache
def dynamodb_client():
    settings = api_settings()
    # Every request is built by the data layer's codecs from values the domain models validated
    # (a page token's key only after its signature checks), and DynamoDB validates what it
    # receives: checking each one client-side too is a fifth of botocore's time per call
    # (docs/decisions.md, "Dispatch").
    return boto3.client(
        "dynamodb",
        region_name=settings.region,
        endpoint_url=settings.dynamodb_endpoint,
        config=Config(parameter_validation=False),
    )


def _page_token_key(settings: ApiSettings) -> bytes:
    if settings.page_token_key is not None:
        return settings.page_token_key.get_secret_value().encode()
    if settings.page_token_secret_arn is None:
        raise SettingsError("listing needs PIE_PAGE_TOKEN_KEY or PIE_PAGE_TOKEN_SECRET_ARN")
    # Deployed: the key is a generated secret, read once per cold start (list routes only).
    from aws_lambda_powertools.utilities.parameters import get_secret

    return str(get_secret(settings.page_token_secret_arn, max_age=3600)).encode()


@cache
def page_tokens() -> PageTokenCodec:
    from shared.data.page_tokens import PageTokenCodec

    return PageTokenCodec(_page_token_key(api_settings()))


@cache
def registry_store() -> RegistryStore:

    return RegistryStore(dynamodb_client(), api_settings().table_name, page_tokens)


@cache
def handler_policy() -> HandlerPolicy:
    from shared.dispatch.implementations import IMPLEMENTATIONS
    from shared.services.handler_policy import HandlerPolicy

    return HandlerPolicy(api_settings().handler_allow_list(), IMPLEMENTATIONS.keys())


@cache
def model_registry() -> ModelRegistry:
    # The policy and the staleness marks serve model writes alone: built on their first use.
    return ModelRegistry(
        registry_store(),
        cast("HandlerPolicy", _OnFirstUse(handler_policy)),
        cast("SubscriptionService", _OnFirstUse(subscription_service)),
    )


@cache
def subscription_service() -> SubscriptionService:
    from shared.services.subscriptions import SubscriptionService

    return SubscriptionService(
        registry_store(),
        subscription_store(),
        utc_now,
        chain_budgets(),
        api_settings().chain_limits(),
        aliases=alias_store(),
    )


@cache
def chain_budgets() -> ChainBudgets:
    from shared.data.chains import ChainBudgets

    return ChainBudgets(dynamodb_client(), api_settings().table_name)


@cache
def subscription_store() -> SubscriptionStore:
    from shared.data.subscriptions import SubscriptionStore

    return SubscriptionStore(dynamodb_client(), api_settings().table_name, page_tokens)


@cache
def alias_store() -> AliasStore:
    from shared.data.aliases import AliasStore

    return AliasStore(dynamodb_client(), api_settings().table_name, page_tokens)


@cache
def alias_service() -> AliasService:
    from shared.services.aliases import AliasService

    return AliasService(registry_store(), alias_store(), utc_now, firing, outbox)


@cache
def tag_service() -> TagService:
    from shared.data.tags import TagStore
    from shared.services.tags import TagService

    return TagService(registry_store(), TagStore(dynamodb_client(), api_settings().table_name), utc_now)


@cache
def search_service() -> SearchService:
    from shared.data.search import SearchStore
    from shared.services.search import SearchService

    return SearchService(model_registry(), SearchStore(dynamodb_client(), api_settings().table_name, page_tokens))


@cache
def outbox() -> OutboxWriter:
    from shared.data.outbox import OutboxWriter

    return OutboxWriter(dynamodb_client(), api_settings().table_name)


@cache
def firing() -> Firing:
    from shared.services.firing import ChainView, Firing

    view = ChainView(registry_store(), subscription_store(), chain_budgets(), api_settings().chain_limits())
    return Firing(view, outbox())


@cache
def chain_queries() -> ChainQueries:
    from shared.services.chains import ChainQueries
    from shared.services.firing import ChainView

    view = ChainView(registry_store(), subscription_store(), chain_budgets(), api_settings().chain_limits())
    return ChainQueries(view, job_store(), utc_now)


@cache
def version_lifecycle() -> VersionLifecycle:
    from shared.services.aliases import AliasEffects
    from shared.services.transitions import VersionLifecycle

    return VersionLifecycle(registry_store(), firing(), outbox(), clock=utc_now, aliases=AliasEffects(alias_store()))


@cache
def idempotency_store():
    """Powertools' idempotency records, in the single table under one partition."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from shared.data.entities import idempotency_record_options

    return DynamoDBPersistenceLayer(
        table_name=api_settings().table_name, boto3_client=dynamodb_client(), **idempotency_record_options()
    )


@cache
def job_store():
    from shared.data.jobs import JobStore

    return JobStore(dynamodb_client(), api_settings().table_name, page_tokens)


@cache
def job_service() -> JobService:
    from shared.services.aliases import AliasEffects
    from shared.services.jobs import JobService

    return JobService(
        registry_store(),
        job_store(),
        version_lifecycle(),
        firing(),
        outbox(),
        clock=utc_now,
        aliases=AliasEffects(alias_store()),
    )


@cache
def sweeper() -> Sweeper:
    from shared.dispatch.sweeper import Sweeper

    return Sweeper(job_service(), job_store(), clock=utc_now)


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the webhooks' SSRF check and delivery use these): from
    ``PIE_WEBHOOK_HOSTS`` alone when it is set, else through the system's resolver."""
    table = api_settings().webhook_hosts
    if table is not None:
        if host.lower() not in table:
            raise OSError(f"'{host}' is not in PIE_WEBHOOK_HOSTS")
        return table[host.lower()]
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


@cache
def webhook_store():
    from shared.data.webhooks import WebhookStore

    return WebhookStore(dynamodb_client(), api_settings().table_name, page_tokens)


@cache
def webhook_service() -> WebhookService:
    from shared.services.webhooks import WebhookService

    settings = api_settings()
    return WebhookService(webhook_store(), resolve_host, utc_now, allow_loopback=settings.webhooks_allow_loopback)


@cache
def webhook_deliverer():
    from shared.dispatch.webhooks import WebhookDeliverer
    from shared.domain.webhooks import DeliveryPolicy

    settings = api_settings()
    return WebhookDeliverer(
        webhook_store(),
        resolve_host,
        utc_now,
        DeliveryPolicy.scaled(settings.webhook_backoff_scale),
        allow_loopback=settings.webhooks_allow_loopback,
    )


@cache
def event_bus():
    """The EventBridge bus every event is also put on; None without ``PIE_EVENT_BUS_NAME``."""
    from shared.dispatch.event_bus import EventBridgeBus

    name = api_settings().event_bus_name
    return None if name is None else EventBridgeBus(_client("events"), name)


# Clients the local stack replaces with stand-ins (it has no Lambda or ECS to start jobs on).
_stand_ins: dict[str, Any] = {}


def use_stand_in(service: str, client: Any) -> None:
    """Use ``client`` instead of a boto3 client for ``service`` (a handler kind's ``client_service``)."""
    _stand_ins[service] = client
    reset()


def clear_stand_ins() -> None:
    _stand_ins.clear()
    reset()


def _client(service: str) -> Any:
    if service in _stand_ins:
        return _stand_ins[service]
    return boto3.client(service, region_name=api_settings().region)


@cache
def dispatcher_settings() -> DispatcherSettings:
    return DispatcherSettings.from_environ(os.environ)


@cache
def dispatcher() -> Dispatcher:
    # Imported here: route functions never load the dispatcher or Powertools batch processing.
    from shared.dispatch.dispatcher import Dispatcher
    from shared.dispatch.implementations import IMPLEMENTATIONS
    from shared.dispatch.starters import build_starters
    from shared.kinds.starting import Backoff, StartContext

    settings = dispatcher_settings()
    context = StartContext(
        client=_client,
        backoff=Backoff(attempts=settings.dispatch_attempts),
        implementations=IMPLEMENTATIONS,
        kind_settings=settings.kinds,
    )
    return Dispatcher(job_service(), outbox(), build_starters(context))


@cache
def task_stopper():
    from shared.dispatch.starters import TaskStopper

    return TaskStopper(_client)


@cache
def aws_completions() -> AwsCompletions:
    from shared.dispatch.completions import AwsCompletions

    return AwsCompletions(job_service(), account=api_settings().account_id)


def reset() -> None:
    for built in (
        api_settings,
        dynamodb_client,
        page_tokens,
        registry_store,
        handler_policy,
        model_registry,
        subscription_store,
        subscription_service,
        alias_store,
        alias_service,
        tag_service,
        search_service,
        chain_budgets,
        chain_queries,
        outbox,
        firing,
        version_lifecycle,
        job_store,
        job_service,
        sweeper,
        webhook_store,
        webhook_service,
        webhook_deliverer,
        event_bus,
        idempotency_store,
        dispatcher_settings,
        dispatcher,
        aws_completions,
        task_stopper,
    ):
        built.cache_clear()


def after_restore() -> None:
    """Run in each execution environment Lambda resumes from a snapshot.

    ``random`` was seeded once, before the snapshot: without a new seed every resumed environment
    would draw the same retry and backoff jitter, so throttled environments would retry in step.
    (Job and subscription ids come from ``uuid4``, which reads the OS's entropy at each call.)
    Clients built before the snapshot would carry its sockets and credentials; none is built at
    init today, and ``reset()`` keeps it so if one ever is.
    """
    random.seed()
    reset()


def _register_snapshot_hooks() -> None:
    try:
        # Part of Lambda's managed Python runtimes (the ``snapshot-restore-py`` package elsewhere).
        from snapshot_restore_py import register_after_restore
    except ImportError:  # not in Lambda and not installed: nothing is ever restored from a snapshot
        return
    register_after_restore(after_restore)


_register_snapshot_hooks()

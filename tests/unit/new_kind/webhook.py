"""A throw-away kind for ``tests/unit/test_adding_a_kind.py``: copied into a copy of ``shared/kinds``
as ``webhook.py``, it is everything the ``webhook`` kind is (its starter aside)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Literal

from pydantic import BaseModel

from shared.domain.errors import HandlerNotAllowedError
from shared.kinds.base import EventRule, HandlerKind, HandlerModel, IamStatement, ReportedResult


class WebhookHandler(HandlerModel):
    type: Literal["webhook"]
    host: str


class WebhookSettings(BaseModel):
    secret_header: str = "X-Pie-Secret"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> WebhookSettings:
        return cls(secret_header=environ.get("PIE_WEBHOOK_SECRET_HEADER", "X-Pie-Secret"))


def check(role: str, handler: WebhookHandler, allow: Any, _implementations: Collection[str]) -> None:
    if handler.host not in allow.webhook_hosts:
        raise HandlerNotAllowedError(f"{role} handler: host {handler.host} is not in the handler allow-list")


def read_event(event: dict[str, Any]) -> ReportedResult | None:
    if event.get("source") != "pie.webhook":
        return None
    return ReportedResult.of(event["detail"], event["detail"]["host"], "succeeded", output={})


KIND = HandlerKind(
    type="webhook",
    model=WebhookHandler,
    allow_list={"webhook_hosts": "Hosts webhook handlers may call."},
    check=check,
    starter="shared.kinds.webhook_start:WebhookStarter",
    default_timeout_seconds=60,
    stopper="shared.kinds.webhook_start:stop",
    read_event=read_event,
    reported_by=lambda handler, source: source == handler.host,
    completion_rules=lambda allow: (
        [EventRule("WebhookResults", "PIE: webhook results", {"source": ["pie.webhook"]})]
        if allow.webhook_hosts
        else []
    ),
    dispatcher_statements=lambda allow, _roles: (
        [IamStatement(("events:PutEvents",), ("arn:{partition}:events:{region}:{account}:event-bus/default",))]
        if allow.webhook_hosts
        else []
    ),
    stop_statements=lambda allow: (
        [IamStatement(("events:PutEvents",), ("arn:{partition}:events:{region}:{account}:event-bus/stop",))]
        if allow.webhook_hosts
        else []
    ),
    settings=WebhookSettings.from_environ,
    client_service="webhook",
    stand_in="pie_local.targets:LocalWebhook",
)

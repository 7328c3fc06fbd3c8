"""Webhook endpoints: registration, changes, secret rotation, ping, and the delivery log.

A webhook belongs to one workspace (``*``, every workspace, is for admins) and follows the
workspace rules of the models (``shared.domain.access``): only the workspace's members change it
(else 403 naming the workspace); others read it as they read the workspace's models (open reads),
or it does not exist for them (private reads: 404). Its URL is checked for SSRF here (``shared.domain.url_safety``) and again before every
delivery. Its secret is in the answers of a creation and of a rotation, and nowhere else: not in
any other answer, and never logged. A rotated secret is still signed with for ``ROTATION_OVERLAP``
(every delivery then carries both signatures), so receivers can switch without losing one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from shared.data.errors import StaleEntityError
from shared.data.save import RETRY, Retry, retry_on_stale
from shared.data.webhook_entities import WebhookRecord
from shared.data.webhooks import WebhookStore
from shared.domain import events, url_safety
from shared.domain.access import Access
from shared.domain.entities import WEBHOOK_ID_PATTERN
from shared.domain.errors import (
    ConcurrentUpdateError,
    DeliveryNotFailedError,
    PageTokenInvalidError,
    RequestInvalidError,
    WebhookNotFoundError,
    WorkspaceAccessDeniedError,
    WorkspaceRequiredError,
)
from shared.domain.events import ALL_EVENTS
from shared.domain.records import Page
from shared.domain.webhooks import (
    CreateWebhookRequest,
    DeliveryList,
    DeliveryResponse,
    UpdateWebhookRequest,
    Webhook,
    WebhookList,
    WebhookResponse,
    WebhookSecretResponse,
    WebhookWithSecret,
    new_secret,
    new_webhook_id,
    redriven,
)
from shared.services.ports import Clock

ROTATION_OVERLAP = timedelta(hours=24)
# Webhooks one workspace may register: the fan-out of each event reads them all.
MAX_WEBHOOKS_PER_WORKSPACE = 100


class WebhookService:
    def __init__(
        self,
        store: WebhookStore,
        resolve: url_safety.Resolver,
        clock: Clock,
        allow_loopback: bool = False,
    ) -> None:
        self._store = store
        self._resolve = resolve
        self._clock = clock
        self._allow_loopback = allow_loopback

    # Endpoints ----------------------------------------------------------------------------------

    def create(self, request: CreateWebhookRequest, actor: str, access: Access) -> WebhookSecretResponse:
        workspace = _workspace_for(request.workspace, access)
        self._check_url(request.url)
        if len(self._store.of_workspace(workspace)) >= MAX_WEBHOOKS_PER_WORKSPACE:
            raise RequestInvalidError(
                f"workspace '{workspace}' has {MAX_WEBHOOKS_PER_WORKSPACE} webhooks, the most it may have"
            )
        now = self._clock()
        webhook = Webhook(
            id=new_webhook_id(),
            workspace=workspace,
            url=request.url,
            events=request.events,
            model_ids=request.model_ids,
            description=request.description,
            status="active",
            entity_version=1,
            created_at=now,
            updated_at=now,
            created_by=actor,
        )
        record = WebhookRecord(webhook, secret=new_secret())
        self._store.put_new(record)
        return _with_secret(record)

    def get(self, webhook_id: str, access: Access) -> WebhookResponse:
        return WebhookResponse(webhook=self._readable(webhook_id, access).webhook)

    def list(self, limit: int, page_token: str | None, access: Access) -> WebhookList:
        """Every webhook the caller may see, by id; the token is the last id of the page."""
        if page_token is not None and not _is_webhook_id(page_token):
            raise PageTokenInvalidError()
        if access.reads_everything:
            found = self._store.of_workspace(None)
        else:
            found = [r for w in sorted(access.workspaces) for r in self._store.of_workspace(w)]
        webhooks = sorted((record.webhook for record in found), key=lambda w: w.id)
        if page_token is not None:
            webhooks = [w for w in webhooks if w.id > page_token]
        page = Page(webhooks[:limit], webhooks[limit - 1].id if len(webhooks) > limit else None)
        return WebhookList(webhooks=page.items, next_token=page.next_token)

    def update(self, webhook_id: str, request: UpdateWebhookRequest, access: Access) -> WebhookResponse:
        if request.url is not None:
            self._check_url(request.url)
        changes = request.model_dump(exclude_unset=True)
        if changes.get("status") == "active":
            changes.update(disabled_reason=None, failing_since=None)
        elif changes.get("status") == "disabled":
            changes.update(disabled_reason="disabled by a caller")

        def change(record: WebhookRecord, now: datetime) -> WebhookRecord:
            webhook = record.webhook.model_copy(
                update={**changes, "entity_version": record.webhook.entity_version + 1, "updated_at": now}
            )
            return replace(record, webhook=webhook)

        return WebhookResponse(webhook=self._change(webhook_id, access, change).webhook)

    def delete(self, webhook_id: str, access: Access) -> None:
        self._writable(webhook_id, access)
        self._store.delete(webhook_id)

    def rotate_secret(self, webhook_id: str, access: Access) -> WebhookSecretResponse:
        """A new secret; the one it replaces is still signed with for ``ROTATION_OVERLAP``."""

        def change(record: WebhookRecord, now: datetime) -> WebhookRecord:
            webhook = record.webhook.model_copy(
                update={"entity_version": record.webhook.entity_version + 1, "updated_at": now}
            )
            until = (now + ROTATION_OVERLAP).isoformat()
            return WebhookRecord(webhook, new_secret(), previous_secret=record.secret, previous_until=until)

        return _with_secret(self._change(webhook_id, access, change))

    def ping(self, webhook_id: str, access: Access) -> WebhookResponse:
        """Sends a ``ping`` event to this webhook alone (it appears in its delivery log)."""
        webhook = self._writable(webhook_id, access).webhook
        workspace = webhook.workspace
        self._store.put_event(events.ping(webhook.id, workspace, self._clock()))
        return WebhookResponse(webhook=webhook)

    # The delivery log ---------------------------------------------------------------------------

    def deliveries(
        self, webhook_id: str, status: str | None, limit: int, page_token: str | None, access: Access
    ) -> DeliveryList:
        start = self._store.delivery_page_start(webhook_id, status, page_token)  # a bad token: 400 first
        self._readable(webhook_id, access)
        page = self._store.deliveries(webhook_id, status, limit, start)
        return DeliveryList(deliveries=page.items, next_token=page.next_token)

    def retry_delivery(self, webhook_id: str, delivery_id: str, access: Access) -> DeliveryResponse:
        """Makes a failed delivery due now, under the same ``webhook-id``."""
        self._writable(webhook_id, access)

        def attempt() -> DeliveryResponse:
            delivery = self._store.get_delivery(webhook_id, delivery_id)
            if delivery.status != "failed":
                raise DeliveryNotFailedError(delivery_id, delivery.status)
            again = redriven(delivery, self._clock())
            self._store.save_delivery(again, delivery.entity_version)
            return DeliveryResponse(delivery=again)

        return retry_on_stale(attempt, ConcurrentUpdateError(f"delivery '{delivery_id}'"))

    # Helpers ------------------------------------------------------------------------------------

    def _check_url(self, url: str) -> None:
        url_safety.check(url, self._resolve, self._allow_loopback)

    def _readable(self, webhook_id: str, access: Access) -> WebhookRecord:
        record = self._store.get(webhook_id)
        if not access.can_read(record.webhook.workspace):
            raise WebhookNotFoundError(webhook_id)
        return record

    def _writable(self, webhook_id: str, access: Access) -> WebhookRecord:
        record = self._readable(webhook_id, access)
        workspace = record.webhook.workspace
        if not access.can_write(workspace):
            raise WorkspaceAccessDeniedError(
                workspace, f"webhook '{webhook_id}' belongs to workspace '{workspace}', which is not one of yours"
            )
        return record

    def _change(
        self, webhook_id: str, access: Access, change: Callable[[WebhookRecord, datetime], WebhookRecord]
    ) -> WebhookRecord:
        def attempt() -> WebhookRecord:
            record = self._writable(webhook_id, access)
            changed = change(record, self._clock())
            self._store.save(changed, record.webhook.entity_version)
            return changed

        def on_stale(stale: StaleEntityError) -> Retry:
            if stale.current is None:
                raise WebhookNotFoundError(webhook_id)
            return RETRY

        return retry_on_stale(attempt, ConcurrentUpdateError(f"webhook '{webhook_id}'"), on_stale)


def _workspace_for(requested: str | None, access: Access) -> str:
    if requested == ALL_EVENTS:
        if not access.admin:
            raise WorkspaceAccessDeniedError(ALL_EVENTS, "only an admin may register a webhook for every workspace")
        return ALL_EVENTS
    if requested is None:
        if len(access.workspaces) == 1:
            return next(iter(access.workspaces))
        raise WorkspaceRequiredError(sorted(access.workspaces))
    if not access.can_write(requested):
        raise WorkspaceAccessDeniedError(requested, f"workspace '{requested}' is not one of yours")
    return requested


def _is_webhook_id(value: str) -> bool:
    return re.fullmatch(WEBHOOK_ID_PATTERN.removeprefix("^").removesuffix("$"), value) is not None


def _with_secret(record: WebhookRecord) -> WebhookSecretResponse:
    return WebhookSecretResponse(webhook=WebhookWithSecret(**record.webhook.model_dump(), secret=record.secret))

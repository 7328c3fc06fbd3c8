"""``PieClient`` and ``AsyncPieClient``: every operation of the PIE API as one small method,
written once (``_PieOperations``) and run over ``httpx.Client`` or ``httpx.AsyncClient``.

    from pie_client import PieClient

    pie = PieClient("https://pie.example.com", token=os.environ["PIE_TOKEN"])
    for model in pie.iter_models(status="active"):
        print(model.id, model.active_version)

Each operation is one ``_call`` naming its method, path, body and response type; adding a route
is adding such a method. What every call gets for free:

- **Idempotency-Key** on every POST: a fresh UUID per call (or the ``idempotency_key`` given),
  reused by that call's retries, so a POST whose answer was lost is replayed, not repeated.
- **If-Match** on updates (``update_model``, ``update_subscription``, ``set_version_status``): the
  ``entity_version`` this client last saw for that resource (PIE's ETag is the entity_version; the
  client remembers it from every model, version and subscription in any answer, lists included).
  A write over someone else's change is then a ``Conflict`` instead of a silent overwrite. Pass
  ``if_match=N`` to choose the version, ``if_match=None`` for an unconditional write, or build the
  client with ``auto_if_match=False`` to make unconditional writes the default. A resource this
  client has not seen yet is written unconditionally. Alias moves and deletes are unconditional
  unless ``if_match`` is given: pointing an alias at a version is a command, not an edit.
- **Retries** on 429, 5xx and lost connections, with exponential backoff and full jitter
  (``RetryPolicy``); the typed error of the last try otherwise (``pie_client.errors``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from pie_client._transport import AsyncTransport, RetryPolicy, Transport
from pie_client.errors import InvalidRequest, NotFound, PieError, UnexpectedResponse, WaitTimeout, from_validation
from pie_client.models import (
    Alias,
    AliasChange,
    AliasHistory,
    AliasList,
    AliasResponse,
    CheckHandlersRequest,
    CheckHandlersResponse,
    CompleteJobRequest,
    CompletionResponse,
    CompletionStatus,
    CreateModelRequest,
    CreateSubscriptionRequest,
    CreateVersionRequest,
    CreateWebhookRequest,
    Delivery,
    DeliveryList,
    DeliveryResponse,
    DeliveryStatus,
    DryRunRequest,
    DryRunResult,
    HandlerCheck,
    HandlerContracts,
    Handlers,
    Impact,
    ImpactResponse,
    InputSource,
    Job,
    JobAction,
    JobList,
    JobResponse,
    JobStatus,
    JsonObject,
    LineageResponse,
    LineageStep,
    Model,
    ModelList,
    ModelResponse,
    ModelStatus,
    ModelVersionResponse,
    NewStatusRequest,
    Promotion,
    SetAliasRequest,
    SetTagRequest,
    StartJobRequest,
    StatusChangeResponse,
    Subscription,
    SubscriptionList,
    SubscriptionStatus,
    TriggerEvent,
    UpdateModelRequest,
    UpdateSubscriptionRequest,
    UpdateWebhookRequest,
    Version,
    VersionList,
    VersionStatus,
    Webhook,
    WebhookList,
    WebhookResponse,
    WebhookSecretResponse,
    WebhookStatus,
    WebhookWithSecret,
)

__version__ = "0.1.0"
DEFAULT_URL = "http://127.0.0.1:8000"

Answer = TypeVar("Answer", bound=BaseModel)
Item = TypeVar("Item")


class _Auto:
    """``if_match`` left to the client: the entity_version it last saw, if any."""

    def __repr__(self) -> str:
        return "AUTO"


AUTO: Any = _Auto()
_UNSET: Any = object()
IfMatch = int | str | None


@dataclass(frozen=True)
class _Request:
    """One API call, as both clients send it: built once, sent by the sync or the async transport."""

    method: str
    path: str
    answer: type[BaseModel] | None
    body: BaseModel | None = None
    params: dict[str, Any] | None = None
    if_match: int | str | None = None
    idempotency_key: str | None = None
    raw_json: bool = False  # answer the parsed JSON document (or None), not a model


@dataclass(frozen=True)
class _Sleep:
    seconds: float


# An operation: the requests it makes (and pauses), each answer sent back in, its result returned.
# A typed error of a request is thrown into it, so an operation may catch one (get_openapi's 404).
Operation = Generator[_Request | _Sleep, Any, Any]


class _PieOperations:
    """Every operation of the PIE API, written once. ``PieClient`` runs them over ``httpx.Client``;
    ``AsyncPieClient`` over ``httpx.AsyncClient``, where each method returns a coroutine to await.
    Request building, If-Match bookkeeping, answers' parsing and errors are shared."""

    def __init__(self, base_url: str, auto_if_match: bool) -> None:
        self.base_url = base_url.rstrip("/")
        self.auto_if_match = auto_if_match
        self._etags: dict[str, int] = {}

    # What each client provides.

    def _run(self, operation: Operation) -> Any:
        raise NotImplementedError

    def _pages(self, fetch: Callable[[str | None], Any], field: str) -> Any:
        raise NotImplementedError

    # Models ------------------------------------------------------------------------------------

    def create_model(
        self,
        id: str,
        *,
        name: str,
        handlers: Handlers | JsonObject,
        description: str = "",
        handler_contracts: HandlerContracts | JsonObject | None = None,
        metadata: JsonObject | None = None,
        workspace: str | None = None,
        protected_aliases: list[str] | None = None,
        promotion: Promotion | JsonObject | None = None,
        tags: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> ModelVersionResponse:
        """A new model with version "1" (pending), in ``workspace`` (default: the caller's only one).
        ``protected_aliases`` may be moved only with the ``models:promote`` scope; ``promotion``
        (``{"alias": "champion"}``) moves that alias to each version as it becomes active.
        ``tags`` (string to string) are the model's first tags; later ones go through ``set_model_tag``."""
        fields: dict[str, Any] = {}
        if tags is not None:
            fields["tags"] = tags
        # Sent only when given, so a PIE without aliases sees the body it always did.
        if protected_aliases is not None:
            fields["protected_aliases"] = protected_aliases
        if promotion is not None:
            fields["promotion"] = promotion
        body = _body(
            CreateModelRequest,
            id=id,
            workspace=workspace,
            name=name,
            description=description,
            handlers=handlers,
            handler_contracts=handler_contracts,
            metadata=metadata or {},
            **fields,
        )
        return self._call("POST", "/v2/models", ModelVersionResponse, body=body, idempotency_key=idempotency_key)

    def list_models(
        self,
        *,
        status: ModelStatus | None = None,
        workspace: str | None = None,
        filter: str | None = None,
        order_by: str | None = None,
        limit: int | None = None,
        next_token: str | None = None,
    ) -> ModelList:
        """One page of models. ``filter`` is MLflow's syntax (``name LIKE 'price%' AND
        tags.team = 'pricing'``; docs/search.md), ``order_by`` ``name|created_at|updated_at``
        with ``ASC`` or ``DESC``. A filter page may hold fewer than ``limit`` models, even none,
        and still carry a ``next_token``: read on until it is None (``search_models`` does)."""
        params = {
            "status": status,
            "workspace": workspace,
            "filter": filter,
            "order_by": order_by,
            "limit": limit,
            "next_token": next_token,
        }
        return self._call("GET", "/v2/models", ModelList, params=params)

    def search_models(
        self,
        filter: str | None = None,
        *,
        order_by: str | None = None,
        status: ModelStatus | None = None,
        workspace: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[Model]:
        """Every model matching ``filter``, in ``order_by``'s order, page after page (the SDK's
        ``MlflowClient.search_registered_models``). A filter that does not parse is a
        ``BadRequest`` naming the position where reading stopped."""
        return self._pages(
            lambda token: self.list_models(
                status=status,
                workspace=workspace,
                filter=filter,
                order_by=order_by,
                limit=page_size,
                next_token=token,
            ),
            "models",
        )

    def iter_models(
        self, *, status: ModelStatus | None = None, workspace: str | None = None, page_size: int | None = None
    ) -> Iterator[Model]:
        """Every model, page after page (one request per page, as the iteration needs it)."""
        return self._pages(
            lambda token: self.list_models(status=status, workspace=workspace, limit=page_size, next_token=token),
            "models",
        )

    def get_model(self, model_id: str) -> Model:
        return self._call("GET", _path("models", model_id), ModelResponse, pick="model")

    def update_model(
        self,
        model_id: str,
        *,
        name: str = _UNSET,
        handlers: Handlers | JsonObject = _UNSET,
        description: str = _UNSET,
        metadata: JsonObject = _UNSET,
        handler_contracts: HandlerContracts | JsonObject | None = _UNSET,
        protected_aliases: list[str] = _UNSET,
        promotion: Promotion | JsonObject | None = _UNSET,
        if_match: IfMatch = AUTO,
    ) -> ModelVersionResponse:
        """Change only the fields given (``handler_contracts=None`` clears the contracts): the model
        is read, the given fields replace its own, and the write is conditional on the
        entity_version read (or on ``if_match`` when given), so a change made in between is a
        ``Conflict``, never overwritten. An active model also gets a new pending version."""
        given = {
            "name": name,
            "handlers": handlers,
            "description": description,
            "metadata": metadata,
            "handler_contracts": handler_contracts,
            "protected_aliases": protected_aliases,
            "promotion": promotion,
        }
        changes = {field: value for field, value in given.items() if value is not _UNSET}
        return self._run(self._update_model(model_id, changes, if_match))

    def _update_model(self, model_id: str, changes: dict[str, Any], if_match: IfMatch) -> Operation:
        path = _path("models", model_id)
        current = (yield _Request("GET", path, ModelResponse)).model
        fields = {**_model_fields(current), **changes}
        read = current.entity_version if if_match is AUTO else if_match
        body = _body(UpdateModelRequest, **fields)
        return (yield _Request("PUT", path, ModelVersionResponse, body=body, if_match=read))

    def replace_model(
        self,
        model_id: str,
        *,
        name: str,
        handlers: Handlers | JsonObject,
        description: str,
        metadata: JsonObject,
        handler_contracts: HandlerContracts | JsonObject | None = None,
        protected_aliases: list[str] | None = None,
        promotion: Promotion | JsonObject | None = None,
        if_match: IfMatch = AUTO,
    ) -> ModelVersionResponse:
        """Replace the model: every field as given, an omitted one cleared (contracts, protected
        aliases, promotion). An active model also gets a new pending version."""
        fields: dict[str, Any] = {
            "name": name,
            "description": description,
            "handlers": handlers,
            "handler_contracts": handler_contracts,
            "metadata": metadata,
        }
        if protected_aliases is not None:
            fields["protected_aliases"] = protected_aliases
        if promotion is not None:
            fields["promotion"] = promotion
        body = _body(UpdateModelRequest, **fields)
        path = _path("models", model_id)
        return self._call("PUT", path, ModelVersionResponse, body=body, if_match=self._if_match(path, if_match))

    def delete_model(self, model_id: str) -> None:
        """Delete the model, its versions and its own subscriptions."""
        return self._call("DELETE", _path("models", model_id), None, forget=_path("models", model_id))

    # Versions ----------------------------------------------------------------------------------

    def create_version(
        self,
        model_id: str,
        version: str,
        *,
        description: str = "",
        metadata: JsonObject | None = None,
        tags: dict[str, str] | None = None,
        idempotency_key: str | None = None,
        if_match: IfMatch = None,
    ) -> ModelVersionResponse:
        """A new pending version; ``if_match`` (the model's entity_version) makes the cut
        conditional on the model being unchanged (409 otherwise). Unconditional by default."""
        fields: dict[str, Any] = {"tags": tags} if tags is not None else {}
        body = _body(CreateVersionRequest, version=version, description=description, metadata=metadata or {}, **fields)
        path = _path("models", model_id, "new_version")
        return self._call(
            "POST", path, ModelVersionResponse, body=body, idempotency_key=idempotency_key, if_match=if_match
        )

    def list_versions(
        self,
        model_id: str,
        *,
        filter: str | None = None,
        order_by: str | None = None,
        limit: int | None = None,
        next_token: str | None = None,
    ) -> VersionList:
        """One page of the model's versions; ``filter`` as in ``list_models`` (``version``,
        ``status`` and ``tags.<key>`` terms), ``order_by`` ``created_at|updated_at``."""
        params = {"filter": filter, "order_by": order_by, "limit": limit, "next_token": next_token}
        return self._call("GET", _path("models", model_id, "versions"), VersionList, params=params)

    def iter_versions(self, model_id: str, *, page_size: int | None = None) -> Iterator[Version]:
        """The model's versions, newest first."""
        return self._pages(lambda token: self.list_versions(model_id, limit=page_size, next_token=token), "versions")

    def search_versions(
        self, model_id: str, filter: str | None = None, *, order_by: str | None = None, page_size: int | None = None
    ) -> Iterator[Version]:
        """Every version of the model matching ``filter``, page after page (newest first unless
        ``order_by`` says otherwise)."""
        return self._pages(
            lambda token: self.list_versions(
                model_id, filter=filter, order_by=order_by, limit=page_size, next_token=token
            ),
            "versions",
        )

    def get_version(self, model_id: str, version: str = "latest") -> ModelVersionResponse:
        """One version (``latest``: the newest; ``@champion``: the one the alias points at) and its model."""
        return self._call("GET", _path("models", model_id, "versions", version), ModelVersionResponse)

    def get_version_lineage(self, model_id: str, version: str = "latest") -> list[LineageStep]:
        """The steps from this version back to its chain's root, nearest first (the version itself
        first); ``subscription_id`` is null at the root (a direct request or a status set by hand)."""
        path = _path("models", model_id, "versions", version, "lineage")
        return self._call("GET", path, LineageResponse, pick="lineage")

    def get_impact(
        self, model_id: str, event: TriggerEvent = "training_complete", *, alias: str | None = None
    ) -> Impact:
        """What ``event`` on this model would fire now, as a tree (cycles cut and marked, the depth
        limit and the job budget applied). Writes nothing. For ``alias_set``, ``alias`` names the
        alias whose move it shows (required then, refused for other events)."""
        params = {"event": event, "alias": alias}
        return self._call("GET", _path("models", model_id, "impact"), ImpactResponse, params=params, pick="impact")

    def set_version_status(
        self,
        model_id: str,
        version: str,
        status: VersionStatus,
        *,
        status_message: str | None = None,
        if_match: IfMatch = AUTO,
        idempotency_key: str | None = None,
    ) -> StatusChangeResponse:
        """Move a version through its lifecycle; ``triggered_events`` lists the subscriptions fired."""
        body = _body(NewStatusRequest, status=status, status_message=status_message)
        path = _path("models", model_id, "versions", version, "new_status")
        return self._call(
            "POST",
            path,
            StatusChangeResponse,
            body=body,
            if_match=self._if_match(_path("models", model_id, "versions", version), if_match),
            idempotency_key=idempotency_key,
        )

    # Tags --------------------------------------------------------------------------------------
    # A tag is set or deleted on its own route: it never cuts a version nor marks anything stale.
    # Unconditional by default (one key is a command, not an edit of the whole resource, like an
    # alias move); ``if_match`` (the resource's entity_version) makes it conditional (409 otherwise).

    def set_model_tag(self, model_id: str, key: str, value: str, *, if_match: IfMatch = None) -> Model:
        """Set one tag of the model (adding or replacing it); the model as it is now. A key
        holding ``/`` can only be given at creation (the route cannot name it: 400)."""
        path = _path("models", model_id, "tags", key)
        body = _body(SetTagRequest, value=value)
        return self._call("PUT", path, ModelResponse, body=body, if_match=if_match, pick="model")

    def delete_model_tag(self, model_id: str, key: str, *, if_match: IfMatch = None) -> None:
        """Remove one tag of the model (``NotFound`` if it has no such tag)."""
        request = _Request("DELETE", _path("models", model_id, "tags", key), None, if_match=if_match)
        return self._run(self._delete_tag(request, _path("models", model_id), every_under=False))

    def set_version_tag(
        self, model_id: str, version: str, key: str, value: str, *, if_match: IfMatch = None
    ) -> Version:
        """Set one tag of a version (``latest`` and ``@alias`` name one too); the version as it is now."""
        path = _path("models", model_id, "versions", version, "tags", key)
        body = _body(SetTagRequest, value=value)
        return self._call("PUT", path, ModelVersionResponse, body=body, if_match=if_match, pick="version")

    def delete_version_tag(self, model_id: str, version: str, key: str, *, if_match: IfMatch = None) -> None:
        """Remove one tag of a version (``NotFound`` if it has no such tag)."""
        path = _path("models", model_id, "versions", version, "tags", key)
        # ``version`` may be latest or @alias: every version's remembered entity_version is dropped.
        request = _Request("DELETE", path, None, if_match=if_match)
        return self._run(self._delete_tag(request, _path("models", model_id, "versions"), every_under=True))

    def _delete_tag(self, request: _Request, changed: str, every_under: bool) -> Operation:
        """A tag's delete answers no body but bumps the entity_version of its resource: the one
        remembered for ``changed`` (or, ``every_under``, for every resource under it) is dropped."""
        yield request
        if every_under:
            self._forget(changed)
        else:
            self._etags.pop(changed, None)

    # Event subscriptions -----------------------------------------------------------------------

    def create_subscription(
        self,
        model_id: str,
        *,
        trigger_event: TriggerEvent,
        target_model_id: str,
        target_action: JobAction,
        input_source: InputSource,
        input: JsonObject | None = None,
        label: str | None = None,
        alias: str | None = None,
        idempotency_key: str | None = None,
    ) -> Subscription:
        """When ``model_id``'s ``trigger_event`` happens, run ``target_action`` on the target.
        ``trigger_event="alias_set"`` fires when ``alias`` (required then, refused for other
        events) moves to another version; a ``trigger_output`` one receives {model_id, alias,
        version, previous_version}."""
        # Sent only when given, so a PIE without alias events sees the body it always did.
        fields = {"alias": alias} if alias is not None else {}
        body = _body(
            CreateSubscriptionRequest,
            trigger_event=trigger_event,
            **fields,
            target_model_id=target_model_id,
            target_action=target_action,
            input_source=input_source,
            input=input,
            label=label,
        )
        path = _path("models", model_id, "event-subscriptions")
        return self._call("POST", path, Subscription, body=body, idempotency_key=idempotency_key)

    def list_subscriptions(
        self, model_id: str, *, limit: int | None = None, next_token: str | None = None
    ) -> SubscriptionList:
        params = {"limit": limit, "next_token": next_token}
        return self._call("GET", _path("models", model_id, "event-subscriptions"), SubscriptionList, params=params)

    def iter_subscriptions(self, model_id: str, *, page_size: int | None = None) -> Iterator[Subscription]:
        return self._pages(
            lambda token: self.list_subscriptions(model_id, limit=page_size, next_token=token), "subscriptions"
        )

    def get_subscription(self, model_id: str, subscription_id: str) -> Subscription:
        return self._call("GET", _path("models", model_id, "event-subscriptions", subscription_id), Subscription)

    def update_subscription(
        self,
        model_id: str,
        subscription_id: str,
        *,
        input: JsonObject | None = _UNSET,
        label: str | None = _UNSET,
        status: SubscriptionStatus | None = _UNSET,
        if_match: IfMatch = AUTO,
    ) -> Subscription:
        """Change only what is given; ``label=None`` clears the label, ``status="active"``
        re-validates a stale subscription and re-activates it."""
        changes = {
            name: value
            for name, value in (("input", input), ("label", label), ("status", status))
            if value is not _UNSET
        }
        body = _body(UpdateSubscriptionRequest, **changes)
        path = _path("models", model_id, "event-subscriptions", subscription_id)
        return self._call("PUT", path, Subscription, body=body, if_match=self._if_match(path, if_match))

    def delete_subscription(self, model_id: str, subscription_id: str) -> None:
        path = _path("models", model_id, "event-subscriptions", subscription_id)
        return self._call("DELETE", path, None, forget=path)

    def test_subscription(
        self, model_id: str, subscription_id: str, *, trigger_output: JsonObject | None = None
    ) -> DryRunResult:
        """A dry run: the job the subscription would create now, or what would stop it."""
        path = _path("models", model_id, "event-subscriptions", subscription_id, "test")
        return self._call("POST", path, DryRunResult, body=_body(DryRunRequest, trigger_output=trigger_output))

    # Aliases -----------------------------------------------------------------------------------
    # An alias names one active version (``champion`` -> "4"); wherever a version is named,
    # ``"@champion"`` names the version the alias points at.

    def set_alias(
        self,
        model_id: str,
        alias: str,
        version: str,
        reason: str | None = None,
        if_match: IfMatch = None,
    ) -> Alias:
        """Point ``alias`` at ``version`` (an active version, or ``"@other"``), creating it. Moving
        a protected alias needs the ``models:promote`` scope (``Forbidden`` otherwise).
        ``if_match`` (the alias's ``entity_version``) makes the move conditional: a ``Conflict``
        if someone moved it since. Unconditional by default: the last move wins, and both are in
        the history."""
        body = _body(SetAliasRequest, version=version, reason=reason)
        path = _path("models", model_id, "aliases", alias)
        return self._call("PUT", path, AliasResponse, body=body, if_match=if_match, pick="alias")

    def get_alias(self, model_id: str, alias: str, *, as_of: datetime | str | None = None) -> Alias:
        """The alias now, or with ``as_of`` (an aware datetime or an RFC 3339 string) as it
        stood then: ``NotFound`` if it did not exist at that instant."""
        params = {"as_of": _instant(as_of)}
        path = _path("models", model_id, "aliases", alias)
        return self._call("GET", path, AliasResponse, params=params, pick="alias")

    def list_aliases(self, model_id: str) -> list[Alias]:
        """Every alias of the model."""
        return self._call("GET", _path("models", model_id, "aliases"), AliasList, pick="aliases")

    def get_alias_history(
        self, model_id: str, alias: str, *, limit: int | None = None, next_token: str | None = None
    ) -> AliasHistory:
        """One page of the alias's moves and deletes, newest first."""
        params = {"limit": limit, "next_token": next_token}
        return self._call("GET", _path("models", model_id, "aliases", alias, "history"), AliasHistory, params=params)

    def alias_history(self, model_id: str, alias: str, *, page_size: int | None = None) -> Iterator[AliasChange]:
        """Every move of the alias (who, when, why; ``version`` None for a delete), newest first,
        page after page (one request per page, as the iteration needs it)."""
        return self._pages(
            lambda token: self.get_alias_history(model_id, alias, limit=page_size, next_token=token), "history"
        )

    def delete_alias(self, model_id: str, alias: str, *, if_match: IfMatch = None) -> None:
        """Delete the alias (its history keeps the delete). A protected alias needs ``models:promote``."""
        return self._call("DELETE", _path("models", model_id, "aliases", alias), None, if_match=if_match)

    # Jobs --------------------------------------------------------------------------------------

    def start_training(
        self, model_id: str, input: JsonObject, *, version: str | None = None, idempotency_key: str | None = None
    ) -> Job:
        """Queue a training job (default: the newest version, which goes to ``training``);
        ``version`` may name an alias (``"@candidate"``)."""
        return self._start(model_id, "training", input, version, idempotency_key)

    def start_inference(
        self, model_id: str, input: JsonObject, *, version: str | None = None, idempotency_key: str | None = None
    ) -> Job:
        """Queue an inference job (default: the active version), checked against the contract;
        ``version="@champion"`` runs whichever version the alias points at when PIE reads it."""
        return self._start(model_id, "inference", input, version, idempotency_key)

    def list_jobs(
        self,
        model_id: str,
        *,
        status: JobStatus | None = None,
        limit: int | None = None,
        next_token: str | None = None,
    ) -> JobList:
        params = {"status": status, "limit": limit, "next_token": next_token}
        return self._call("GET", _path("models", model_id, "jobs"), JobList, params=params)

    def iter_jobs(
        self, model_id: str, *, status: JobStatus | None = None, page_size: int | None = None
    ) -> Iterator[Job]:
        return self._pages(
            lambda token: self.list_jobs(model_id, status=status, limit=page_size, next_token=token), "jobs"
        )

    def get_job(self, model_id: str, job_id: str) -> Job:
        return self._call("GET", _path("models", model_id, "jobs", job_id), JobResponse, pick="job")

    def complete_job(
        self,
        model_id: str,
        job_id: str,
        status: CompletionStatus,
        *,
        output: JsonObject | None = None,
        error: str | None = None,
        completion_token: str | None = None,
        idempotency_key: str | None = None,
    ) -> CompletionResponse:
        """Report a job's result (what a Lambda or ECS handler does when it is done). A handler
        passes its envelope's ``completion_token``: then only the attempt it ran can be completed."""
        body = _body(CompleteJobRequest, status=status, output=output, error=error, completion_token=completion_token)
        path = _path("models", model_id, "jobs", job_id, "complete")
        return self._call("POST", path, CompletionResponse, body=body, idempotency_key=idempotency_key)

    # Job supervision (SPEC part two): cancel, redrive and the delivery log.

    def cancel_job(self, model_id: str, job_id: str, *, idempotency_key: str | None = None) -> Job:
        """End a queued or dispatched job as failed (outcome ``cancelled``)."""
        path = _path("models", model_id, "jobs", job_id, "cancel")
        return self._call("POST", path, JobResponse, idempotency_key=idempotency_key, pick="job")

    def retry_job(self, model_id: str, job_id: str, *, idempotency_key: str | None = None) -> Job:
        """Put a failed job back in the queue as its next attempt."""
        path = _path("models", model_id, "jobs", job_id, "retry")
        return self._call("POST", path, JobResponse, idempotency_key=idempotency_key, pick="job")

    def list_all_jobs(
        self,
        *,
        status: JobStatus | None = None,
        model_id: str | None = None,
        workspace: str | None = None,
        since: str | None = None,
        limit: int | None = None,
        next_token: str | None = None,
    ) -> JobList:
        """The delivery log: jobs across models, newest change first."""
        params = {
            "status": status,
            "model_id": model_id,
            "workspace": workspace,
            "since": since,
            "limit": limit,
            "next_token": next_token,
        }
        return self._call("GET", "/v2/jobs", JobList, params=params)

    def iter_all_jobs(
        self,
        *,
        status: JobStatus | None = None,
        model_id: str | None = None,
        workspace: str | None = None,
        since: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[Job]:
        return self._pages(
            lambda token: self.list_all_jobs(
                status=status,
                model_id=model_id,
                workspace=workspace,
                since=since,
                limit=page_size,
                next_token=token,
            ),
            "jobs",
        )

    def wait_for_job(
        self,
        model_id: str,
        job_id: str,
        *,
        timeout: float = 300.0,
        poll: float = 1.0,
        on_poll: Callable[[Job], None] | None = None,
    ) -> Job:
        """Poll until the job has succeeded or failed and return it; ``WaitTimeout`` after
        ``timeout`` seconds. ``on_poll`` sees every state read (for progress displays)."""
        return self._run(self._wait_for_job(model_id, job_id, timeout, poll, on_poll))

    def _wait_for_job(
        self, model_id: str, job_id: str, timeout: float, poll: float, on_poll: Callable[[Job], None] | None
    ) -> Operation:
        deadline = time.monotonic() + timeout
        while True:
            job = (yield _Request("GET", _path("models", model_id, "jobs", job_id), JobResponse)).job
            if on_poll is not None:
                on_poll(job)
            if job.finished:
                return job
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeout(f"job {job_id} of model {model_id} is still {job.status} after {timeout:g} s", job)
            yield _Sleep(min(poll, remaining))

    # Webhooks ----------------------------------------------------------------------------------
    # Endpoints PIE signs and sends its events to (docs/webhooks.md); check a delivery with
    # ``pie_client.webhooks.verify``. The secret is in create's and rotate's answers only.

    def create_webhook(
        self,
        url: str,
        *,
        events: list[str],
        workspace: str | None = None,
        model_ids: list[str] | None = None,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> WebhookWithSecret:
        """Register an endpoint for ``events`` (``["*"]``: all); ``model_ids`` limits it to those
        models. The answer holds ``secret``: keep it, no other answer shows it again."""
        body = _body(
            CreateWebhookRequest,
            url=url,
            events=events,
            **_given(workspace=workspace, model_ids=model_ids, description=description),
        )
        return self._call(
            "POST", "/v2/webhooks", WebhookSecretResponse, body=body, idempotency_key=idempotency_key, pick="webhook"
        )

    def list_webhooks(self, *, limit: int | None = None, next_token: str | None = None) -> WebhookList:
        return self._call("GET", "/v2/webhooks", WebhookList, params={"limit": limit, "next_token": next_token})

    def iter_webhooks(self, *, page_size: int | None = None) -> Iterator[Webhook]:
        """Every webhook the caller's workspaces hold, page after page."""
        return self._pages(lambda token: self.list_webhooks(limit=page_size, next_token=token), "webhooks")

    def get_webhook(self, webhook_id: str) -> Webhook:
        return self._call("GET", _path("webhooks", webhook_id), WebhookResponse, pick="webhook")

    def update_webhook(
        self,
        webhook_id: str,
        *,
        url: str = _UNSET,
        events: list[str] = _UNSET,
        model_ids: list[str] | None = _UNSET,
        description: str | None = _UNSET,
        status: WebhookStatus = _UNSET,
    ) -> Webhook:
        """Change only the fields given (``model_ids=None``: every model again); ``status="active"``
        enables an endpoint PIE disabled after days of failures."""
        given = {"url": url, "events": events, "model_ids": model_ids, "description": description, "status": status}
        body = _body(UpdateWebhookRequest, **{field: value for field, value in given.items() if value is not _UNSET})
        return self._call("PUT", _path("webhooks", webhook_id), WebhookResponse, body=body, pick="webhook")

    def delete_webhook(self, webhook_id: str) -> None:
        return self._call("DELETE", _path("webhooks", webhook_id), None)

    def rotate_webhook_secret(self, webhook_id: str, *, idempotency_key: str | None = None) -> WebhookWithSecret:
        """A new secret (in this answer only); the one it replaces still signs for 24 hours."""
        path = _path("webhooks", webhook_id, "rotate-secret")
        return self._call("POST", path, WebhookSecretResponse, idempotency_key=idempotency_key, pick="webhook")

    def ping_webhook(self, webhook_id: str, *, idempotency_key: str | None = None) -> Webhook:
        """Send a ``ping`` event to the endpoint; its delivery shows in the delivery log."""
        path = _path("webhooks", webhook_id, "ping")
        return self._call("POST", path, WebhookResponse, idempotency_key=idempotency_key, pick="webhook")

    def list_webhook_deliveries(
        self,
        webhook_id: str,
        *,
        status: DeliveryStatus | None = None,
        limit: int | None = None,
        next_token: str | None = None,
    ) -> DeliveryList:
        """One page of the endpoint's delivery log, newest first, each with its attempts."""
        params = {"status": status, "limit": limit, "next_token": next_token}
        return self._call("GET", _path("webhooks", webhook_id, "deliveries"), DeliveryList, params=params)

    def iter_webhook_deliveries(
        self, webhook_id: str, *, status: DeliveryStatus | None = None, page_size: int | None = None
    ) -> Iterator[Delivery]:
        return self._pages(
            lambda token: self.list_webhook_deliveries(webhook_id, status=status, limit=page_size, next_token=token),
            "deliveries",
        )

    def retry_webhook_delivery(
        self, webhook_id: str, delivery_id: str, *, idempotency_key: str | None = None
    ) -> Delivery:
        """Send a failed delivery again now, under the same ``webhook-id``."""
        path = _path("webhooks", webhook_id, "deliveries", delivery_id, "retry")
        return self._call("POST", path, DeliveryResponse, idempotency_key=idempotency_key, pick="delivery")

    # Handlers ----------------------------------------------------------------------------------

    def check_handlers(self, handlers: list[Handlers | JsonObject]) -> list[HandlerCheck]:
        """Would this PIE's handler policy (its allow-list, its in-process implementations) accept
        each pair of handlers? One result per pair, in order; writes nothing. At most 100 pairs."""
        body = _body(CheckHandlersRequest, handlers=handlers)
        return self._call("POST", "/v2/handlers/check", CheckHandlersResponse, body=body, pick="results")

    # Plumbing ----------------------------------------------------------------------------------

    def get_openapi(self) -> dict[str, Any] | None:
        """The server's OpenAPI document (its schemas and rules), or None if it publishes none."""
        return self._run(self._get_openapi())

    def _get_openapi(self) -> Operation:
        try:
            document = yield _Request("GET", "/v2/openapi.json", None, raw_json=True)
        except NotFound:
            return None
        return document if isinstance(document, dict) else None

    def last_seen_version(self, path: str) -> int | None:
        """The entity_version last seen for a resource path, e.g. ``/v2/models/m1``."""
        return self._etags.get(path)

    def _start(self, model_id: str, action: JobAction, input: JsonObject, version: str | None, key: str | None) -> Job:
        body = _body(StartJobRequest, input=input, version=version)
        path = _path("models", model_id, action)
        return self._call("POST", path, JobResponse, body=body, idempotency_key=key, pick="job")

    def _call(
        self,
        method: str,
        path: str,
        answer: type[Answer] | None,
        *,
        body: BaseModel | None = None,
        params: dict[str, Any] | None = None,
        if_match: int | str | None = None,
        idempotency_key: str | None = None,
        pick: str | None = None,
        forget: str | None = None,
    ) -> Any:
        """One request; ``pick`` answers a field of the response, ``forget`` drops the If-Match
        versions remembered under a path once the request succeeded (a delete)."""
        request = _Request(method, path, answer, body, params, if_match, idempotency_key)
        return self._run(self._single(request, pick, forget))

    def _single(self, request: _Request, pick: str | None, forget: str | None) -> Operation:
        answer = yield request
        if forget is not None:
            self._forget(forget)
        return getattr(answer, pick) if pick is not None else answer

    @staticmethod
    def _wire(request: _Request) -> tuple[Any, dict[str, str]]:
        """The JSON body and the headers a request is sent with."""
        headers: dict[str, str] = {}
        if request.method == "POST":
            headers["Idempotency-Key"] = request.idempotency_key or str(uuid.uuid4())
        if request.if_match is not None:
            value = request.if_match
            headers["If-Match"] = f'"{value}"' if isinstance(value, int) else value
        # Only the fields the caller set: an update of a subscription's status must not clear its label.
        payload = request.body.model_dump(mode="json", exclude_unset=True) if request.body is not None else None
        return payload, headers

    def _answer(self, request: _Request, response: httpx.Response) -> Any:
        """The response read as the request's answer type, its entity versions remembered."""
        if request.raw_json:
            try:
                return response.json()
            except ValueError:
                return None
        if request.answer is None:
            return None
        try:
            parsed = request.answer.model_validate_json(response.content)
        except ValidationError as unreadable:
            what = f"{request.method} {request.path} answered a {request.answer.__name__} this SDK cannot read"
            raise from_validation(unreadable, what, UnexpectedResponse) from None
        self._remember(parsed)
        return parsed

    def _if_match(self, path: str, requested: IfMatch) -> int | str | None:
        if requested is AUTO:
            return self._etags.get(path) if self.auto_if_match else None
        return requested

    def _remember(self, value: Any) -> None:
        """Note the entity_version of every model, version and subscription in an answer."""
        if isinstance(value, Model):
            self._etags[_path("models", value.id)] = value.entity_version
        elif isinstance(value, Version):
            self._etags[_path("models", value.model_id, "versions", value.version)] = value.entity_version
        elif isinstance(value, Subscription):
            path = _path("models", value.source_model_id, "event-subscriptions", value.id)
            self._etags[path] = value.entity_version
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                self._remember(getattr(value, name))
        elif isinstance(value, list):
            for item in value:
                self._remember(item)

    def _forget(self, prefix: str) -> None:
        for path in [path for path in self._etags if path == prefix or path.startswith(prefix + "/")]:
            del self._etags[path]


def _body(request: type[Answer], **fields: Any) -> Answer:
    """A request body, or ``InvalidRequest`` (a PIE error) naming the argument that does not fit."""
    try:
        return request(**fields)
    except ValidationError as invalid:
        raise from_validation(invalid, f"invalid {request.__name__}") from None


def _given(**fields: Any) -> dict[str, Any]:
    """The optional fields the caller gave (not None), so a body holds only those."""
    return {name: value for name, value in fields.items() if value is not None}


def _model_fields(model: Model) -> dict[str, Any]:
    """The fields of a model that a full replacement (PUT) carries, as they are now."""
    fields: dict[str, Any] = {
        "name": model.name,
        "description": model.description,
        "handlers": model.handlers,
        "handler_contracts": model.handler_contracts,
        "metadata": model.metadata,
    }
    # Sent only when set, so a PIE (or a token) without aliases sees the body it always did.
    if model.protected_aliases:
        fields["protected_aliases"] = model.protected_aliases
    if model.promotion is not None:
        fields["promotion"] = model.promotion
    return fields


def _instant(value: datetime | str | None) -> str | None:
    """An RFC 3339 instant for a query; a naive datetime is refused (which zone would it be?)."""
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        raise InvalidRequest("as_of: a datetime needs a time zone (e.g. datetime.now(UTC))")
    return value.isoformat()


def _path(*segments: str) -> str:
    return "/v2/" + "/".join(quote(segment, safe="") for segment in segments)


class PieClient(_PieOperations):
    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        token: str | Callable[[], str | None] | None = None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        auto_if_match: bool = True,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``token`` is a bearer token, or a function returning one (called before every request,
        so it can refresh). ``transport`` replaces httpx's network transport (tests, proxies)."""
        super().__init__(base_url, auto_if_match)
        self._sleep = sleep
        self._transport = Transport(
            self.base_url,
            _token_source(token),
            timeout=timeout,
            retry=retry,
            http=transport,
            sleep=sleep,
            user_agent=f"pie-client/{__version__}",
        )

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> PieClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run(self, operation: Operation) -> Any:
        outcome: Any = None
        failure: BaseException | None = None
        while True:
            try:
                step = operation.throw(failure) if failure is not None else operation.send(outcome)
            except StopIteration as done:
                return done.value
            outcome, failure = None, None
            if isinstance(step, _Sleep):
                self._sleep(step.seconds)
                continue
            payload, headers = self._wire(step)
            try:
                response = self._transport.request(
                    step.method, step.path, json=payload, params=step.params, headers=headers
                )
                outcome = self._answer(step, response)
            except PieError as error:
                failure = error

    def _pages(self, fetch: Callable[[str | None], Any], field: str) -> Iterator[Any]:
        token: str | None = None
        while True:
            page = fetch(token)
            yield from getattr(page, field)
            token = page.next_token
            if not token:
                return


class AsyncPieClient(_PieOperations):
    """``PieClient`` on ``httpx.AsyncClient``: the same methods, arguments, models and errors, each
    returning a coroutine (``await pie.get_model("m")``); ``iter_*`` are async iterators.

        async with AsyncPieClient(url, token) as pie:
            job = await pie.start_training("prices", {"day": "2026-11-30"})
            done = await pie.wait_for_job("prices", job.id)
            async for model in pie.iter_models():
                ...
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        token: str | Callable[[], str | None] | None = None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        auto_if_match: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(base_url, auto_if_match)
        self._sleep = sleep
        self._transport = AsyncTransport(
            self.base_url,
            _token_source(token),
            timeout=timeout,
            retry=retry,
            http=transport,
            sleep=sleep,
            user_agent=f"pie-client/{__version__}",
        )

    async def aclose(self) -> None:
        await self._transport.close()

    async def __aenter__(self) -> AsyncPieClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _run(self, operation: Operation) -> Awaitable[Any]:
        return self._drive(operation)

    async def _drive(self, operation: Operation) -> Any:
        outcome: Any = None
        failure: BaseException | None = None
        while True:
            try:
                step = operation.throw(failure) if failure is not None else operation.send(outcome)
            except StopIteration as done:
                return done.value
            outcome, failure = None, None
            if isinstance(step, _Sleep):
                await self._sleep(step.seconds)
                continue
            payload, headers = self._wire(step)
            try:
                response = await self._transport.request(
                    step.method, step.path, json=payload, params=step.params, headers=headers
                )
                outcome = self._answer(step, response)
            except PieError as error:
                failure = error

    async def _pages(self, fetch: Callable[[str | None], Any], field: str) -> AsyncIterator[Any]:
        token: str | None = None
        while True:
            page = await fetch(token)
            for item in getattr(page, field):
                yield item
            token = page.next_token
            if not token:
                return


def _token_source(token: str | Callable[[], str | None] | None) -> Callable[[], str | None]:
    return token if callable(token) else (lambda: token)

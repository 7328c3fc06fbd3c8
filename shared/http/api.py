"""One route function's HTTP API: a Powertools resolver for exactly one row of the route table.

It validates path, query, headers and body with the route's pydantic models, checks the caller's
scope (``shared.http.auth``), parses If-Match, answers with the row's success status and ETag, maps
typed errors to statuses, and logs each request once. A route function only does its work::

    api = route_api(__name__)

    @api.handler
    def get_model(model_id: ModelIdPath) -> ModelResponse:
        return model_registry().get_model(model_id, api.access)

    lambda_handler = api.lambda_handler
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent
from pydantic import BaseModel

from shared.domain.access import Access
from shared.domain.errors import PieError, RequestInvalidError
from shared.domain.responses.encoded import Encoded
from shared.http.auth import Principal, authorize
from shared.http.catalogue import operation
from shared.http.errors import describe_validation_errors, error_body, status_for
from shared.http.json_body import parse_json_body
from shared.http.params import if_match_header, parse_if_match
from shared.http.prescreen import unreadable_body
from shared.observability import log_invocations, logger, tracer
from shared.routes import Route, route_for

F = TypeVar("F", bound=Callable[..., Any])
NO_CONTENT = 204


def route_api(module: str) -> RouteApi:
    """The API of the route that ``functions/<function>/handler.py`` serves (pass ``__name__``)."""
    package, _, rest = module.partition(".")
    function, _, name = rest.partition(".")
    if package != "functions" or name != "handler":
        raise ValueError(f"{module} is not a functions/<function>/handler.py module")
    return RouteApi(route_for(function))


@dataclass
class _RequestState:
    """What Powertools keeps about the request being resolved."""

    event: BaseProxyEvent | None = None
    lambda_context: Any = None
    context: dict[str, Any] = field(default_factory=dict)
    processed_stack_frames: list[str] = field(default_factory=list)


class _WholePathResolver(APIGatewayHttpResolver):
    """The route's resolver, with two changes to Powertools' own.

    Powertools keeps the request being resolved on class attributes (``BaseRouter.current_event``,
    ``lambda_context``, shared by every resolver of the process) and on the resolver (``context``):
    two invocations at once would read each other's path, query and caller. Deployed, a process
    serves one invocation at a time; ``pie-local serve`` runs every function in one process, on
    many threads. Here each invocation's state is its own, in a context variable (as Powertools'
    ``HttpResolverLocal`` does), so invocations can run at once, locally as deployed.

    Powertools anchors a route's pattern with ``$``, which also matches before a trailing newline:
    ``/v2/models/fz%0a`` would reach model ``fz``. ``\\Z`` anchors at the very end, so such a path
    matches no route (a 400 naming the parameter).
    """

    def __init__(self, **options: Any) -> None:
        # Before Powertools' __init__, which sets ``context``.
        self._idle = _RequestState()
        self._request: ContextVar[_RequestState | None] = ContextVar(f"request_{id(self)}", default=None)
        super().__init__(**options)

    @property
    def _state(self) -> _RequestState:
        return self._request.get() or self._idle

    @property  # type: ignore[override]
    def current_event(self) -> BaseProxyEvent:
        return self._state.event  # type: ignore[return-value]

    @current_event.setter
    def current_event(self, value: BaseProxyEvent) -> None:
        self._state.event = value

    @property  # type: ignore[override]
    def lambda_context(self) -> Any:
        return self._state.lambda_context

    @lambda_context.setter
    def lambda_context(self, value: Any) -> None:
        self._state.lambda_context = value

    @property  # type: ignore[override]
    def context(self) -> dict[str, Any]:
        return self._state.context

    @context.setter
    def context(self, value: dict[str, Any]) -> None:
        self._state.context = value

    @property  # type: ignore[override]
    def processed_stack_frames(self) -> list[str]:
        return self._state.processed_stack_frames

    @processed_stack_frames.setter
    def processed_stack_frames(self, value: list[str]) -> None:
        self._state.processed_stack_frames = value

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        """Powertools' ``resolve``, with the request's state in this invocation's own context."""
        token = self._request.set(_RequestState(event=self._to_proxy_event(dict(event)), lambda_context=context))
        try:
            return self._build_response(self._resolve())
        finally:
            self._request.reset(token)

    @staticmethod
    def _compile_regex(rule: str, base_regex: str = r"^{}\Z") -> re.Pattern[str]:
        return APIGatewayHttpResolver._compile_regex(rule, base_regex)


class RouteApi:
    """The resolver of one route's function, configured by the route's row."""

    def __init__(self, route: Route) -> None:
        self.route = route
        self.resolver = _WholePathResolver(enable_validation=True, json_body_deserializer=parse_json_body)
        # A POST that writes nothing keeps no Idempotency-Key records: repeating it is harmless.
        self.remembers_idempotency_keys = self.route.method == "POST" and not self.route.read_only
        self._query_names: frozenset[str] = frozenset()

        # Powertools inspects a middleware's signature (get_type_hints, which compiles each string
        # annotation) once and keeps the result on the callable; a bound method cannot keep it, so
        # it would be inspected again on every request. A function can.
        def admit(resolver: APIGatewayHttpResolver, next_middleware: Callable) -> Response:
            return self._admit(resolver, next_middleware)

        middlewares = [admit]
        if self.remembers_idempotency_keys:
            # Imported here so read routes never load the idempotency utility at cold start.
            from shared.http.idempotency import idempotency_middleware
            from shared.runtime import idempotency_store

            middlewares.append(idempotency_middleware(idempotency_store, lambda: self.principal.subject))
        self.resolver.use(middlewares)
        self.resolver.exception_handler(RequestValidationError)(self._invalid_request)
        self.resolver.exception_handler(PieError)(self._domain_error)
        self.resolver.exception_handler(NotFoundError)(self._no_such_route)
        self.resolver.exception_handler(RequestUnsupportedContentType)(self._unsupported_body)
        self.resolver.exception_handler(Exception)(self._unexpected_error)
        self.lambda_handler = self._entrypoint()

    @property
    def principal(self) -> Principal:
        return self.resolver.context["principal"]

    @property
    def access(self) -> Access:
        """The caller's reach over workspaces, which the services check."""
        return self.resolver.context["access"]

    def handler(self, endpoint: F) -> F:
        """Register ``endpoint`` as this function's only route.

        It is named after its function, takes the route's parameters (``if_match: int | None`` when
        the row takes If-Match) and returns its response model, as its return annotation says
        (``None`` for a 204), or that model's JSON already built (``Encoded[SomeResponse]``,
        ``shared.domain.responses.encoded``), which carries the ETag when the row sends one. The
        row's status and ETag are applied here, and go with the response model and the row's
        refusals into the OpenAPI document. A mismatch fails at import.
        """
        hints = get_type_hints(endpoint, include_extras=True)
        encoded = get_origin(hints.get("return")) is Encoded
        if encoded:
            (hints["return"],) = get_args(hints["return"])
        response = _response_model(self.route, endpoint, hints)
        etag_of = _etag_reader(self.route, response)
        signature = inspect.signature(endpoint)
        if ("if_match" in signature.parameters) != (self.route.if_match is not None):
            raise TypeError(f"{self.route.function} must take if_match exactly when its route row takes If-Match")
        self._query_names = _query_names(hints)
        route = self.route

        def answer(**arguments: Any) -> Response:
            if route.if_match is not None:
                arguments["if_match"] = parse_if_match(arguments["if_match"])
            result = endpoint(**arguments)
            if response is None:
                if result is not None:
                    raise TypeError(f"{route.function} answers no content but returned {type(result).__name__}")
                return Response(NO_CONTENT, body="")
            if encoded:
                if not (isinstance(result, Encoded) and result.response is response):
                    raise TypeError(f"{route.function} must return Encoded[{response.__name__}], not {result!r}")
                if etag_of is not None and result.etag is None:
                    raise TypeError(f"{route.function} answers an ETag: its encoded response must carry one")
                headers = {"ETag": f'"{result.etag}"'} if etag_of is not None else None
                return Response(route.status, content_types.APPLICATION_JSON, result.text, headers=headers)
            if not isinstance(result, response):
                raise TypeError(f"{route.function} must return {response.__name__}, not {type(result).__name__}")
            headers = {"ETag": f'"{etag_of(result)}"'} if etag_of is not None else None
            return Response(route.status, content_types.APPLICATION_JSON, result.model_dump_json(), headers=headers)

        # Powertools reads the parameters to validate from this signature, with the annotations
        # resolved here (it would resolve names in this module's globals, not the endpoint's). The
        # response is built above, so Powertools is not asked to serialize the return value again.
        answer.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[
                parameter.replace(
                    annotation=if_match_header(route.if_match.value)
                    if parameter.name == "if_match" and route.if_match is not None
                    else hints.get(parameter.name, parameter.annotation)
                )
                for parameter in signature.parameters.values()
            ],
            return_annotation=inspect.Signature.empty,
        )
        self.resolver.route(
            rule=route.resolver_rule,
            method=route.method,
            **operation(route, endpoint, response, self.remembers_idempotency_keys),
        )(answer)
        return endpoint

    def _admit(self, resolver: APIGatewayHttpResolver, next_middleware: Callable) -> Response:
        """The caller's token first (a 401 or 403 before anything about the request), then the
        query: a parameter the route does not take is a 400, not silently ignored."""
        principal, access = authorize(resolver.current_event.raw_event, self.route.scope)
        resolver.append_context(principal=principal, access=access)
        unknown = sorted(set(resolver.current_event.query_string_parameters or {}) - self._query_names)
        if unknown:
            accepted = ", ".join(sorted(self._query_names)) or "none"
            raise RequestInvalidError(
                f"unknown query parameter(s) {', '.join(map(repr, unknown))}; accepted: {accepted}"
            )
        return next_middleware(resolver)

    def _invalid_request(self, error: RequestValidationError) -> Response:
        return self._logged(400, describe_validation_errors(list(error.errors())))

    def _domain_error(self, error: PieError) -> Response:
        return self._logged(status_for(error), error.message)

    def _no_such_route(self, _: NotFoundError) -> Response:
        # API Gateway invokes this function only for its route, so a path Powertools cannot match
        # to it holds characters no identifier may contain.
        names = ", ".join(self.route.path_parameters) or "path"
        return self._logged(400, f"the request path has characters no {names} may contain")

    def _unsupported_body(self, _: Exception) -> Response:
        return self._logged(400, "send the body as JSON with Content-Type: application/json")

    def _unexpected_error(self, error: Exception) -> Response:
        request_id = self.resolver.current_event.request_context.request_id
        logger.error("unexpected error", exc_info=error, extra={"route": self.route.route_key})
        return _error_response(500, "internal error", request_id=request_id)

    def _logged(self, status: int, message: str) -> Response:
        self._log_refusal(status, message)
        return _error_response(status, message)

    def _log_refusal(self, status: int, message: str) -> None:
        logger.info("request refused", extra={"route": self.route.route_key, "status": status, "reason": message})

    def _entrypoint(self) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        resolve = self.resolver.resolve

        @log_invocations(correlation_paths.API_GATEWAY_HTTP)
        @tracer.capture_lambda_handler
        def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            unreadable = unreadable_body(event)
            if unreadable is not None:
                self._log_refusal(400, unreadable)
                return {
                    "statusCode": 400,
                    "headers": {"Content-Type": content_types.APPLICATION_JSON},
                    "body": json.dumps(error_body(unreadable)),
                    "isBase64Encoded": False,
                }
            return resolve(event, context)

        return lambda_handler


def _response_model(route: Route, endpoint: Callable[..., Any], hints: dict[str, Any]) -> type[BaseModel] | None:
    """What ``endpoint`` answers, from its return annotation: a response model, or None for a 204."""
    if endpoint.__name__ != route.function:
        raise TypeError(f"functions/{route.function}/handler.py must define {route.function}, not {endpoint.__name__}")
    if "return" not in hints:
        raise TypeError(f"{route.function} must declare what it returns")
    response = hints["return"]
    if response is type(None):
        if route.status != NO_CONTENT:
            raise TypeError(f"{route.function} returns nothing, but its route answers {route.status}")
        return None
    if route.status == NO_CONTENT or not (isinstance(response, type) and issubclass(response, BaseModel)):
        raise TypeError(f"{route.function} must return a response model, or None for a {NO_CONTENT}")
    return response


def _etag_reader(route: Route, response: type[BaseModel] | None) -> Callable[[Any], int] | None:
    """How to read the ETag the row names from a response: its field of that name, or the response
    itself when it is that entity (a subscription)."""
    if route.etag is None:
        return None
    name = route.etag.value
    if response is not None and name in response.model_fields:
        entity = response.model_fields[name].annotation
        if isinstance(entity, type) and "entity_version" in getattr(entity, "model_fields", {}):
            return lambda result: getattr(result, name).entity_version
    if response is not None and response.__name__.lower() == name and "entity_version" in response.model_fields:
        return lambda result: result.entity_version
    raise TypeError(f"{route.function} sends the {name}'s ETag, but what it returns holds no {name}")


def _query_names(hints: dict[str, Any]) -> frozenset[str]:
    """The query parameters an endpoint declares; any other is refused, like unknown body fields."""
    names = set()
    for name, hint in hints.items():
        for marker in getattr(hint, "__metadata__", ()):
            if isinstance(marker, Query):
                names.add(marker.alias or name)
    return frozenset(names)


def _error_response(status: int, message: str, **extra: Any) -> Response:
    return Response(status, content_types.APPLICATION_JSON, json.dumps(error_body(message, **extra)))

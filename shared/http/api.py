"""One route function's HTTP API: a Powertools resolver for exactly one row of the route table.

It validates path, query, headers and body with the route's pydantic models, checks the caller's
scope from the JWT authorizer's claims, maps typed errors to statuses, and logs each request once.
"""

from __future__ import annotations

import base64
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, get_type_hints

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from pydantic import BaseModel

from shared.domain.access import ADMIN_SCOPE, DEFAULT_WORKSPACES_CLAIM, Access, is_workspace_name
from shared.domain.entities import MODEL_ID_PATTERN, UUID_PATTERN, VERSION_PATTERN
from shared.domain.errors import AuthenticationRequiredError, PieError, RequestInvalidError, ScopeMissingError
from shared.domain.responses import ErrorResponse, InternalErrorResponse
from shared.http.errors import describe_validation_errors, error_body, status_for
from shared.http.json_body import MAX_JSON_DEPTH, nesting_depth, parse_json_body
from shared.observability import logger, tracer
from shared.routes import Route, route_for

F = TypeVar("F", bound=Callable[..., Any])

ModelIdPath = Annotated[str, Path(pattern=MODEL_ID_PATTERN, description="Model id")]
VersionPath = Annotated[str, Path(pattern=VERSION_PATTERN, description="Version, or `latest` for the newest")]
SubscriptionIdPath = Annotated[
    str,
    Path(pattern=UUID_PATTERN, description="Event subscription id (a UUID)", json_schema_extra={"format": "uuid"}),
]
JobIdPath = Annotated[
    str, Path(pattern=UUID_PATTERN, description="Job id (a UUID)", json_schema_extra={"format": "uuid"})
]
LimitQuery = Annotated[int, Query(ge=1, le=100, description="Page size (1-100)")]
PageTokenQuery = Annotated[str | None, Query(max_length=4096, description="Opaque token from the previous page")]
IF_MATCH_PATTERN = r'^\s*(W/)?"?[0-9]{1,18}"?\s*$'
IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        pattern=IF_MATCH_PATTERN,
        description='Make the write conditional on this entity_version (an ETag: 3, "3" or W/"3")',
    ),
]

_ETAG = re.compile(r'^\s*(W/)?"?(?P<version>[0-9]{1,18})"?\s*$')


@dataclass(frozen=True)
class Principal:
    subject: str
    scopes: frozenset[str]
    workspaces: frozenset[str] = frozenset()


def principal_from_event(event: dict[str, Any], workspaces_claim: str = DEFAULT_WORKSPACES_CLAIM) -> Principal:
    """The caller, from the HTTP API JWT authorizer's context (payload 2.0).

    Claims arrive as strings; ``scopes`` is null unless the authorizer matched scopes, so the
    ``scope`` claim (or ``scp``) is read too, split on plain spaces only as API Gateway splits it
    (RFC 6749's scope-token separator): a tab, newline or no-break space is part of a scope.
    The workspaces claim may be a space-separated string or a list, which API Gateway hands over
    as the string ``[a b]``.
    """
    jwt = ((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt") or {}
    claims = jwt.get("claims") or {}
    subject = claims.get("sub")
    if not subject:
        raise AuthenticationRequiredError("a valid bearer token is required")
    scopes = set(jwt.get("scopes") or ())
    for claim in ("scope", "scp"):
        value = claims.get(claim)
        if isinstance(value, str):
            scopes.update(scope for scope in value.split(" ") if scope)
        elif isinstance(value, list):
            scopes.update(str(item) for item in value)
    return Principal(
        subject=str(subject), scopes=frozenset(scopes), workspaces=claimed_workspaces(claims.get(workspaces_claim))
    )


def claimed_workspaces(value: Any) -> frozenset[str]:
    """The workspace names in a claim: ``"a b"``, ``"a,b"``, ``"[a b]"`` or ``["a", "b"]``.
    Anything that is not a workspace name is ignored: no model can belong to it."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        names = text.replace(",", " ").split()
    elif isinstance(value, list):
        names = [str(item) for item in value]
    else:
        return frozenset()
    return frozenset(name for name in names if is_workspace_name(name))


def parse_if_match(value: str | None) -> int | None:
    if value is None:
        return None
    match = _ETAG.fullmatch(value)
    if match is None:
        raise RequestInvalidError('If-Match must be an entity_version, e.g. If-Match: "3"')
    return int(match["version"])


def json_response(result: BaseModel, status: int = 200, etag: int | None = None) -> Response:
    headers = {"ETag": f'"{etag}"'} if etag is not None else None
    return Response(status, content_types.APPLICATION_JSON, result.model_dump_json(), headers=headers)


def no_content() -> Response:
    return Response(204, body="")


def _unreadable_body(event: dict[str, Any]) -> str | None:
    """Why the body cannot be read as PIE's JSON, or None. Checked before Powertools parses it,
    which would read a form as fields, fail on bytes that are not UTF-8 or on an unknown content
    type, and recurse without bound into deeply nested JSON."""
    body = event.get("body")
    if not body:
        return None
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    media_type = headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        return "send the body as JSON with Content-Type: application/json"
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return "request body is not valid UTF-8 JSON"
    if nesting_depth(body) > MAX_JSON_DEPTH:
        return f"request body nests JSON deeper than {MAX_JSON_DEPTH} levels"
    return None


def _error_response(status: int, message: str, **extra: Any) -> Response:
    return Response(status, content_types.APPLICATION_JSON, json.dumps(error_body(message, **extra)))


BEARER_SCHEME = "jwt"
COMMON_ERRORS = (400, 401, 403)
IDEMPOTENCY_ERRORS = (409, 422)  # Idempotency-Key: a request still in progress, a key reused
ERROR_DESCRIPTIONS = {
    400: "Malformed request: invalid JSON, or a body, path or query that fails validation",
    401: "Missing, invalid or expired bearer token",
    403: "The token lacks the route's scope, or the model's workspace is not among the caller's",
    404: "No such model, version, subscription or job",
    409: "Conflict: it already exists, If-Match does not match, or the same Idempotency-Key is in flight",
    422: "Semantically invalid: illegal transition, unknown target, contract mismatch, handler not allowed",
    500: "Internal error (never caused by the request's content)",
}


ETAG_HEADER = {
    "description": 'The entity_version of the entity answered (e.g. "3"): send it back as If-Match',
    "required": True,
    "schema": {"type": "string", "pattern": '^"[0-9]{1,18}"$'},
}


def sends_etag(response: type[BaseModel]) -> bool:
    """Whether a response answers one entity, whose entity_version ``json_response`` sends as its
    ETag: the model has an entity_version, or holds a model that has one (lists hold many)."""
    if "entity_version" in response.model_fields:
        return True
    return any(
        isinstance(field.annotation, type)
        and issubclass(field.annotation, BaseModel)
        and "entity_version" in field.annotation.model_fields
        for field in response.model_fields.values()
    )


def operation_responses(
    route: Route, response: type[BaseModel] | None, status: int, errors: tuple[int, ...], idempotent: bool
) -> dict[int, dict[str, Any]]:
    responses: dict[int, dict[str, Any]] = {}
    if response is None:
        responses[status] = {"description": "Done; no content"}
    else:
        responses[status] = {"description": "Success", "content": {"application/json": {"model": response}}}
        if sends_etag(response):
            responses[status]["headers"] = {"ETag": ETAG_HEADER}
    refusals = set(COMMON_ERRORS) | set(errors) | (set(IDEMPOTENCY_ERRORS) if idempotent else set())
    if route.path_parameters:
        refusals.add(404)
    for code in sorted(refusals):
        responses[code] = {
            "description": ERROR_DESCRIPTIONS[code],
            "content": {"application/json": {"model": ErrorResponse}},
        }
    responses[500] = {
        "description": ERROR_DESCRIPTIONS[500],
        "content": {"application/json": {"model": InternalErrorResponse}},
    }
    return responses


def _describe(endpoint: Callable[..., Any]) -> tuple[str, str]:
    """Summary and description from the function module's docstring ("METHOD path — summary.")."""
    text = (sys.modules[endpoint.__module__].__doc__ or "").strip()
    first, _, rest = text.partition("\n")
    summary = first.split(" — ", 1)[-1].rstrip(".")
    return summary[:1].upper() + summary[1:], text


def _query_names(endpoint: Callable[..., Any]) -> frozenset[str]:
    """The query parameters an endpoint declares; any other is refused, like unknown body fields."""
    names = set()
    for name, hint in get_type_hints(endpoint, include_extras=True).items():
        for marker in getattr(hint, "__metadata__", ()):
            if isinstance(marker, Query):
                names.add(marker.alias or name)
    return frozenset(names)


def _tag(route: Route) -> str:
    for segment, tag in (
        ("event-subscriptions", "subscriptions"),
        ("jobs", "jobs"),
        ("inference", "jobs"),
        ("training", "jobs"),
        ("version", "versions"),
    ):
        if segment in route.path:
            return tag
    return "models"


class _WholePathResolver(APIGatewayHttpResolver):
    """Powertools anchors a route's pattern with ``$``, which also matches before a trailing newline:
    ``/v2/models/fz%0a`` would reach model ``fz``. ``\\Z`` anchors at the very end, so such a path
    matches no route (a 400 naming the parameter)."""

    @staticmethod
    def _compile_regex(rule: str, base_regex: str = r"^{}\Z") -> re.Pattern[str]:
        return APIGatewayHttpResolver._compile_regex(rule, base_regex)


class RouteApi:
    """The resolver of ``functions/<function>``; its route comes from the route table."""

    def __init__(self, function: str) -> None:
        self.route: Route = route_for(function)
        self.resolver = _WholePathResolver(enable_validation=True, json_body_deserializer=parse_json_body)
        # A POST that writes nothing keeps no Idempotency-Key records: repeating it is harmless.
        self.remembers_idempotency_keys = self.route.method == "POST" and not self.route.read_only
        self._query_names: frozenset[str] = frozenset()
        middlewares = [self._authorize, self._reject_unknown_query]
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

    def handler(
        self, response: type[BaseModel] | None, status: int = 200, errors: tuple[int, ...] = ()
    ) -> Callable[[F], F]:
        """Register the decorated endpoint as this function's only route.

        ``response`` answers with ``status``; ``errors`` are the statuses the route can refuse with
        beyond those every route can (400, 401, 403, 500). Both go into the OpenAPI document.
        """

        def register(endpoint: F) -> F:
            self._query_names = _query_names(endpoint)
            summary, description = _describe(endpoint)
            return self.resolver.route(
                rule=self.route.resolver_rule,
                method=self.route.method,
                operation_id=self.route.function,
                summary=summary,
                description=description,
                tags=[_tag(self.route)],
                security=[{BEARER_SCHEME: [self.route.scope]}],
                responses=operation_responses(self.route, response, status, errors, self.remembers_idempotency_keys),
            )(endpoint)

        return register

    def _authorize(self, resolver: APIGatewayHttpResolver, next_middleware: Callable) -> Response:
        # Imported here, as the services are: the settings are read at the first request.
        from shared.runtime import api_settings

        settings = api_settings()
        principal = principal_from_event(resolver.current_event.raw_event, settings.workspaces_claim)
        if self.route.scope not in principal.scopes:
            raise ScopeMissingError(self.route.scope)
        access = Access(
            subject=principal.subject,
            workspaces=principal.workspaces,
            admin=ADMIN_SCOPE in principal.scopes,
            private_reads=settings.private_reads,
        )
        resolver.append_context(principal=principal, access=access)
        return next_middleware(resolver)

    def _reject_unknown_query(self, resolver: APIGatewayHttpResolver, next_middleware: Callable) -> Response:
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

        @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
        @tracer.capture_lambda_handler
        def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            unreadable = _unreadable_body(event)
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

"""API Gateway (HTTP API, payload format 2.0) with its JWT authorizer, played in process.

``LocalGateway.handle`` is the one place a request becomes a route function invocation: it matches
the route table, authorizes the bearer token, builds the payload 2.0 event the deployed API would
send, invokes the route's ``lambda_handler`` and turns its answer back into an HTTP response. It knows
nothing of sockets, so the HTTP server, the CLI and the tests all drive the same code.

Where API Gateway's own answers would be ``{"message": ...}``, the local gateway answers PIE's
``{"success": false, "message": ...}`` so clients see one error shape.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from pie_local.gateway.http import HttpRequest, HttpResponse, Site, error_response
from pie_local.gateway.tokens import TokenRejectedError, TokenVerifier, token_scopes
from pie_local.runtime.functions import LambdaHandler, LocalLambdaContext, load_handler, local_function_name
from pie_local.settings import LOCAL_ACCOUNT_ID
from shared.routes import ROUTES, Route

MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
LOCAL_API_ID = "pielocal"

log = logging.getLogger(__name__)


class GatewayRejection(Exception):
    """The gateway answers the request itself; no function runs."""

    def __init__(self, status: int, message: str, headers: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.response = error_response(status, message, headers)


# Routing ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    path_parameters: dict[str, str]


class Router:
    """Matches a request path against the route table, as API Gateway does."""

    def __init__(self, routes: Iterable[Route] = ROUTES) -> None:
        self._patterns = [(route, _path_pattern(route.path)) for route in routes]

    def match(self, method: str, encoded_path: str) -> RouteMatch:
        """Segments are matched as sent (an encoded ``%2F`` stays inside its segment); the path
        parameters are then URL-decoded."""
        path = unquote(encoded_path)
        allowed = []
        for route, pattern in self._patterns:
            found = pattern.fullmatch(encoded_path)
            if found is None:
                continue
            if route.method == method:
                return RouteMatch(route, {name: unquote(value) for name, value in found.groupdict().items()})
            allowed.append(route.method)
        if allowed:
            raise GatewayRejection(405, f"{method} is not allowed on {path}", [("Allow", ", ".join(sorted(allowed)))])
        raise GatewayRejection(404, f"no route matches {method} {path}")


def _path_pattern(path: str) -> re.Pattern[str]:
    pattern = ""
    for literal, parameter in re.findall(r"([^{]*)(?:\{([a-z_]+)\})?", path):
        pattern += re.escape(literal)
        if parameter:
            pattern += f"(?P<{parameter}>[^/]+)"
    return re.compile(pattern)


# The JWT authorizer -----------------------------------------------------------------------------


class JwtAuthorizer:
    """API Gateway's JWT authorizer: a verified bearer token carrying the route's scope."""

    def __init__(self, verifier: TokenVerifier) -> None:
        self._verifier = verifier

    def authorize(self, authorization: str | None, route: Route) -> dict[str, Any]:
        """The ``requestContext.authorizer`` of an admitted request."""
        if not authorization:
            raise GatewayRejection(
                401, "a bearer token is required (Authorization: Bearer <token>)", [("WWW-Authenticate", "Bearer")]
            )
        scheme, _, credentials = authorization.strip().partition(" ")
        # Like API Gateway, accept the token with or without its "Bearer" prefix.
        token = credentials.strip() if scheme.lower() == "bearer" else authorization.strip()
        try:
            claims = self._verifier.verify(token)
        except TokenRejectedError as error:
            raise GatewayRejection(401, str(error), [("WWW-Authenticate", 'Bearer error="invalid_token"')]) from error
        scopes = token_scopes(claims)
        if route.scope not in scopes:
            raise GatewayRejection(403, f"this operation requires the '{route.scope}' scope")
        return {
            "jwt": {
                "claims": {name: _claim_text(value) for name, value in claims.items()},
                "scopes": scopes or None,
            }
        }


def _claim_text(value: Any) -> str:
    """API Gateway hands claims to the function as strings; arrays read ``[a b]``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_claim_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{key}:{_claim_text(item)}" for key, item in value.items()) + "]"
    return str(value)


# The payload 2.0 event --------------------------------------------------------------------------


def build_event(
    request: HttpRequest,
    match: RouteMatch,
    authorizer: dict[str, Any],
    request_id: str,
    now: float,
) -> dict[str, Any]:
    """The event API Gateway sends a Lambda integration with payload format version 2.0."""
    encoded_path, _, raw_query = request.target.partition("?")
    path = unquote(encoded_path)
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        name = name.lower()
        if name == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
        else:
            headers[name] = f"{headers[name]},{value}" if name in headers else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    domain_name = (headers.get("host") or "localhost").rsplit(":", 1)[0]
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route.route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": headers,
        "queryStringParameters": query or None,
        "pathParameters": match.path_parameters or None,
        "requestContext": {
            "accountId": LOCAL_ACCOUNT_ID,
            "apiId": LOCAL_API_ID,
            "authorizer": authorizer,
            "domainName": domain_name,
            "domainPrefix": domain_name.split(".")[0],
            "http": {
                "method": request.method,
                "path": path,
                "protocol": request.protocol,
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": match.route.route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if request.body:
        try:
            event["body"] = request.body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(request.body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


# Invoking the function ----------------------------------------------------------------------------


class _ExecutionEnvironment:
    """A function's warm execution environments, as many as requests arrive at once.

    Deployed, Lambda runs concurrent invocations in separate environments. Here they share one
    process and run on the server's threads: the route functions keep no invocation's state where
    another would see it (``shared.http.api`` keeps the resolver's per invocation), so a read never
    waits behind a write; writes wait only for the embedded table's own lock, for the moment each
    request to it takes.
    """

    def __init__(self, function: str, handler: LambdaHandler) -> None:
        self.function = function
        self._handler = handler

    def invoke(self, event: dict[str, Any]) -> Any:
        return self._handler(event, LocalLambdaContext(local_function_name(self.function)))


def response_from_result(result: Any) -> HttpResponse:
    """The HTTP response API Gateway makes of a payload 2.0 function result."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # A result without a statusCode is a 200 JSON document (payload format 2.0's inference).
        return HttpResponse(200, [("Content-Type", "application/json")], json.dumps(result).encode())
    body = result.get("body") or ""
    payload = base64.b64decode(body, validate=True) if result.get("isBase64Encoded") else body.encode()
    headers = [(name, str(value)) for name, value in (result.get("headers") or {}).items()]
    headers += [("Set-Cookie", cookie) for cookie in result.get("cookies") or ()]
    return HttpResponse(int(result["statusCode"]), headers, payload)


class LocalGateway:
    """Routes, authorizes and invokes: the deployed API's request path, in one method."""

    def __init__(
        self,
        authorizer: JwtAuthorizer,
        routes: Iterable[Route] = ROUTES,
        load: Callable[[str], LambdaHandler] = load_handler,
        site: Site | None = None,
    ) -> None:
        routes = tuple(routes)
        self._site = site
        self._authorizer = authorizer
        self._router = Router(routes)
        self._environments = {
            route.function: _ExecutionEnvironment(route.function, load(route.function)) for route in routes
        }

    def handle(self, request: HttpRequest) -> HttpResponse:
        request_id = str(uuid.uuid4())
        try:
            response = self._invoke_route(request, request_id)
        except GatewayRejection as rejection:
            response = rejection.response
        return HttpResponse(response.status, [*response.headers, ("Apigw-Requestid", request_id)], response.body)

    def _invoke_route(self, request: HttpRequest, request_id: str) -> HttpResponse:
        encoded_path = request.target.partition("?")[0]
        if self._site is not None and self._site.serves(encoded_path):
            return self._site.answer(request, encoded_path)
        match = self._router.match(request.method, encoded_path)
        authorization = next((value for name, value in request.headers if name.lower() == "authorization"), None)
        # A public route has no authorizer: API Gateway passes the request on untouched.
        authorizer = {} if match.route.public else self._authorizer.authorize(authorization, match.route)
        event = build_event(request, match, authorizer, request_id, time.time())
        environment = self._environments[match.route.function]
        try:
            return response_from_result(environment.invoke(event))
        # A crashing function or a malformed result is API Gateway's 500, whatever the cause; the
        # traceback goes to the server log, never to the client.
        except Exception:
            log.exception("%s failed on %s", local_function_name(match.route.function), match.route.route_key)
            return error_response(500, "internal server error")

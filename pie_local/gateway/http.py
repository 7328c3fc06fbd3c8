"""The gateway's requests and answers, below both the gateway and the sites it serves beside the API.

``LocalGateway`` hands a request under a site's path (the console's, say) to that ``Site``; the site
answers with these same types. Both import this module and neither imports the other.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from shared.http.errors import error_body


@dataclass(frozen=True)
class HttpRequest:
    method: str
    target: str
    """The request target as received: percent-encoded path and optional ``?query``."""
    headers: list[tuple[str, str]]
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


def error_response(status: int, message: str, headers: Iterable[tuple[str, str]] = ()) -> HttpResponse:
    """An answer the gateway (or a site beside it) gives itself, in PIE's error shape."""
    body = json.dumps(error_body(message)).encode()
    return HttpResponse(status, [("Content-Type", "application/json"), *headers], body)


class Site(Protocol):
    """Pages served beside the API, under paths no route uses (the console at ``/console/``)."""

    def serves(self, path: str) -> bool: ...

    def answer(self, request: HttpRequest, path: str) -> HttpResponse: ...

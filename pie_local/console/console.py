"""The console at ``/console/`` of ``pie-local serve``: its static files, its config and a local token.

The files are read from the ``console`` package (package data, so an installed PIE serves them too).
``config.json`` tells the page the API is on the same origin. ``local-token`` signs the page in with
a token from the server's own keys, but only when the server listens on a loopback address and the
request names a loopback host: another machine, or a web page that rebinds its DNS name to
127.0.0.1, gets a 404 and the page falls back to a paste box.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from importlib import resources
from urllib.parse import unquote, urlsplit

from pie_local.gateway.http import HttpRequest, HttpResponse, error_response
from pie_local.gateway.tokens import DEFAULT_LIFETIME_SECONDS

CONSOLE_PATH = "/console"
_STATIC_FILE = re.compile(r"^[a-z0-9_-]+\.(html|js|css)$")
_CONTENT_TYPES = {
    "html": "text/html; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "json": "application/json",
}
# The page talks only to this origin; nothing may frame it.
_SECURITY_HEADERS = (
    (
        "Content-Security-Policy",
        (
            "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
            "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        ),
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ConsoleSite:
    """Answers every request under ``/console``; ``mint`` makes the local token (None: no token)."""

    def __init__(self, mint: Callable[[], str] | None) -> None:
        self._mint = mint
        self._files = resources.files("console")

    @staticmethod
    def serves(path: str) -> bool:
        return path == CONSOLE_PATH or path.startswith(f"{CONSOLE_PATH}/")

    def answer(self, request: HttpRequest, path: str) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return error_response(405, "the console is read with GET", [("Allow", "GET, HEAD")])
        if path == CONSOLE_PATH:
            return HttpResponse(308, [("Location", f"{CONSOLE_PATH}/")], b"")
        name = unquote(path[len(CONSOLE_PATH) + 1 :]) or "index.html"
        if name == "config.json":
            mode = "local" if self._mint else "paste"
            return self._json({"api_url": "", "auth": {"mode": mode, "token_url": "local-token"}})
        if name == "local-token":
            return self._local_token(request)
        if not _STATIC_FILE.match(name) or not self._files.joinpath(name).is_file():
            return error_response(404, f"the console has no file {name!r}")
        kind = name.rsplit(".", 1)[1]
        body = self._files.joinpath(name).read_bytes()
        headers = [("Content-Type", _CONTENT_TYPES[kind]), ("Cache-Control", "no-cache"), *_SECURITY_HEADERS]
        return HttpResponse(200, headers, body)

    def _local_token(self, request: HttpRequest) -> HttpResponse:
        host = next((value for name, value in request.headers if name.lower() == "host"), "")
        if self._mint is None or not is_loopback(urlsplit(f"//{host}").hostname or ""):
            return error_response(404, "no local token here: paste one from `pie-local token`")
        return self._json({"token": self._mint(), "expires_in": DEFAULT_LIFETIME_SECONDS})

    @staticmethod
    def _json(document: object) -> HttpResponse:
        headers = [
            ("Content-Type", _CONTENT_TYPES["json"]),
            ("Cache-Control", "no-store"),
            *_SECURITY_HEADERS,
        ]
        return HttpResponse(200, headers, json.dumps(document).encode())

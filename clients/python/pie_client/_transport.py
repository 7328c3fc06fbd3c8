"""One HTTP exchange with retries: backoff with jitter on 429, 5xx and lost connections.

Retrying is safe because of how the client calls PIE: every POST carries an ``Idempotency-Key``
that stays the same across the retries of one call (PIE replays the first answer instead of
writing twice), GET and DELETE change nothing twice, and PUT is a full replacement.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from pie_client.errors import ConnectionFailed, error_for

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Up to ``max_attempts`` tries; before try n+1 a random wait in [0, min(cap, base * 2**n)]
    ("full jitter"), or the server's ``Retry-After`` when it says so and it is within the cap."""

    max_attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 8.0

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        if retry_after is not None and 0 <= retry_after <= self.max_delay:
            return retry_after
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**retry))


NO_RETRIES = RetryPolicy(max_attempts=1)


class _Exchange:
    """What a synchronous and an asynchronous transport share: the headers and query of a request,
    and after each try, the answer, the typed error, or how long to wait before the next try."""

    def __init__(self, base_url: str, token: Callable[[], str | None], retry: RetryPolicy) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._retry = retry

    def prepare(
        self, headers: dict[str, str] | None, params: dict[str, Any] | None
    ) -> tuple[dict[str, str], dict[str, Any]]:
        all_headers = dict(headers or {})
        token = self._token()
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        return all_headers, {name: value for name, value in (params or {}).items() if value is not None}

    def after_answer(self, response: httpx.Response, attempt: int) -> float | None:
        """None: the answer is the result; else the wait before the next try. Raises the typed error."""
        if response.is_success:
            return None
        if response.status_code not in RETRYABLE_STATUSES or attempt >= self._retry.max_attempts:
            raise error_for(response.status_code, response.content, response.headers)
        return self._retry.delay(attempt - 1, _retry_after(response))

    def after_lost_connection(self, error: httpx.TransportError, attempt: int) -> float:
        if attempt >= self._retry.max_attempts:
            raise ConnectionFailed(f"no answer from {self.base_url}: {_describe(error)}") from None
        return self._retry.delay(attempt - 1)


def _client_options(base_url: str, timeout: float, user_agent: str) -> dict[str, Any]:
    return {
        "base_url": base_url.rstrip("/"),
        "timeout": timeout,
        "headers": {"Accept": "application/json", "User-Agent": user_agent},
    }


class Transport:
    def __init__(
        self,
        base_url: str,
        token: Callable[[], str | None],
        *,
        timeout: float,
        retry: RetryPolicy,
        http: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str,
    ) -> None:
        self._exchange = _Exchange(base_url, token, retry)
        self._sleep = sleep
        self._http = httpx.Client(transport=http, **_client_options(base_url, timeout, user_agent))

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """The 2xx answer, or the typed error of the last try."""
        all_headers, query = self._exchange.prepare(headers, params)
        attempt = 1
        while True:
            try:
                response = self._http.request(method, path, json=json, params=query, headers=all_headers)
            except httpx.TransportError as error:
                delay = self._exchange.after_lost_connection(error, attempt)
            else:
                delay = self._exchange.after_answer(response, attempt)
                if delay is None:
                    return response
            self._sleep(delay)
            attempt += 1


class AsyncTransport:
    """``Transport`` on ``httpx.AsyncClient``: the same headers, retries and typed errors."""

    def __init__(
        self,
        base_url: str,
        token: Callable[[], str | None],
        *,
        timeout: float,
        retry: RetryPolicy,
        http: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        user_agent: str,
    ) -> None:
        self._exchange = _Exchange(base_url, token, retry)
        self._sleep = sleep
        self._http = httpx.AsyncClient(transport=http, **_client_options(base_url, timeout, user_agent))

    async def close(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        all_headers, query = self._exchange.prepare(headers, params)
        attempt = 1
        while True:
            try:
                response = await self._http.request(method, path, json=json, params=query, headers=all_headers)
            except httpx.TransportError as error:
                delay = self._exchange.after_lost_connection(error, attempt)
            else:
                delay = self._exchange.after_answer(response, attempt)
                if delay is None:
                    return response
            await self._sleep(delay)
            attempt += 1


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to the policy's own backoff


def _describe(error: httpx.TransportError) -> str:
    return str(error) or type(error).__name__

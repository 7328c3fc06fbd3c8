"""What a kind's starter is given and may raise: the start context, backoff and AWS-call errors.

A starter's ``start(job)`` returns None or ``Started`` (with the ECS task's ARN, which cancel stops)
when the job is running (its result comes later), or the job's result when it ran at once
(in-process). Throttling and capacity errors are retried with capped, jittered exponential backoff;
when the attempts run out, or the error cannot be retried (unknown function, access denied),
``start`` raises ``DispatchFailed`` with the reason, and the dispatcher marks the job failed with it.

The kinds' ``*_start`` modules build on this; the dispatcher (``shared.dispatch``) reads the
registry and calls them, so nothing here imports the dispatcher.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from shared.domain.entities import Job
from shared.domain.requests import CompleteJobRequest
from shared.kinds.in_process import JsonObject


class DispatchFailed(Exception):
    """The job could not be started; ``reason`` is recorded as the job's error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Retry(Exception):
    """A start that failed for a reason that clears up (throttling, capacity): try again."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Backoff:
    attempts: int = 5
    base_seconds: float = 0.1
    cap_seconds: float = 2.0
    sleep: Callable[[float], None] = time.sleep

    def run(self, attempt: Callable[[], Any]) -> Any:
        """Call ``attempt`` until it stops raising ``Retry`` or the attempts run out."""
        last = ""
        for number in range(self.attempts):
            try:
                return attempt()
            except Retry as retry:
                last = retry.reason
                if number + 1 < self.attempts:
                    # Full jitter: a random delay up to the capped exponential step.
                    self.sleep(random.uniform(0, min(self.cap_seconds, self.base_seconds * 2**number)))
        raise DispatchFailed(f"gave up after {self.attempts} attempts: {last}")


def aws_call(operation: str, retryable: frozenset[str], call: Callable[..., Any], request: dict[str, Any]) -> Any:
    """Make one AWS call; a throttling or capacity error is a ``Retry``, any other a failure."""
    try:
        return call(**request)
    except ClientError as error:
        details = error.response.get("Error", {})
        reason = f"{operation} {details.get('Code', '')}: {details.get('Message', '')}"
        if details.get("Code", "") in retryable:
            raise Retry(reason) from None
        raise DispatchFailed(reason) from None
    except BotoCoreError as error:
        raise Retry(f"{operation}: {error}") from None


@dataclass(frozen=True)
class Started:
    """A job now running elsewhere, with what cancel needs to stop it (an ECS task's ARN)."""

    task_arn: str | None = None


class Starter(Protocol):
    def start(self, job: Job) -> Started | CompleteJobRequest | None:
        """None or ``Started``: the job runs elsewhere and completes later; a ``CompleteJobRequest``:
        it ran at once (in-process)."""
        ...


@dataclass(frozen=True)
class StartContext:
    """What a kind's starter factory may use. ``client(service)`` makes an AWS client (or the local
    stand-in); starters call it on first use, so a dispatcher that never starts a kind never
    builds that kind's client."""

    client: Callable[[str], Any]
    backoff: Backoff
    implementations: Mapping[str, Callable[[JsonObject], JsonObject]] = field(default_factory=dict)
    # Each kind's own settings by type (``HandlerKind.settings``; ``DispatcherSettings.kinds``).
    kind_settings: Mapping[str, Any] = field(default_factory=dict)


class LazyClient:
    """The client of one service, made on first use."""

    def __init__(self, context: StartContext, service: str) -> None:
        self._context = context
        self._service = service
        self._client: Any = None

    def __call__(self) -> Any:
        if self._client is None:
            self._client = self._context.client(self._service)
        return self._client

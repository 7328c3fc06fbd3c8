"""Completion tokens: what proves that a job result comes from the attempt PIE started.

Every claim of a job for dispatch gives its attempt a new token, drawn from the operating system's
CSPRNG (``secrets``). The token is stored with the job (an attribute of its item, never part of its
document) and sent to the handler in the attempt's envelope only: no API answer shows it, so
knowing a job's id, model and attempt (all readable through the API) is not enough to complete it.
It works as a Step Functions task token does.

A result carrying a token is accepted only when it is the token of the attempt in flight
(``check``): on every path, including a retry after a conflicting write, which reads the job again.
The AWS event path requires one (``shared.dispatch.completions``); the HTTP route, which the caller's
JWT and workspace already authorise, checks one when it is given (docs/decisions.md).
"""

from __future__ import annotations

import hmac
import secrets
from typing import TYPE_CHECKING

from shared.domain.errors import CompletionTokenMismatchError

if TYPE_CHECKING:
    # Types only: handler kinds read tokens from envelopes here, and entities import the kinds.
    from shared.domain.entities import Job

# 32 bytes (256 bits) of entropy, URL-safe base64: 43 characters.
TOKEN_BYTES = 32
# The longest token a result may present (the route's bound too): room for a longer token later.
MAX_TOKEN_LENGTH = 256


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def well_formed(value: object) -> str | None:
    """``value`` as a token a result may present, or None when it cannot be one (absent, not a
    string, empty or too long): such a result proves nothing."""
    return value if isinstance(value, str) and 0 < len(value) <= MAX_TOKEN_LENGTH else None


def issued(job: Job) -> Job:
    """The job with a new token for the attempt it is about to start."""
    return job.with_completion_token(new_token())


def proves(job: Job, presented: str | None) -> bool:
    """Whether ``presented`` is the token of the job's attempt in flight (in constant time)."""
    expected = job.completion_token
    if expected is None or presented is None:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


def check(job: Job, presented: str | None) -> None:
    """Refuse a result that presents a token other than the attempt's; no token is not checked here
    (whether one is required is the caller's rule)."""
    if presented is not None and not proves(job, presented):
        raise CompletionTokenMismatchError(job.id)

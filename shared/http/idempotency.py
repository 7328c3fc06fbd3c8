"""``Idempotency-Key`` on POST routes, with Powertools' idempotency utility on the single table.

A repeat of a POST with the same key (from the same caller) and the same method, path and body,
within an hour, returns the first response without running the route again. Reusing a key for a
different request — another body, or another route — is a 422: a key names one request. Only
requests that ran to a 2xx are remembered; a refused request (4xx) can be retried with its key.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

from shared.domain.errors import ConflictError, RequestInvalidError, UnprocessableError

HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_CONFIG = IdempotencyConfig(
    event_key_jmespath="[caller, key]",
    payload_validation_jmespath="request",
    expires_after_seconds=60 * 60,
)


class IdempotencyKeyReusedError(UnprocessableError):
    def __init__(self) -> None:
        super().__init__(
            "this Idempotency-Key was already used for a different request (another body or route); "
            "use a new key for a new request"
        )


class IdempotentRequestInProgressError(ConflictError):
    def __init__(self) -> None:
        super().__init__("a request with this Idempotency-Key is still being processed: retry shortly")


class _NotRemembered(Exception):
    """Carries a non-2xx response out of the idempotent call, so Powertools forgets the key."""

    def __init__(self, response: Response) -> None:
        self.response = response


def idempotency_middleware(
    persistence: Callable[[], BasePersistenceLayer], caller: Callable[[], str]
) -> Callable[[APIGatewayHttpResolver, Callable[..., Response]], Response]:
    def middleware(resolver: APIGatewayHttpResolver, next_middleware: Callable[..., Response]) -> Response:
        event = resolver.current_event
        key = event.headers.get(HEADER)
        if key is None:
            return next_middleware(resolver)
        if not _VALID_KEY.fullmatch(key):
            raise RequestInvalidError("Idempotency-Key must be 1-255 visible ASCII characters")

        if resolver.lambda_context is not None:
            # Lets Powertools expire an in-progress record if this invocation times out.
            _CONFIG.register_lambda_context(resolver.lambda_context)
        executed = []

        def run(request: dict[str, Any]) -> dict[str, Any]:
            executed.append(True)
            response = next_middleware(resolver)
            if not 200 <= response.status_code < 300:
                raise _NotRemembered(response)
            return {"status": response.status_code, "body": response.body, "headers": dict(response.headers)}

        remembered = idempotent_function(
            run, data_keyword_argument="request", persistence_store=persistence(), config=_CONFIG, key_prefix="pie"
        )
        request = {
            "caller": caller(),
            "key": key,
            "request": {"method": event.http_method, "path": event.path, "body": event.body or ""},
        }
        try:
            saved = remembered(request=request)
        except _NotRemembered as refused:
            return refused.response
        except IdempotencyValidationError:
            raise IdempotencyKeyReusedError() from None
        except IdempotencyAlreadyInProgressError:
            raise IdempotentRequestInProgressError() from None
        headers = dict(saved["headers"])
        if not executed:
            headers[REPLAYED_HEADER] = "true"
        return Response(saved["status"], body=saved["body"], headers=headers)

    return middleware

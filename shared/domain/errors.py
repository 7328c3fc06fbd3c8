"""Typed domain errors.

The domain raises these and knows nothing of HTTP; ``shared.http.errors`` maps each family to its
status code in one place. Messages are written for the API caller: they end up in ``message``.
"""

from __future__ import annotations


class PieError(Exception):
    """Base of every error PIE reports to a caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# 400 — the request itself is malformed.
class RequestInvalidError(PieError):
    pass


class PageTokenInvalidError(RequestInvalidError):
    def __init__(self) -> None:
        super().__init__("next_token is not a token this list issued")


class ItemNotStorableError(RequestInvalidError):
    """DynamoDB cannot store an item of the change (too large, or refused by its validation)."""


class ItemTooLargeError(ItemNotStorableError):
    pass


class JobOutputTooLargeError(ItemTooLargeError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"output too large to store: the job with its output would take {size} bytes, over the "
            f"{limit}-byte limit of a stored job"
        )


# 401 / 403 — who is calling.
class AuthenticationRequiredError(PieError):
    pass


class ScopeMissingError(PieError):
    def __init__(self, scope: str, why: str | None = None) -> None:
        because = f" ({why})" if why else ""
        super().__init__(f"this operation requires the '{scope}' scope{because}")
        self.scope = scope


class WorkspaceAccessDeniedError(PieError):
    """The caller may not write in the workspace the resource belongs to (403)."""

    def __init__(self, workspace: str, message: str) -> None:
        super().__init__(message)
        self.workspace = workspace


# 404 — the thing named does not exist.
class ResourceNotFoundError(PieError):
    pass


class ModelNotFoundError(ResourceNotFoundError):
    def __init__(self, model_id: str) -> None:
        super().__init__(f"model '{model_id}' does not exist")


class VersionNotFoundError(ResourceNotFoundError):
    def __init__(self, model_id: str, version: str) -> None:
        super().__init__(f"model '{model_id}' has no version '{version}'")


# 409 — conflicts with the current state.
class ConflictError(PieError):
    pass


class ModelAlreadyExistsError(ConflictError):
    def __init__(self, model_id: str) -> None:
        super().__init__(f"model '{model_id}' already exists")


class VersionAlreadyExistsError(ConflictError):
    def __init__(self, model_id: str, version: str) -> None:
        super().__init__(f"model '{model_id}' already has a version '{version}'")


class EntityVersionMismatchError(ConflictError):
    def __init__(self, what: str, expected: int | str, current: int) -> None:
        super().__init__(f"{what} is at entity_version {current}, not {expected}: re-read it and retry")
        self.current = current


class ConcurrentUpdateError(ConflictError):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} was changed by another request at the same time: retry")


# 422 — well-formed but semantically impossible.
class UnprocessableError(PieError):
    pass


class HandlerNotAllowedError(UnprocessableError):
    pass


class IllegalTransitionError(UnprocessableError):
    def __init__(self, current: str, requested: str, allowed: tuple[str, ...]) -> None:
        super().__init__(
            f"a version cannot go from '{current}' to '{requested}'; "
            f"from '{current}' it may go to: {', '.join(allowed)}"
        )


class SubscriptionNotFoundError(ResourceNotFoundError):
    def __init__(self, model_id: str, subscription_id: str) -> None:
        super().__init__(f"model '{model_id}' has no event subscription '{subscription_id}'")


class TargetModelUnknownError(UnprocessableError):
    def __init__(self, model_id: str) -> None:
        super().__init__(f"target model '{model_id}' does not exist")


class VersionNumbersExhaustedError(UnprocessableError):
    def __init__(self, model_id: str, highest: int) -> None:
        super().__init__(
            f"model '{model_id}' cannot get a new numbered version: its highest numeric version "
            f"{highest} has the maximum 64 digits; create a version with another name instead"
        )


class JobNotFoundError(ResourceNotFoundError):
    def __init__(self, model_id: str, job_id: str) -> None:
        super().__init__(f"model '{model_id}' has no job '{job_id}'")


class JobAlreadyFinishedError(ConflictError):
    def __init__(self, job_id: str, status: str) -> None:
        super().__init__(f"job '{job_id}' already {status}: a finished job stays finished")


class StaleAttemptError(ConflictError):
    def __init__(self, job_id: str, reported: int | None, in_flight: int | None) -> None:
        now = f"attempt {in_flight} is in flight" if in_flight is not None else "no attempt is in flight"
        said = f"attempt {reported}" if reported is not None else "a result"
        super().__init__(f"job '{job_id}': {said} is not the attempt in flight ({now}): nothing changed")


class CompletionTokenMismatchError(ConflictError):
    """A result whose completion token is not the one PIE gave the attempt in flight: a result of
    another attempt, or one nobody was given. The message never repeats either token."""

    def __init__(self, job_id: str) -> None:
        super().__init__(
            f"job '{job_id}': the completion token is not the one of the attempt in flight: nothing changed"
        )


class JobNotFailedError(ConflictError):
    def __init__(self, job_id: str, status: str) -> None:
        super().__init__(f"job '{job_id}' is '{status}': only a failed job can be retried")


class VersionNotTrainableError(UnprocessableError):
    def __init__(self, model_id: str, version: str, status: str) -> None:
        super().__init__(
            f"version '{version}' of model '{model_id}' is '{status}' and cannot go to 'training': the job was not retried"
        )


class NoActiveVersionError(UnprocessableError):
    def __init__(self, model_id: str) -> None:
        super().__init__(f"model '{model_id}' has no active version: name a version or activate one")


class ContractViolationError(UnprocessableError):
    def __init__(self, what: str, violations: list[str]) -> None:
        super().__init__(f"{what} does not match the contract: {'; '.join(violations)}")
        self.violations = violations


class VersionBusyError(ConflictError):
    def __init__(self, model_id: str, version: str) -> None:
        super().__init__(f"version '{version}' of model '{model_id}' is already training")


class WorkspaceRequiredError(RequestInvalidError):
    def __init__(self, workspaces: list[str]) -> None:
        choices = f"one of {', '.join(workspaces)}" if workspaces else "a workspace"
        super().__init__(f"name the model's workspace in the body: workspace is {choices}")


class WorkspaceImmutableError(UnprocessableError):
    def __init__(self, model_id: str, workspace: str, requested: str) -> None:
        super().__init__(
            f"model '{model_id}' belongs to workspace '{workspace}' and cannot move to '{requested}': "
            "a model never changes workspace (create a new model there instead)"
        )


class SubscriptionInputError(UnprocessableError):
    """The input does not suit the subscription's input_source (as stored)."""


class TooManySubscriptionsError(UnprocessableError):
    def __init__(self, model_id: str, event: str, limit: int) -> None:
        super().__init__(
            f"model '{model_id}' already has {limit} active '{event}' subscriptions, the most one event "
            "may fire: pause or delete one first"
        )


class AliasNameInvalidError(RequestInvalidError):
    def __init__(self, name: str) -> None:
        super().__init__(f"'{name}' cannot be an alias: it already names the newest version")


class EventAliasError(RequestInvalidError):
    """An alias event names the alias that moves; no other event does."""

    def __init__(self, event: str, alias: str | None) -> None:
        if alias is None:
            super().__init__(f"the event '{event}' needs the alias that moves: add alias=<name>")
        else:
            super().__init__(f"alias is only for an alias event, not '{event}': omit alias")


class AsOfInvalidError(RequestInvalidError):
    def __init__(self, value: str) -> None:
        super().__init__(f"as_of must be an RFC 3339 instant with its offset, e.g. 2026-01-01T00:00:00Z, not '{value}'")


class AliasNotFoundError(ResourceNotFoundError):
    def __init__(self, model_id: str, name: str, as_of: str | None = None) -> None:
        when = f" at {as_of}" if as_of is not None else ""
        super().__init__(f"model '{model_id}' has no alias '{name}'{when}")


class AliasTargetNotActiveError(UnprocessableError):
    def __init__(self, model_id: str, version: str, status: str) -> None:
        super().__init__(
            f"version '{version}' of model '{model_id}' is '{status}': an alias can only point at an active version"
        )


class AliasedVersionError(ConflictError):
    def __init__(self, model_id: str, version: str, aliases: list[str]) -> None:
        names = ", ".join(f"'{name}'" for name in aliases)
        super().__init__(
            f"version '{version}' of model '{model_id}' is what alias {names} points at: move the alias first"
        )
        self.aliases = aliases


# Webhooks (SPEC part three, "Outbound events").
class WebhookNotFoundError(ResourceNotFoundError):
    def __init__(self, webhook_id: str) -> None:
        super().__init__(f"webhook '{webhook_id}' does not exist")


class DeliveryNotFoundError(ResourceNotFoundError):
    def __init__(self, webhook_id: str, delivery_id: str) -> None:
        super().__init__(f"webhook '{webhook_id}' has no delivery '{delivery_id}'")


class UnsafeWebhookUrlError(UnprocessableError):
    """A webhook URL PIE will not call: not https, or resolving to an address it must not reach."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"webhook url refused: {reason}")
        self.reason = reason


class DeliveryNotFailedError(ConflictError):
    def __init__(self, delivery_id: str, status: str) -> None:
        super().__init__(f"delivery '{delivery_id}' is {status}: only a failed delivery can be retried")

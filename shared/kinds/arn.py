"""Kinds whose handler names one AWS resource by ARN (``lambda``, ``step_functions``).

Such a kind is admitted, reached and granted the same way: the ARN's partition, account and region
must be in the allow-list and its name must start with an allowed prefix; the dispatcher may call
the start action on ``<allowed account>:<allowed region>:<resource type>:<allowed prefix>*``; and the
completion rule matches events of those ARNs by prefix. ``ArnTarget`` declares that once; a kind
module keeps only what is its own (the schema's field, how its events read, whose source is whose).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.domain.errors import HandlerNotAllowedError
from shared.kinds.base import EventRule, HandlerKind, HandlerModel, IamStatement

if TYPE_CHECKING:  # the allow-list is assembled from the registered kinds (shared.kinds.allow_list)
    from shared.kinds.allow_list import HandlerAllowList

ARN_PARTITION_PATTERN = r"aws[a-z-]*"
ARN_REGION_PATTERN = r"[a-z]{2}(-[a-z]+)+-[0-9]"
ARN_ACCOUNT_PATTERN = r"[0-9]{12}"
# The allow-list's field group of an ARN kind: ``<group>_accounts``, ``<group>_regions``, ...
ALLOW_LIST_FIELDS = ("accounts", "regions", "name_prefixes")


class ArnHandlerModel(HandlerModel):
    """A handler whose target is one ARN ``arn:<partition>:<service>:<region>:<account>:<type>:<name>``,
    held in the field its kind names (``target_arn`` reads it)."""

    @property
    def target_arn(self) -> str:
        raise NotImplementedError

    @property
    def partition(self) -> str:
        return self.target_arn.split(":")[1]

    @property
    def region(self) -> str:
        return self.target_arn.split(":")[3]

    @property
    def account(self) -> str:
        return self.target_arn.split(":")[4]

    @property
    def name(self) -> str:
        return self.target_arn.split(":")[6]


@dataclass(frozen=True)
class ArnTarget:
    """The allow-list, IAM and completion-rule facets of an ARN kind."""

    service: str  # the ARN's service: "lambda", "states"
    resource_type: str  # the ARN's resource type: "function", "stateMachine"
    noun: str  # what refusals and the wildcard reason call one: "function", "state machine"
    allow_list_group: str  # "lambda": the allow-list's lambda_accounts, lambda_regions, lambda_name_prefixes
    start_actions: tuple[str, ...]  # what the dispatcher may call on an allowed ARN

    def arn_pattern(self, name_pattern: str) -> str:
        """The schema's ARN pattern. Plain (ECMA-compatible): it is published in the OpenAPI
        document. Any partition matches; the allow-list names the ones admitted."""
        return (
            rf"^arn:{ARN_PARTITION_PATTERN}:{self.service}:{ARN_REGION_PATTERN}:{ARN_ACCOUNT_PATTERN}:"
            rf"{self.resource_type}:{name_pattern}$"
        )

    def _allow_list_fields(self) -> list[str]:
        return [f"{self.allow_list_group}_{suffix}" for suffix in ALLOW_LIST_FIELDS]

    def allow_list(self) -> dict[str, str]:
        """The kind's allow-list fields: the accounts, regions and name prefixes of its ARNs."""
        accounts, regions, prefixes = self._allow_list_fields()
        return {
            accounts: f"Accounts whose {self.noun}s handlers may name.",
            regions: f"Regions whose {self.noun}s handlers may name.",
            prefixes: f"A {self.noun}'s name begins with one of these.",
        }

    def _allowed(self, allow: HandlerAllowList) -> tuple[list[str], list[str], list[str]]:
        accounts, regions, prefixes = (getattr(allow, name) for name in self._allow_list_fields())
        return accounts, regions, prefixes

    def check(self, role: str, handler: ArnHandlerModel, allow: HandlerAllowList, _: Collection[str]) -> None:
        accounts, regions, prefixes = self._allowed(allow)
        if handler.partition not in allow.partitions:
            raise HandlerNotAllowedError(
                f"{role} handler: partition {handler.partition} is not in the handler allow-list "
                f"(allowed: {', '.join(allow.partitions)})"
            )
        if handler.account not in accounts:
            raise HandlerNotAllowedError(f"{role} handler: account {handler.account} is not in the handler allow-list")
        if handler.region not in regions:
            raise HandlerNotAllowedError(f"{role} handler: region {handler.region} is not in the handler allow-list")
        if not any(handler.name.startswith(prefix) for prefix in prefixes):
            raise HandlerNotAllowedError(
                f"{role} handler: {self.noun} name '{handler.name}' does not start with an allowed prefix"
            )

    def arn_prefixes(self, allow: HandlerAllowList) -> list[str]:
        """One ARN prefix per allowed account x region x name prefix, in the stack's partition."""
        accounts, regions, prefixes = self._allowed(allow)
        return [
            f"arn:{{partition}}:{self.service}:{region}:{account}:{self.resource_type}:{prefix}"
            for account in accounts
            for region in regions
            for prefix in prefixes
        ]

    def dispatcher_statements(self, allow: HandlerAllowList, _pass_roles: tuple[str, ...]) -> list[IamStatement]:
        arns = tuple(f"{prefix}*" for prefix in self.arn_prefixes(allow))
        return [IamStatement(self.start_actions, arns)] if arns else []

    @staticmethod
    def reported_by(handler: ArnHandlerModel, source: str) -> bool:
        """Whether the event's ``source`` is this handler: its exact ARN (a kind whose events name
        a qualified ARN, as Lambda's do, passes its own ``reported_by``)."""
        return source == handler.target_arn

    @property
    def iam_wildcard_reason(self) -> str:
        return (
            f"{self.noun}s are admitted by name prefix: "
            f"<allowed account>:<allowed region>:{self.resource_type}:<allowed prefix>*"
        )

    def kind(
        self,
        *,
        rule: tuple[str, str, Callable[[list[dict[str, str]]], Mapping[str, Any]]],
        **facets: Any,
    ) -> HandlerKind:
        """The kind, with the allow-list check, IAM and completion rule of this target.

        ``rule`` is the completion rule's construct id, description and pattern, the pattern built
        from the ``{"prefix": ...}`` matchers of the allowed ARNs; ``facets`` are the rest of
        ``HandlerKind``."""
        construct_id, description, pattern = rule

        def completion_rules(allow: HandlerAllowList) -> list[EventRule]:
            matchers = [{"prefix": prefix} for prefix in self.arn_prefixes(allow)]
            return [EventRule(construct_id, description, pattern(matchers))] if matchers else []

        facets.setdefault("reported_by", self.reported_by)
        facets.setdefault("events_account", lambda handler, _deployment: handler.account)
        return HandlerKind(
            check=self.check,
            completion_rules=completion_rules,
            allow_list=self.allow_list(),
            dispatcher_statements=self.dispatcher_statements,
            iam_wildcard_reason=self.iam_wildcard_reason,
            **facets,
        )

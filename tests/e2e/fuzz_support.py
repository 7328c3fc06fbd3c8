"""What the OpenAPI fuzzer needs beyond schemathesis: its configuration, PIE's error-shape check,
resources for generated requests to aim at, and the open bugs it has found.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis import Case, CheckContext, HookContext, Response

from shared.domain.errors import FilterInvalidError
from shared.domain.job_events import ALIAS_EVENT_NAMES
from shared.domain.search import parse_filter
from tests.e2e.client import Api
from tests.e2e.documents import model_document, unique_id

PUBLISHED_DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"

# Invalid data must be refused with one of PIE's refusals (SPEC "Errors, every one"). 401 is the
# answer to requests generated without the Authorization header the document requires; 403 cannot
# happen with a token holding every scope and pie:admin (every workspace), and a 5xx is never a refusal.
REJECTION_STATUSES = ("400", "401", "404", "409", "422")
# Valid data may still be refused for what a schema cannot say: the resource does not exist (404),
# a conflict (409), or it is semantically invalid (422: a handler outside the allow-list, an
# unknown target model, an illegal transition, an Idempotency-Key reused for another request).
# 400 is not among them: it claims the request fails validation, so the document must agree.
ACCEPTANCE_STATUSES = ("2xx", "404", "409", "422")


def fuzz_config() -> schemathesis.Config:
    """Every built-in check, with PIE's statuses for what valid and invalid data may get."""
    return schemathesis.Config.from_dict(
        {
            "request-timeout": 20,
            "checks": {
                "negative_data_rejection": {"expected-statuses": list(REJECTION_STATUSES)},
                "positive_data_acceptance": {"expected-statuses": list(ACCEPTANCE_STATUSES)},
            },
        }
    )


def load_published_document() -> Any:
    """The checked-in document; the fuzz module proves the server serves exactly this."""
    return schemathesis.openapi.from_path(PUBLISHED_DOCUMENT, config=fuzz_config())


def _error_message(response: Response) -> str | None:
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    return body.get("message") if isinstance(body, dict) else None


def refusals_say_why(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every 4xx/5xx body is ``{"success": false, "message": "<non-empty text>"}``."""
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError as error:
        raise AssertionError(f"a {response.status_code} body is not JSON: {response.content[:200]!r}") from error
    assert isinstance(body, dict), f"a {response.status_code} body is not an object: {body!r}"
    assert body.get("success") is False, f"a {response.status_code} body lacks success: false: {body!r}"
    message = body.get("message")
    assert isinstance(message, str) and message.strip(), f"a {response.status_code} body lacks a message: {body!r}"
    return True


# Aiming at real resources -------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    """Resources that exist on the fuzzed server."""

    model_id: str
    version: str
    subscription_id: str
    job_id: str

    def path_values(self) -> dict[str, str]:
        return {
            "model_id": self.model_id,
            "model_version": self.version,
            "subscription_id": self.subscription_id,
            "job_id": self.job_id,
        }


def seed_resources(api: Api) -> Seeded:
    """A model with an active version 1, a dispatched training job (the local Lambda stand-in only
    records it, so it can still be completed) and a subscription to a second model."""
    source, target = unique_id("fuzz"), unique_id("fuzz-target")
    for model_id in (source, target):
        reply = api.post("/v2/models", model_document(model_id))
        assert reply.status == 201, reply.body
    job = api.post(f"/v2/models/{source}/training", {"input": {"epochs": 1}})
    assert job.status == 202, job.body
    activated = api.post(f"/v2/models/{source}/versions/1/new_status", {"status": "active"})
    assert activated.status == 200, activated.body
    subscription = api.post(
        f"/v2/models/{source}/event-subscriptions",
        {
            "trigger_event": "training_complete",
            "target_model_id": target,
            "target_action": "inference",
            "input_source": "trigger_output",
        },
    )
    assert subscription.status == 201, subscription.body
    return Seeded(source, "1", subscription.json["id"], job.json["job"]["id"])


def path_parameter_patterns(document: dict[str, Any]) -> dict[str, re.Pattern[str]]:
    patterns: dict[str, re.Pattern[str]] = {}
    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", ()):
                pattern = (parameter.get("schema") or {}).get("pattern")
                if parameter["in"] == "path" and pattern:
                    patterns[parameter["name"]] = re.compile(pattern)
    return patterns


class PathAim:
    """Half the generated paths name seeded resources instead of ids nobody created.

    The schema's ``flatmap_path_parameters`` hook; the targets arrive once the server is up. Only
    values that already match their pattern are swapped, so an invalid path parameter stays invalid.
    """

    def __init__(self, patterns: dict[str, re.Pattern[str]]) -> None:
        self._patterns = patterns
        self.targets: dict[str, str] = {}

    def __call__(
        self, _: HookContext, path_parameters: dict[str, Any] | None
    ) -> st.SearchStrategy[dict[str, Any] | None]:
        if not path_parameters or not self.targets:
            return st.just(path_parameters)
        aimed = dict(path_parameters)
        for name, value in path_parameters.items():
            pattern = self._patterns.get(name)
            if name in self.targets and isinstance(value, str) and pattern is not None and pattern.fullmatch(value):
                aimed[name] = self.targets[name]
        return st.sampled_from([path_parameters, aimed])


def drop_unissued_page_tokens(_: HookContext, case: Case) -> Case:
    """A valid request never carries a ``next_token`` the server did not issue.

    The document can only say ``next_token`` is a string; the contract makes it opaque, and one the
    server did not issue is a 400. So generated tokens are only sent in requests meant to be
    invalid anyway; a tampered token's 400 is proven in test_gateway_over_http.py.
    """
    if case.meta is not None and case.meta.generation.mode.is_positive and case.query:
        case.query.pop("next_token", None)
    return case


def only_parsable_filters(_: HookContext, case: Case) -> Case:
    """A valid request's ``filter`` parses.

    The document can only say ``filter`` is a string of at most 1,000 characters; its grammar is in
    docs/search.md, and one that does not parse is a 400 naming the position. So generated filters
    are only sent in requests meant to be invalid anyway; the 400s (and that no filter of any shape
    is a 5xx) are proven in tests/integration/test_search_routes.py.
    """
    if _is_positive(case) and case.query and "filter" in case.query:
        kind = "version" if case.path.endswith("/versions") else "model"
        try:
            parse_filter(str(case.query["filter"]), kind)
        except FilterInvalidError:
            case.query.pop("filter")
    return case


def alias_only_with_alias_events(_: HookContext, case: Case) -> Case:
    """A valid impact query names an alias exactly when its event is an alias event.

    Query parameters cannot depend on each other in the document: it says each may be given, and
    the description says ``alias`` is required for ``alias_set`` and refused otherwise (a 400 naming
    it). So valid requests follow that rule; its 400s are proven in
    tests/integration/test_alias_events.py.
    """
    if _is_positive(case) and case.path.endswith("/impact") and case.query is not None:
        if case.query.get("event") in ALIAS_EVENT_NAMES:
            case.query.setdefault("alias", "champion")
        else:
            case.query.pop("alias", None)
    return case


def integers_without_fraction(_: HookContext, case: Case) -> Case:
    """A valid request writes an integer as a JSON integer.

    JSON Schema's ``integer`` admits ``3.0`` (a number whose fraction is zero), and the fuzzer sends
    it as valid; PIE's integer fields take integers only (``"3"``, ``true`` and ``3.0`` are 400s),
    as their descriptions say. So valid requests send integral floats as integers; the 400 for
    ``3.0`` is proven in tests/integration/test_request_errors.py.
    """
    if _is_positive(case) and case.body is not None:
        case.body = _without_fraction(case.body)
    return case


def _without_fraction(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {name: _without_fraction(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_without_fraction(item) for item in value]
    return value


# Open bugs the fuzzer found -------------------------------------------------------------------------


def _is_positive(case: Case) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_positive


def _sent_json(response: Response) -> bool:
    content_type = response.request.headers.get("Content-Type") or ""
    return content_type.split(";")[0].strip().lower() == "application/json"


@dataclass(frozen=True)
class OpenBug:
    """A product problem the fuzzer found, reproduced by a strict-xfail test in test_fuzz_openapi.py.

    ``manifests`` recognises its answers, which the fuzzer excuses (and only those) until the bug
    is fixed; fixing it turns that test into an XPASS failure, and then the entry goes.
    """

    title: str
    manifests: Callable[[Case, Response], bool]


OPEN_BUGS: dict[str, OpenBug] = {}


def open_bug_behind(case: Case, response: Response) -> str | None:
    return next((name for name, bug in OPEN_BUGS.items() if bug.manifests(case, response)), None)

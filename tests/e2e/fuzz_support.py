"""What the OpenAPI fuzzer needs beyond schemathesis: its configuration, PIE's error-shape check,
and a few real resources for generated requests to aim at, so they reach past the 404s.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis import Case, CheckContext, HookContext, Response

from tests.e2e.client import Api
from tests.e2e.documents import IN_PROCESS_HANDLERS, model_document, unique_id

PUBLISHED_DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"

# PIE refuses bad input with these (SPEC "Errors, every one"); 401/403 cannot happen with a token
# holding every scope, so they would mean the check is being fooled.
REJECTION_STATUSES = ("400", "404", "409", "422")


def fuzz_config() -> schemathesis.Config:
    """Every built-in response check, with PIE's refusals as what invalid data must get."""
    return schemathesis.Config.from_dict(
        {
            "request-timeout": 20,
            "checks": {
                "negative_data_rejection": {"expected-statuses": list(REJECTION_STATUSES)},
            },
        }
    )


def load_published_document() -> Any:
    """The checked-in document; the fuzz test first proves the server serves exactly this."""
    return schemathesis.openapi.from_path(PUBLISHED_DOCUMENT, config=fuzz_config())


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


@dataclass(frozen=True)
class Seeded:
    """Resources that exist on the fuzzed server, by the path parameter that names them."""

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


class PathAim:
    """Half the generated paths point at seeded resources instead of ids nobody created.

    Registered as the schema's ``flatmap_path_parameters`` hook; the targets arrive once the
    server is up. Only values that already match their pattern are swapped, so an invalid
    (negative) path parameter stays invalid.
    """

    def __init__(self, patterns: dict[str, re.Pattern[str]]) -> None:
        self._patterns = patterns
        self.targets: dict[str, str] = {}

    def __call__(self, _: HookContext, path_parameters: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        aimed = dict(path_parameters)
        for name, value in path_parameters.items():
            pattern = self._patterns.get(name)
            if name in self.targets and isinstance(value, str) and pattern is not None and pattern.fullmatch(value):
                aimed[name] = self.targets[name]
        return st.sampled_from([path_parameters, aimed]) if aimed != path_parameters else st.just(path_parameters)


def seed_resources(api: Api) -> Seeded:
    """A model with in-process handlers, a second model subscribed to it, and a training job."""
    source, target = unique_id("fuzz"), unique_id("fuzz-target")
    for model_id in (source, target):
        reply = api.post("/v2/models", model_document(model_id, handlers=IN_PROCESS_HANDLERS))
        assert reply.status == 201, reply.body
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
    job = api.post(f"/v2/models/{source}/training", {"input": {"epochs": 1}})
    assert job.status == 202, job.body
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

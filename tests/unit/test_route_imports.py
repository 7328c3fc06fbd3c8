"""Cold start: a function imports the modules of what its route does, not of every route.

Each function's handler is imported in a fresh interpreter (as Lambda's init does) and the modules
it loaded are checked against what its kind of route never needs at import: a model read has no
use for subscriptions, chains, triggers, jobs or the dispatcher, and no list or read route seals a
page token before it has a page to seal (so ``cryptography`` waits for the first token). A later
change that re-adds one of these imports fails here instead of silently slowing every cold start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What no API route function needs at import: its services are built on first use.
NEVER_AT_ROUTE_IMPORT = (
    "cryptography",  # page tokens: loaded with the codec, when a list reads or seals a token
    "jsonschema",  # handler contracts: loaded by the routes that check a payload, when they do
    "shared.data.chains",
    "shared.data.outbox",
    "shared.dispatch",
    "shared.data.webhook_entities",  # webhook items: the webhook routes and the delivery consumer
    "shared.domain.contracts",
    "shared.domain.job_rules",
    "shared.domain.responses.aliases",  # another resource's responses
    "shared.domain.responses.chains",
    "shared.domain.responses.jobs",
    "shared.domain.triggers",
    "shared.domain.webhooks",
    "shared.kinds.allow_list",  # the allow-list model: built when a route first checks a handler
    "shared.kinds.starting",
    "shared.services.chains",
    "shared.services.firing",
    "shared.services.handler_policy",
    "shared.services.jobs",
    "shared.services.subscriptions",
    "shared.services.transitions",
)
# Reads also leave the write path alone: request bodies and Idempotency-Key records.
NEVER_AT_READ_IMPORT = (*NEVER_AT_ROUTE_IMPORT, "shared.domain.requests", "shared.http.idempotency")
# Only the list routes parse search filters.
NOT_SEARCHING = ("shared.data.search", "shared.domain.search", "shared.services.search")
# The stream consumer starts jobs: no HTTP layer, no page tokens, no subscription management.
NEVER_AT_DISPATCH_IMPORT = (
    "cryptography",
    "shared.http",
    "shared.data.subscriptions",
    "shared.services.chains",
    "shared.services.handler_policy",
    "shared.services.search",
    "shared.services.subscriptions",
    "shared.services.webhooks",
    "shared.data.webhook_entities",
    "shared.domain.webhooks",
    "shared.kinds.allow_list",
)

DENIED = {
    "get_model": (*NEVER_AT_READ_IMPORT, *NOT_SEARCHING),
    "get_version": (*NEVER_AT_READ_IMPORT, *NOT_SEARCHING),
    "list_models": NEVER_AT_READ_IMPORT,
    "list_versions": NEVER_AT_READ_IMPORT,
    "create_model": (*NEVER_AT_ROUTE_IMPORT, *NOT_SEARCHING),
    "create_version": (*NEVER_AT_ROUTE_IMPORT, *NOT_SEARCHING),
    "dispatch_jobs": NEVER_AT_DISPATCH_IMPORT,
}


def _modules_after_import(function: str) -> set[str]:
    script = (
        "import importlib, json, sys\n"
        f"importlib.import_module('functions.{function}.handler')\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return set(json.loads(completed.stdout.splitlines()[-1]))


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize("function", sorted(DENIED))
def test_a_function_imports_only_what_its_route_uses(function):
    loaded = _modules_after_import(function)
    unneeded = sorted(module for module in loaded for package in DENIED[function] if _under(module, package))
    assert unneeded == [], f"functions/{function} imports modules its route does not use at init: {unneeded}"


def test_importing_the_page_token_module_does_not_load_cryptography():
    script = "import sys, shared.data.page_tokens; print('cryptography' in sys.modules)"
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.stdout.strip() == "False", completed.stderr[-3000:]

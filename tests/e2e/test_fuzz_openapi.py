"""Every operation of the published OpenAPI document, fuzzed against a running ``pie-local serve``.

Schemathesis generates valid and invalid requests for each operation (a bounded number each, so
the whole run stays well under a minute and a half on two cores), sent with a token holding every
scope, half of them aimed at resources that exist. Each response must be no 5xx, conform to the
document (status code, content type, headers, body schema), accept valid data, refuse invalid
data with one of PIE's refusals, and any refusal must read ``{success: false, message}``.

The fuzzer gets its own server: its random creates and deletes stay out of the tables the rest
of the end-to-end suite reads.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.e2e.client import Api, mint
from tests.e2e.fuzz_support import (
    PUBLISHED_DOCUMENT,
    PathAim,
    Seeded,
    load_published_document,
    path_parameter_patterns,
    refusals_say_why,
    seed_resources,
)
from tests.e2e.local_server import LocalServer, start_server, stop_server

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = 25

# Loaded from the file, not with schemathesis.pytest.from_fixture: its lazy loader reads
# pytest's private Node._nodeid, which pytest 9.2 removed. The test proves the file is what the
# server serves.
schema = load_published_document()
aim = PathAim(path_parameter_patterns(schema.raw_schema))
schema.hook("flatmap_path_parameters")(aim)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    home = tmp_path_factory.mktemp("pie-fuzz") / ".pie-local"
    running = start_server(home, home.parent / "serve.log")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def fuzz_headers(fuzz_server: LocalServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(fuzz_server.home)}"}


@pytest.fixture(scope="module")
def seeded(fuzz_server: LocalServer, fuzz_headers: dict[str, str]) -> Seeded:
    token = fuzz_headers["Authorization"].removeprefix("Bearer ")
    resources = seed_resources(Api(fuzz_server.url, token))
    aim.targets = resources.path_values()
    return resources


def test_the_server_publishes_the_fuzzed_document(fuzz_server: LocalServer):
    with urllib.request.urlopen(f"{fuzz_server.url}/v2/openapi.json", timeout=10) as response:
        served = json.load(response)

    assert served == json.loads(PUBLISHED_DOCUMENT.read_text())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_answers_as_documented(
    case: schemathesis.Case,
    fuzz_server: LocalServer,
    fuzz_headers: dict[str, str],
    seeded: Seeded,
) -> None:
    case.call_and_validate(base_url=fuzz_server.url, headers=fuzz_headers, additional_checks=[refusals_say_why])

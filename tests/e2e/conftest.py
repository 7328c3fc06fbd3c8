"""One ``pie-local serve`` subprocess for the whole end-to-end suite, and tokens it trusts.

The suite runs in a shuffled order (modules, and tests within each), so a test that passes only
after another fails sooner or later; the seed is printed, and ``PIE_E2E_SEED=<seed>`` repeats an
order.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.client import Api, mint
from tests.e2e.documents import model_document, unique_id
from tests.e2e.local_server import LocalServer, Tokens, forged_token, serving

E2E_DIRECTORY = Path(__file__).resolve().parent
SEED = int(os.environ.get("PIE_E2E_SEED") or random.SystemRandom().randrange(1_000_000))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Shuffles the modules, and the tests inside each module. A module's tests stay together, so
    a module-scoped server starts once, not once per run of that module's tests in the order."""
    positions = [index for index, item in enumerate(items) if E2E_DIRECTORY in item.path.parents]
    if not positions:
        return
    shuffle = random.Random(SEED).shuffle
    modules: dict[Path, list[pytest.Item]] = {}
    for index in positions:
        modules.setdefault(items[index].path, []).append(items[index])
    groups = list(modules.values())
    shuffle(groups)
    for group in groups:
        shuffle(group)
    for index, item in zip(positions, [item for group in groups for item in group], strict=True):
        items[index] = item
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"end-to-end tests shuffled: PIE_E2E_SEED={SEED}")


@pytest.fixture(scope="session")
def pie_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pie-local") / ".pie-local"


@pytest.fixture(scope="session")
def server(pie_home: Path) -> Iterator[LocalServer]:
    with serving(pie_home) as running:
        yield running


@pytest.fixture(scope="session")
def tokens(pie_home: Path, server: LocalServer) -> Tokens:
    """Minted with ``pie-local token`` from the server's home, so the server trusts them."""
    options = {
        "admin": (),
        "reader": ("--scope", "models:read", "--sub", "reader"),
        "writer": ("--scope", "models:write", "--sub", "writer"),
        "jobs": ("--scope", "jobs:write", "--sub", "worker"),
        "expired": ("--expires-in", "-10"),
    }
    with ThreadPoolExecutor(max_workers=len(options)) as pool:
        minted = dict(
            zip(options, pool.map(lambda arguments: mint(pie_home, *arguments), options.values()), strict=True)
        )
    return Tokens(**minted, forged=forged_token())


@pytest.fixture(scope="session")
def api(server: LocalServer, tokens: Tokens) -> Api:
    """Calls as a developer holding every scope."""
    return Api(server.url, tokens.admin)


@pytest.fixture
def anonymous(server: LocalServer) -> Api:
    return Api(server.url)


@pytest.fixture
def model_id(api: Api) -> str:
    """A freshly created model (version "1", pending)."""
    created = unique_id()
    reply = api.post("/v2/models", model_document(created))
    assert reply.status == 201, reply.body
    return created

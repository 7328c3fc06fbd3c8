"""One ``pie-local serve`` subprocess for the whole end-to-end suite, and tokens it trusts."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.client import Api, mint
from tests.e2e.documents import model_document, unique_id
from tests.e2e.local_server import LocalServer, Tokens, forged_token, start_server, stop_server


@pytest.fixture(scope="session")
def pie_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pie-local") / ".pie-local"


@pytest.fixture(scope="session")
def server(pie_home: Path) -> Iterator[LocalServer]:
    running = start_server(pie_home, pie_home.parent / "serve.log")
    yield running
    stop_server(running)


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
        minted = dict(zip(options, pool.map(lambda arguments: mint(pie_home, *arguments), options.values())))
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

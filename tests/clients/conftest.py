"""A ``pie-local serve`` of each test module's own (fresh ``PIE_LOCAL_HOME``), and SDK clients on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pie_client import PieClient
from tests.e2e.client import mint
from tests.e2e.local_server import LocalServer, start_server, stop_server


@pytest.fixture(scope="module")
def pie_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pie-client") / ".pie-local"


@pytest.fixture(scope="module")
def server(pie_home: Path) -> Iterator[LocalServer]:
    running = start_server(pie_home, pie_home.parent / "serve.log")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def token(pie_home: Path, server: LocalServer) -> str:
    return mint(pie_home)


@pytest.fixture
def pie(server: LocalServer, token: str) -> Iterator[PieClient]:
    with PieClient(server.url, token) as client:
        yield client

"""A ``pie-local serve`` of each test module's own (fresh ``PIE_LOCAL_HOME``), and SDK clients on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pie_client import PieClient
from tests.e2e.client import mint
from tests.e2e.local_server import LocalServer, serving


@pytest.fixture(scope="module")
def pie_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pie-client") / ".pie-local"


@pytest.fixture(scope="module")
def server(pie_home: Path) -> Iterator[LocalServer]:
    with serving(pie_home) as running:
        yield running


@pytest.fixture(scope="module")
def token(pie_home: Path, server: LocalServer) -> str:
    return mint(pie_home)


@pytest.fixture
def pie(server: LocalServer, token: str) -> Iterator[PieClient]:
    with PieClient(server.url, token) as client:
        yield client

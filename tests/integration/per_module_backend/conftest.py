"""Fixtures of the tests in this folder: one moto backend per module, a fresh table per test.

Dropping and re-creating the table costs far less than a new backend, and these modules create
many tables. The fixtures live here, not in a helper module, so no test imports a fixture name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pie_local.settings import LOCAL_TABLE_NAME, local_environment
from pie_local.table.dynamodb import embedded_dynamodb
from shared import runtime
from shared.data.table import create_table


@pytest.fixture(scope="module")
def module_table() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as environment:
        for name, value in local_environment().items():
            environment.setenv(name, value)
        with embedded_dynamodb(LOCAL_TABLE_NAME) as client:
            yield client


@pytest.fixture
def table(module_table: Any) -> Any:
    """A fresh table for this test, in the module's moto backend (dropping and re-creating the
    table costs far less than a new backend)."""
    module_table.delete_table(TableName=LOCAL_TABLE_NAME)
    create_table(module_table, LOCAL_TABLE_NAME)
    runtime.reset()
    return module_table

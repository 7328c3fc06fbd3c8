"""Integration fixtures: the route functions run on a fresh embedded table (``table``)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.api_events import create_model


@pytest.fixture
def seed_model(table: Any) -> dict[str, Any]:
    """The seed documents' model (``model_price_reco_v1``), created through create_model."""
    return create_model()

"""The validation context of a stored document being read back.

PIE writes an entity's document only after validating it, so reading it back need not run again
the checks that guard input: that its JSON has no NaN, that a contract is a valid JSON Schema (which
imports jsonschema), how many unknown fields an error names. The data layer decodes every stored
document with ``context=STORED`` (``shared.data.items.decoded``); a validator that only checks skips
itself when ``from_storage(info)``. A validator that changes its value never skips.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

STORED: MappingProxyType[str, bool] = MappingProxyType({"stored": True})


def from_storage(info: Any) -> bool:
    """Whether the value being validated (``info``: pydantic's ValidationInfo) is a stored document's."""
    return info.context is STORED

"""Every key of the single table is built here, and nowhere else.

Identifiers cannot contain ``#`` (their patterns forbid it), so ``#`` safely separates key parts.
"""

from __future__ import annotations

MODEL_ENTITY = "MODEL"
VERSION_ENTITY = "VERSION"

_MODEL_SK = "MODEL"
_VERSION_PREFIX = "VERSION#"
_ALL_MODELS = "MODELS"


def model_partition(model_id: str) -> str:
    return f"MODEL#{model_id}"


def model_key(model_id: str) -> dict[str, str]:
    return {"PK": model_partition(model_id), "SK": _MODEL_SK}


def model_index_keys(model_id: str, status: str) -> dict[str, str]:
    """GSI1 lists every model by id; GSI2 lists the models of one status by id."""
    return {
        "GSI1PK": _ALL_MODELS,
        "GSI1SK": model_id,
        "GSI2PK": models_by_status_partition(status),
        "GSI2SK": model_id,
    }


def all_models_partition() -> str:
    return _ALL_MODELS


def models_by_status_partition(status: str) -> str:
    return f"MODELS#STATUS#{status}"


def version_key(model_id: str, version: str) -> dict[str, str]:
    return {"PK": model_partition(model_id), "SK": f"{_VERSION_PREFIX}{version}"}


def version_order_key(sequence: int) -> dict[str, str]:
    """LSI1 orders a model's versions by creation: zero-padded so text order is numeric order."""
    return {"LSI1SK": f"{_VERSION_PREFIX}{sequence:012d}"}


def version_order_prefix() -> str:
    return _VERSION_PREFIX

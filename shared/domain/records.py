"""Plain types the service protocols and the data layer share: what a store hands back, besides the
entities themselves. They belong to the model, so the protocols (``shared.services.ports``) and the
stores (``shared.data``) both import them from here and neither imports the other's types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from shared.domain.entities import AliasChange, Model

T = TypeVar("T")


@dataclass(frozen=True)
class ModelRecord:
    """A model with the counters the registry keeps beside it (never part of the API)."""

    model: Model
    version_sequence: int
    highest_numeric_version: int
    # Versions that went active, oldest first, still active: withdrawing the model's active version
    # falls back to the newest one left.
    activation_order: tuple[str, ...] = ()


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its items and the token of the next page (None on the last)."""

    items: list[T]
    next_token: str | None


@dataclass(frozen=True)
class Document:
    """An entity's document as a read answers it, without decoding it: its JSON text, exactly as
    encoding the entity gives today, and what a read checks (its workspace, the version the ETag
    names). The data layer says when a stored text is that (``shared.data.entities.model_document``)."""

    text: str
    workspace: str
    entity_version: int


@dataclass(frozen=True)
class AliasChangeRecord:
    """One entry of an alias's history, with the alias's ``entity_version`` after it."""

    model_id: str
    name: str
    change: AliasChange
    entity_version: int

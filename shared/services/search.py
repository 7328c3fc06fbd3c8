"""Search (SPEC part three): ``?filter=`` and ``?order_by=`` on the model and version lists.

The filter is parsed and planned by the domain (``shared.domain.search``) and read by the search
store from the index the plan names; without either parameter the plain list answers, unchanged.
Workspaces and private reads limit a search exactly as they limit the plain list.
"""

from __future__ import annotations

from typing import Protocol

from shared.domain.access import Access
from shared.domain.entities import Model, Version
from shared.domain.records import Page
from shared.domain.responses.encoded import Encoded
from shared.domain.responses.models import ModelList, VersionList
from shared.domain.search import (
    Comparison,
    Filter,
    SearchPlan,
    parse_filter,
    parse_order_by,
    plan_search,
    searched_workspaces,
)
from shared.services.registry import ModelRegistry


class SearchReader(Protocol):
    def models(
        self, plan: SearchPlan, limit: int, page_token: str | None, workspaces: tuple[str, ...] | None
    ) -> Page[Model]: ...

    def versions(self, model_id: str, plan: SearchPlan, limit: int, page_token: str | None) -> Page[Version]: ...


def _given(text: str | None) -> bool:
    return text is not None and bool(text.strip())


class SearchService:
    def __init__(self, registry: ModelRegistry, store: SearchReader) -> None:
        self._registry = registry
        self._store = store

    def list_models(
        self,
        limit: int,
        page_token: str | None,
        access: Access,
        status: str | None = None,
        workspace: str | None = None,
        filter_text: str | None = None,
        order_by: str | None = None,
    ) -> Encoded[ModelList]:
        if not _given(filter_text) and not _given(order_by):
            return self._registry.list_models(limit, page_token, status, access, workspace)
        search = parse_filter(filter_text, "model")
        if status is not None:
            # ``?status=`` is one more term; -1: it has no place in the filter's text.
            search = Filter((*search.terms, Comparison("status", "=", status, -1)))
        plan = plan_search("model", search, parse_order_by(order_by, "model"))
        workspaces = searched_workspaces(search, access.listed_workspaces(workspace))
        page = self._store.models(plan, limit, page_token, workspaces)
        return Encoded.of(ModelList(models=page.items, next_token=page.next_token))

    def list_versions(
        self,
        model_id: str,
        limit: int,
        page_token: str | None,
        access: Access,
        filter_text: str | None = None,
        order_by: str | None = None,
    ) -> VersionList:
        if not _given(filter_text) and not _given(order_by):
            return self._registry.list_versions(model_id, limit, page_token, access)
        plan = plan_search("version", parse_filter(filter_text, "version"), parse_order_by(order_by, "version"))
        if not access.reads_everything:
            self._registry.readable_model(model_id, access)
        page = self._store.versions(model_id, plan, limit, page_token)
        if not page.items and page_token is None and access.reads_everything:
            # An empty answer must still say when there is no such model.
            self._registry.readable_model(model_id, access)
        return VersionList(versions=page.items, next_token=page.next_token)

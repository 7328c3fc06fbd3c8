"""The services wired as ``shared.runtime`` wires them, over the in-memory fakes, with a clock and
ids the tests control."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from shared.domain.access import Access
from shared.domain.requests import CreateModelRequest, CreateSubscriptionRequest, NewStatusRequest
from shared.domain.responses.models import ModelVersionResponse
from shared.kinds.allow_list import HandlerAllowList
from shared.services.firing import ChainView, Firing
from shared.services.handler_policy import HandlerPolicy
from shared.services.jobs import JobService
from shared.services.registry import ModelRegistry
from shared.services.subscriptions import SubscriptionService
from shared.services.transitions import VersionLifecycle
from tests.unit.builders import ECHO, T0
from tests.unit.fakes import Stores

ADMIN = Access("tester", frozenset({"default"}), admin=True)  # an admin whose own team is "default"
ALLOW = HandlerAllowList(in_process_implementations=["echo", "fail"])


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Ids:
    """uuid-shaped ids, numbered in the order they are asked for."""

    def __init__(self) -> None:
        self.issued: list[str] = []

    def __call__(self) -> str:
        self.issued.append(str(uuid.UUID(int=len(self.issued) + 1)))
        return self.issued[-1]


class World:
    def __init__(self) -> None:
        self.stores = Stores()
        self.table = self.stores.table
        self.clock = Clock()
        self.ids = Ids()
        self.subscriptions = SubscriptionService(
            self.stores.registry, self.stores.subscriptions, self.clock, self.stores.budgets, new_id=self.ids
        )
        self.registry = ModelRegistry(
            self.stores.registry, HandlerPolicy(ALLOW, ("echo", "fail")), self.subscriptions, self.clock
        )
        view = ChainView(self.stores.registry, self.stores.subscriptions, self.stores.budgets)
        self.firing = Firing(view, self.stores.outbox)
        self.lifecycle = VersionLifecycle(self.stores.registry, self.firing, self.stores.outbox, self.clock)
        self.jobs = JobService(
            self.stores.registry,
            self.stores.jobs,
            self.lifecycle,
            self.firing,
            self.stores.outbox,
            self.clock,
            rng=lambda: 0.5,
            new_id=self.ids,
        )

    # Shortcuts for arranging a state through the services themselves.

    def create(self, model_id: str = "m", access: Access = ADMIN, **fields: Any) -> ModelVersionResponse:
        body = {"id": model_id, "name": model_id, "handlers": {"training": ECHO, "inference": ECHO}, **fields}
        return self.registry.create_model(CreateModelRequest.model_validate(body), "alice", access)

    def move(self, model_id: str, status: str, version: str = "latest", **kwargs: Any):
        request = NewStatusRequest(status=status)
        return self.lifecycle.set_status(model_id, version, request.status, None, "alice", ADMIN, **kwargs)

    def activate(self, model_id: str, version: str = "latest"):
        self.move(model_id, "training", version)
        return self.move(model_id, "active", version)

    def subscribe(self, source: str, target: str, **fields: Any):
        body = {
            "trigger_event": "training_complete",
            "target_model_id": target,
            "target_action": "inference",
            "input_source": "trigger_output",
            **fields,
        }
        return self.subscriptions.create(source, CreateSubscriptionRequest.model_validate(body), ADMIN)

    def touch_model(self, model_id: str = "m", **changes: Any) -> None:
        """Another writer's change to the model (its entity_version moves on)."""
        record = self.stores.registry.get_model(model_id)
        model = record.model
        update = {"description": "changed meanwhile", **changes, "entity_version": model.entity_version + 1}
        self.stores.registry.save_model(replace(record, model=model.model_copy(update=update)), model.entity_version)

    def concurrently(self, change) -> None:
        """``change`` happens between the service's next read and its write."""
        self.table.interleave(change)

    def always_concurrently(self, change) -> None:
        """Every write loses to ``change`` (a writer that always gets there first)."""

        def again() -> None:
            change()
            self.table.interleave(again)

        self.table.interleave(again)


@pytest.fixture
def world() -> World:
    return World()

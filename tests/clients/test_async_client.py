"""``AsyncPieClient`` over HTTP against ``pie-local serve``: the sync client's operations, models
and typed errors, awaited; and one implementation of the operations for both clients."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from pie_client import AsyncPieClient, Conflict, InvalidRequest, NotFound, PieClient, RetryPolicy, WaitTimeout
from pie_client import client as client_module
from pie_client.models import Job, Model, ModelVersionResponse
from tests.clients.handlers import ECHO, WAITING, new_id
from tests.e2e.local_server import LocalServer

pytestmark = pytest.mark.e2e


def run(server: LocalServer, token: str, scenario: Callable[[AsyncPieClient], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with AsyncPieClient(server.url, token) as pie:
            return await scenario(pie)

    return asyncio.run(main())


def test_a_chain_is_declared_trained_and_read_with_await(server: LocalServer, token: str):
    source, target = new_id("async"), new_id("async")

    async def scenario(pie: AsyncPieClient) -> tuple[Any, ...]:
        created = await pie.create_model(source, name="Source", handlers=ECHO)
        await pie.create_model(target, name="Target", handlers=ECHO)
        await pie.create_subscription(
            source,
            trigger_event="training_complete",
            target_model_id=target,
            target_action="training",
            input_source="trigger_output",
        )
        job = await pie.start_training(source, {"day": "2026-11-30"})
        finished = await pie.wait_for_job(source, job.id, timeout=60, poll=0.2)
        for _ in range(300):
            jobs = (await pie.list_jobs(target)).jobs
            if jobs and jobs[0].finished:
                break
            await asyncio.sleep(0.1)
        lineage = await pie.get_version_lineage(target, jobs[0].version)
        listed = [model.id async for model in pie.iter_models(page_size=1)]
        return created, finished, jobs[0], lineage, listed

    created, finished, chained, lineage, listed = run(server, token, scenario)

    assert isinstance(created, ModelVersionResponse) and created.model.id == source
    assert isinstance(finished, Job) and finished.status == "succeeded"
    assert chained.status == "succeeded" and chained.output == {"day": "2026-11-30"}
    assert [step.model_id for step in lineage] == [target, source]
    assert {source, target} <= set(listed)


def test_update_is_partial_and_conditional_as_in_the_sync_client(server: LocalServer, token: str):
    model_id = new_id("async")

    async def scenario(pie: AsyncPieClient) -> tuple[Model, Exception]:
        await pie.create_model(model_id, name="Prices", handlers=ECHO, metadata={"team": "pricing"})
        updated = (await pie.update_model(model_id, description="partial")).model
        try:
            await pie.replace_model(
                model_id, name="X", handlers=WAITING, description="", metadata={}, if_match=updated.entity_version - 1
            )
        except Conflict as conflict:
            return updated, conflict
        raise AssertionError("a stale If-Match was accepted")

    updated, conflict = run(server, token, scenario)

    assert updated.description == "partial" and updated.metadata == {"team": "pricing"} and updated.name == "Prices"
    assert conflict.status == 409


def test_errors_are_the_sync_clients_typed_errors(server: LocalServer, token: str):
    waiting = new_id("async")

    async def scenario(pie: AsyncPieClient) -> list[Exception]:
        await pie.create_model(waiting, name="Waits", handlers=WAITING)
        job = await pie.start_training(waiting, {})
        raised: list[Exception] = []
        for call in (
            lambda: pie.get_model(new_id("missing")),
            lambda: pie.create_model("Not An Id!", name="x", handlers={"training": {}}),
            lambda: pie.wait_for_job(waiting, job.id, timeout=0.3, poll=0.1),
        ):
            try:
                await call()
            except Exception as error:
                raised.append(error)
        return raised

    missing, invalid, waited = run(server, token, scenario)

    assert type(missing) is NotFound and missing.status == 404
    assert type(invalid) is InvalidRequest
    assert type(waited) is WaitTimeout and waited.job.status in ("queued", "dispatched")  # never completed


def test_requests_run_concurrently_on_one_client(server: LocalServer, token: str):
    ids = [new_id("async") for _ in range(8)]

    async def scenario(pie: AsyncPieClient) -> list[Model]:
        await asyncio.gather(*(pie.create_model(model_id, name=model_id, handlers=ECHO) for model_id in ids))
        return await asyncio.gather(*(pie.get_model(model_id) for model_id in ids))

    assert [model.id for model in run(server, token, scenario)] == ids


def test_retries_and_backoff_are_the_sync_clients():
    answers = iter([httpx.Response(503, json={"message": "Service Unavailable"}), httpx.Response(204)])
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def main() -> None:
        async with AsyncPieClient(
            "https://pie.example.com",
            "t",
            transport=httpx.MockTransport(lambda request: next(answers)),
            retry=RetryPolicy(max_attempts=2, base_delay=0.5),
            sleep=sleep,
        ) as pie:
            await pie.delete_model("m")

    asyncio.run(main())

    assert len(waits) == 1 and 0 <= waits[0] <= 0.5


def test_one_implementation_of_the_operations_serves_both_clients():
    """The operations live in one class; the clients add only how a request is sent."""
    operations = {
        name
        for name, member in vars(client_module._PieOperations).items()
        if not name.startswith("_") and inspect.isfunction(member)
    }
    own = {
        cls: {name for name, member in vars(cls).items() if not name.startswith("_") and inspect.isfunction(member)}
        for cls in (PieClient, AsyncPieClient)
    }

    assert {"create_model", "update_model", "wait_for_job", "iter_models", "check_handlers"} <= operations
    assert own[PieClient] == {"close"}
    assert own[AsyncPieClient] == {"aclose"}

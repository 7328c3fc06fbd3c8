"""Stand-in Lambda clients for the dispatcher (``shared.runtime.use_stand_in``)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any


class InstantLambda:
    """Accepts every asynchronous Invoke at once."""

    def invoke(self, **request: Any) -> dict[str, Any]:
        return {"StatusCode": 202}


class SlowLambda:
    """Accepts every Invoke after ``latency_seconds`` (a network round trip), counting the job ids
    it was asked to start."""

    def __init__(self, latency_seconds: float) -> None:
        self._latency = latency_seconds
        self._lock = threading.Lock()
        self.started: Counter[str] = Counter()

    def invoke(self, **request: Any) -> dict[str, Any]:
        time.sleep(self._latency)
        job_id = json.loads(request["Payload"])["job_id"]
        with self._lock:
            self.started[job_id] += 1
        return {"StatusCode": 202}


class _Body:
    """The raw body botocore reads a response from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


class LatencyOnlyDynamoDB:
    """Answers a botocore DynamoDB client's writes itself, after ``latency_seconds``: what DynamoDB
    costs a function (a network round trip, no CPU of the function's), where the embedded table
    would add its own server-side CPU to the function's process. It takes the embedded table's
    place on the client's ``before-send``, so botocore still builds, signs and parses each call. Keeps the
    status each write gave each item (by its ``SK``), in order; it accepts only the writes the
    dispatcher makes (``PutItem`` and ``UpdateItem``) and raises on anything else."""

    WRITES = ("PutItem", "UpdateItem")

    def __init__(self, latency_seconds: float) -> None:
        self._latency = latency_seconds
        self._lock = threading.Lock()
        self.statuses: dict[str, list[str]] = {}

    def install(self, client: Any) -> None:
        # botocore takes the first answer to an event: the embedded table's (its in-process answer
        # at before-call, moto's at before-send) must step aside on this client, or it would still
        # do the work.
        from moto.core.models import botocore_stubber

        from pie_local.table.direct_calls import EVENT, answer_in_process

        client.meta.events.unregister(EVENT, answer_in_process)
        client.meta.events.unregister("before-send", botocore_stubber)
        client.meta.events.register_first("before-send.dynamodb", self._answer)

    def remove(self, client: Any) -> None:
        from moto.core.models import botocore_stubber

        from pie_local.table.direct_calls import EVENT, answer_in_process

        client.meta.events.unregister("before-send.dynamodb", self._answer)
        client.meta.events.register("before-send", botocore_stubber)
        client.meta.events.register(EVENT, answer_in_process)

    def _answer(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        operation = request.headers["X-Amz-Target"].decode().rsplit(".", 1)[-1]
        if operation not in self.WRITES:
            raise AssertionError(f"the latency-only DynamoDB answers writes, not {operation}")
        body = json.loads(request.body)
        item = body.get("Item") or body["Key"]
        status = body.get("Item", {}).get("status", {}).get("S") or _updated_status(body)
        time.sleep(self._latency)
        with self._lock:
            self.statuses.setdefault(item["SK"]["S"], []).append(status)
        return AWSResponse(request.url, 200, {"x-amzn-RequestId": "latency-only"}, _Body(b"{}"))


def _updated_status(body: dict[str, Any]) -> str:
    values = body.get("ExpressionAttributeValues", {})
    names = {alias: name for alias, name in body.get("ExpressionAttributeNames", {}).items()}
    for assignment in body.get("UpdateExpression", "").removeprefix("SET ").split(","):
        name, _, value = (part.strip() for part in assignment.partition("="))
        if names.get(name, name) == "status":
            return str(values[value]["S"])
    return "?"

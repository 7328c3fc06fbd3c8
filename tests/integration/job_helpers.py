"""Starting, completing and dispatching jobs for the job, dispatcher and completion tests.

``table_stream()`` reads the embedded table's stream (its change log) and hands back new
records in the format Lambda's event source mapping delivers them, so the dispatcher is driven by
what PIE really wrote. The stand-in clients record what the dispatcher asked AWS to do.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from botocore.exceptions import ClientError

from pie_local.settings import LOCAL_TABLE_NAME
from pie_local.table.dynamodb import table_changes
from pie_local.table.stream import TableStream
from tests.conftest import invoke
from tests.integration.api_events import Response, call, event_for, with_claims

LAMBDA_ARN = "arn:aws:lambda:us-west-2:123456789012:function:infer"
TRAINING_ARN = "arn:aws:lambda:us-west-2:123456789012:function:train"
ECS_TASK = "ml-cluster/train-price-model:3"


# Routes -------------------------------------------------------------------------------------------


def start_inference(model_id: str, job_input: dict[str, Any], **extra: Any) -> Response:
    return call("start_inference", body={"input": job_input, **extra}, model_id=model_id)


def start_training(model_id: str, job_input: dict[str, Any], **extra: Any) -> Response:
    return call("start_training", body={"input": job_input, **extra}, model_id=model_id)


def started_job(response: Response) -> dict[str, Any]:
    status, body, _ = response
    assert status == 202, body
    assert body is not None
    return body["job"]


def complete(model_id: str, job_id: str, body: dict[str, Any], *, scope: str | None = None) -> Response:
    """POST .../complete through the complete_job function (as a worker holding ``jobs:write``)."""
    event = event_for("complete_job", body=body, model_id=model_id, job_id=job_id)
    if scope is not None:
        with_claims(event, scope=scope)
    return invoke("complete_job", event)


def get_job(model_id: str, job_id: str) -> dict[str, Any]:
    status, body, _ = call("get_job", model_id=model_id, job_id=job_id)
    assert status == 200, body
    assert body is not None
    return body["job"]


def get_version(model_id: str, version: str) -> dict[str, Any]:
    status, body, _ = call("get_version", model_id=model_id, model_version=version)
    assert status == 200, body
    assert body is not None
    return body


# The stream ---------------------------------------------------------------------------------------


def table_stream(table_name: str = LOCAL_TABLE_NAME) -> TableStream:
    """The embedded table's stream, read as the dispatcher's event source delivers it."""
    return TableStream(table_changes(table_name))


def job_inserts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["eventName"] == "INSERT" and r["dynamodb"]["NewImage"]["entity_type"]["S"] == "JOB"]


def dispatch(records: list[dict[str, Any]]) -> dict[str, Any]:
    """One batch through functions/dispatch_jobs, as the event source mapping delivers it."""
    from functions.dispatch_jobs.handler import lambda_handler
    from tests.conftest import LambdaContext

    return lambda_handler({"Records": records}, LambdaContext())


def drain(stream: TableStream, rounds: int = 20) -> int:
    """Dispatch whatever appears on the stream until it is quiet; returns how many records."""
    delivered = 0
    for _ in range(rounds):
        records = stream.read()
        if not records:
            return delivered
        assert dispatch(records) == {"batchItemFailures": []}
        delivered += len(records)
    raise AssertionError("the stream never went quiet")


# Stand-ins for AWS --------------------------------------------------------------------------------


def client_error(code: str, message: str = "", operation: str = "Invoke", status: int = 400) -> ClientError:
    response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)  # type: ignore[arg-type]


class RecordingLambda:
    """A Lambda client whose ``invoke`` records each call; ``failures`` are raised first, in order."""

    def __init__(self, failures: list[Exception] | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self._failures = list(failures or [])
        self._lock = threading.Lock()

    def invoke(self, **request: Any) -> dict[str, Any]:
        with self._lock:
            self.calls.append(request)
            if self._failures:
                raise self._failures.pop(0)
        return {"StatusCode": 202, "Payload": b""}

    def envelopes(self) -> list[dict[str, Any]]:
        return [json.loads(call["Payload"]) for call in self.calls]

    def invoked_job_ids(self) -> list[str]:
        return sorted(envelope["job_id"] for envelope in self.envelopes())


class RecordingEcs:
    """An ECS client: ``describe_task_definition`` names the first container, ``run_task`` records
    each call and answers ``responses`` in order (then a started task)."""

    def __init__(self, container: str = "trainer", responses: list[dict[str, Any] | Exception] | None = None) -> None:
        self.container = container
        self.calls: list[dict[str, Any]] = []
        self.described: list[str] = []
        self._responses = list(responses or [])
        self._lock = threading.Lock()

    def describe_task_definition(self, taskDefinition: str) -> dict[str, Any]:  # boto3's name
        self.described.append(taskDefinition)
        return {
            "taskDefinition": {
                "family": taskDefinition.split(":")[0],
                "containerDefinitions": [{"name": self.container}, {"name": "log-router"}],
            }
        }

    def run_task(self, **request: Any) -> dict[str, Any]:
        with self._lock:
            self.calls.append(request)
            response = self._responses.pop(0) if self._responses else None
        if isinstance(response, Exception):
            raise response
        if response is not None:
            return response
        task_arn = f"arn:aws:ecs:us-west-2:123456789012:task/ml-cluster/{request['startedBy'].replace('-', '')}"
        return {"tasks": [{"taskArn": task_arn, "startedBy": request["startedBy"]}], "failures": []}

"""Stand-ins for the AWS services jobs run on, for handlers ``pie-local serve`` has no code for
(``--lambda`` and ``--ecs`` map handlers to code: ``pie_local.runtime.handlers``); each handler kind
names its stand-in (``shared.kinds``).

They record each dispatch and log how to finish the job; the job stays ``dispatched`` until someone
calls ``POST /v2/models/{model_id}/jobs/{job_id}/complete``. In-process jobs need no stand-in.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from shared.kinds.ecs import ECS_ENVIRONMENT_VARIABLE, container_variables

log = logging.getLogger(__name__)


@dataclass
class DispatchRecord:
    service: str
    request: dict[str, Any]


@dataclass
class LocalTargets:
    dispatches: list[DispatchRecord] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, service: str, request: dict[str, Any], job: dict[str, Any]) -> None:
        with self._lock:
            self.dispatches.append(DispatchRecord(service, request))
        log.info(
            "%s stand-in received job %s of model %s; finish it with POST %s",
            service,
            job.get("job_id"),
            job.get("model_id"),
            (job.get("completion") or {}).get("path"),
        )


def invoked_envelope(request: dict[str, Any]) -> dict[str, Any]:
    """The job envelope an ``Invoke`` request carries as its payload."""
    payload = request.get("Payload", b"{}")
    return json.loads(payload.decode() if isinstance(payload, bytes) else payload)


class LocalLambda:
    """Accepts ``Invoke`` like Lambda's asynchronous invocation does, and runs nothing."""

    def __init__(self, targets: LocalTargets) -> None:
        self._targets = targets

    def invoke(self, **request: Any) -> dict[str, Any]:
        self._targets.record("lambda", request, invoked_envelope(request))
        return {"StatusCode": 202}


class LocalEcs:
    """Accepts ``RunTask`` for any task definition (one container, ``main``), and runs nothing."""

    def __init__(self, targets: LocalTargets) -> None:
        self._targets = targets

    def describe_task_definition(self, taskDefinition: str) -> dict[str, Any]:  # boto3's name
        return {"taskDefinition": {"family": taskDefinition, "containerDefinitions": [{"name": "main"}]}}

    def run_task(self, **request: Any) -> dict[str, Any]:
        variables = container_variables(request.get("overrides"))
        self._targets.record("ecs", request, json.loads(variables.get(ECS_ENVIRONMENT_VARIABLE) or "{}"))
        arn = f"arn:aws:ecs:local:000000000000:task/{request.get('cluster')}/{uuid.uuid4().hex}"
        return {"tasks": [{"taskArn": arn, "startedBy": request.get("startedBy")}], "failures": []}

    def stop_task(self, **request: Any) -> dict[str, Any]:
        """A cancelled job's task: nothing runs here, so there is nothing to stop."""
        return {"task": {"taskArn": request.get("task"), "lastStatus": "STOPPED"}}


class LocalStepFunctions:
    """Accepts ``StartExecution`` for any state machine, and runs nothing."""

    def __init__(self, targets: LocalTargets) -> None:
        self._targets = targets

    def start_execution(self, **request: Any) -> dict[str, Any]:
        self._targets.record("stepfunctions", request, json.loads(request.get("input") or "{}"))
        execution = request["stateMachineArn"].replace(":stateMachine:", ":execution:", 1)
        return {"executionArn": f"{execution}:{request.get('name')}"}

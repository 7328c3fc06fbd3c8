"""Teams' own handlers, run for local jobs: what ``--lambda`` and ``--ecs`` map (handler_mappings).

The dispatcher starts jobs through a Lambda and an ECS client; ``pie-local`` gives it these
instead. A job whose handler is mapped runs in a subprocess on a bounded pool of worker threads,
so the dispatcher (and the stream behind it) never waits for a handler, and a handler that
crashes, exits or hangs takes down only its own process. Unmapped handlers go to the
record-and-wait stand-ins of ``pie_local.runtime.targets``.

Results come back the way the deployed system receives them:

- a Lambda handler's return value or exception becomes the invocation record Lambda's
  asynchronous destinations put on EventBridge, handed to ``functions/complete_job_events``;
- an ECS command's exit becomes the "ECS Task State Change" of its stopped task, read by the same
  code (``shared.kinds.ecs.task_result``); the JSON object it prints last on stdout, which a task state change
  cannot carry, is added to the result (the output on success, details of the error on failure),
  and the same completion service completes the job.

A handler that runs past the timeout is killed and its job fails, as do crashes, output that is
not JSON and output over ``MAX_OUTPUT_BYTES``. Handlers die with the server: a server that stops
kills their process groups, and on Linux the kernel kills a handler whose server was killed.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Generic, TypeVar

import shared
from pie_local.runtime import handler_runner
from pie_local.runtime.functions import JOB_COMPLETION_FUNCTION, LocalLambdaContext, load_handler, local_function_name
from pie_local.runtime.handler_mappings import EcsMapping, HandlerMappings, LambdaMapping
from pie_local.runtime.targets import LocalEcs, LocalLambda, LocalTargets, invoked_envelope
from shared import runtime
from shared.kinds import KINDS
from shared.kinds.base import ReportedResult, load
from shared.kinds.ecs import ECS_ENVIRONMENT_VARIABLE, container_variables
from shared.kinds.ecs import task_result as ecs_task_result

log = logging.getLogger(__name__)

# Handlers running at once; more jobs wait their turn in the pool's queue.
WORKERS = 4
# EventBridge's event size limit, which bounds what a deployed handler's result can carry.
MAX_OUTPUT_BYTES = 256 * 1024
# What the context reports; the local runner does not limit a handler's memory.
LAMBDA_MEMORY_MB = 128
# The server's stderr: handlers' logs go where the server's go, as they would go to CloudWatch.
_SERVER_LOG = 2
_PROJECT_ROOT = str(Path(shared.__file__).resolve().parent.parent)
_ERROR_LIMIT = 4096


@dataclass(frozen=True)
class Exit:
    returncode: int
    timed_out: bool

    def describe(self) -> str:
        """How the process ended, in the words Lambda uses for a runtime that exited."""
        if self.returncode >= 0:
            return f"exit status {self.returncode}"
        # As Lambda's runtime interface words it: "signal: killed", "signal: segmentation fault".
        description = signal.strsignal(-self.returncode)
        return f"signal: {description.lower() if description else -self.returncode}"

    @property
    def container_exit_code(self) -> int:
        """What ECS reports for it: 128 + the signal for a killed process."""
        return 128 - self.returncode if self.returncode < 0 else self.returncode


class Processes:
    """Handler processes on a bounded pool of threads; ``stop`` kills those still running."""

    def __init__(self, workers: int = WORKERS) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pie-handler")
        self._running: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._stopping = False

    def submit(self, work: Callable[[], None], job_id: str) -> None:
        with self._lock:
            if self._stopping:
                log.warning("job %s not started: the server is stopping", job_id)
                return
            self._pool.submit(work).add_done_callback(lambda done: _log_crash(done, job_id))

    def run(
        self, command: list[str], *, env: dict[str, str], cwd: Path | None, stdout: int | IO[bytes], timeout: float
    ) -> Exit | None:
        """Run ``command`` to its end or until ``timeout`` (then kill it with all it started);
        None when the server stopped meanwhile. OSError when it cannot be started."""
        with self._lock:
            if self._stopping:
                return None
            process = subprocess.Popen(
                command,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                start_new_session=True,
                preexec_fn=_die_with(os.getpid()),
            )
            self._running.add(process)
        timed_out = False
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill(process)
            process.wait()
        finally:
            with self._lock:
                self._running.discard(process)
                stopping = self._stopping
        # A handler killed because the server stops has no result; its job stays dispatched.
        return None if stopping else Exit(process.returncode, timed_out)

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            for process in self._running:
                _kill(process)
        self._pool.shutdown(wait=True, cancel_futures=True)


# prctl(2): the signal the kernel sends a process when the thread that started it ends.
_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _die_with(server: int) -> Callable[[], None] | None:
    """What a handler process runs before its command, on Linux: be killed when the server dies.

    ``stop`` kills the handlers of a server that stops; a server killed outright (``kill -9``, a
    crash) cannot, and a handler it left behind would finish a step whose result nobody receives
    while the job's retry runs the step again. The kernel sends the signal when the pool thread
    that started the handler ends, which is at the latest when the server's process does.
    """
    if _prctl is None:
        return None
    prctl, kill = _prctl, int(signal.SIGKILL)

    def die_with_server() -> None:
        # Runs in the forked child before exec: only a system call and plain integers.
        prctl(_PR_SET_PDEATHSIG, kill)
        if os.getppid() != server:  # the server died before the request was made
            os._exit(1)

    return die_with_server


def _kill(process: subprocess.Popen[bytes]) -> None:
    # The handler runs in its own session, so its whole process group goes, children included.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _log_crash(done: Future[None], job_id: str) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.error("running the handler of job %s failed", job_id, exc_info=done.exception())


class Completions:
    """Hands results to the completion code one at a time, as one warm Lambda environment would."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Imported now, on the thread starting the server, not by the first handler to finish.
        self._function = load_handler(JOB_COMPLETION_FUNCTION)

    def lambda_invocation_result(self, event: dict[str, Any]) -> str:
        with self._lock:
            context = LocalLambdaContext(local_function_name(JOB_COMPLETION_FUNCTION))
            return self._function(event, context)["outcome"]

    def reported(self, result: ReportedResult) -> str:
        with self._lock:
            return runtime.aws_completions().complete(result)


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_Fallback = TypeVar("_Fallback", LocalLambda, LocalEcs)


class _Running(Generic[_Fallback]):
    """A client whose mapped handlers run in processes; the unmapped go to ``fallback``."""

    def __init__(
        self,
        mappings: HandlerMappings,
        fallback: _Fallback,
        processes: Processes,
        completions: Completions,
        environment: dict[str, str],
    ) -> None:
        self._mappings = mappings
        self._fallback = fallback
        self._processes = processes
        self._completions = completions
        self._environment = environment


# Lambda -------------------------------------------------------------------------------------------


def invocation_record(
    function_arn: str, envelope: dict[str, Any], request_id: str, response: Any, error: dict[str, Any] | None
) -> dict[str, Any]:
    """The record Lambda's asynchronous destinations put on EventBridge for one invocation."""
    parts = function_arn.split(":")
    succeeded = error is None
    response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": parts[7] if len(parts) > 7 else "$LATEST"}
    if not succeeded:
        response_context["functionError"] = "Unhandled"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": f"Lambda Function Invocation Result - {'Success' if succeeded else 'Failure'}",
        "source": "lambda",
        "account": parts[4],
        "time": _utc_now(),
        "region": parts[3],
        "resources": [f"arn:aws:events:{parts[3]}:{parts[4]}:event-bus/default", function_arn],
        "detail": {
            "version": "1.0",
            "timestamp": _utc_now(),
            "requestContext": {
                "requestId": request_id,
                "functionArn": function_arn,
                "condition": "Success" if succeeded else "RetriesExhausted",
                "approximateInvokeCount": 1,
            },
            "requestPayload": envelope,
            "responseContext": response_context,
            "responsePayload": response if succeeded else error,
        },
    }


def _lambda_error(error_type: str, message: str) -> dict[str, Any]:
    return {"errorType": error_type, "errorMessage": message}


def lambda_outcome(workdir: Path, ending: Exit, request_id: str, timeout: float) -> tuple[Any, dict[str, Any] | None]:
    """(response, None) or (None, error) from what the runner left in ``workdir``."""
    if ending.timed_out:
        message = f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
        return None, _lambda_error("Sandbox.Timedout", message)
    response = workdir / handler_runner.RESPONSE_FILE
    error = workdir / handler_runner.ERROR_FILE
    if response.exists():
        size = response.stat().st_size
        if size > MAX_OUTPUT_BYTES:
            message = (
                f"Response payload size ({size} bytes) exceeded maximum allowed payload size"
                f" ({MAX_OUTPUT_BYTES} bytes)."
            )
            return None, _lambda_error("Function.ResponseSizeTooLarge", message)
        return json.loads(response.read_text(encoding="utf-8")), None
    if error.exists():
        reported = json.loads(error.read_text(encoding="utf-8"))
        return None, {**reported, "errorMessage": str(reported.get("errorMessage", ""))[:_ERROR_LIMIT]}
    # The process ended without a result: the handler exited, or the interpreter died.
    if ending.returncode == 0:
        ended = "Runtime exited without providing a reason"
    else:
        ended = f"Runtime exited with error: {ending.describe()}"
    return None, _lambda_error("Runtime.ExitError", f"RequestId: {request_id} Error: {ended}")


class RunningLambda(_Running[LocalLambda]):
    """Lambda's asynchronous ``Invoke``: a mapped function's handler runs; others are recorded."""

    def invoke(self, **request: Any) -> dict[str, Any]:
        arn = request["FunctionName"]
        mapping = self._mappings.lambda_for(arn.split(":")[6])
        if mapping is None:
            return self._fallback.invoke(**request)
        envelope = invoked_envelope(request)
        qualified = f"{arn}:{request.get('Qualifier') or '$LATEST'}"
        self._processes.submit(lambda: self._run(mapping, qualified, envelope), str(envelope.get("job_id")))
        return {"StatusCode": 202}

    def _run(self, mapping: LambdaMapping, function_arn: str, envelope: dict[str, Any]) -> None:
        request_id = str(uuid.uuid4())
        timeout = self._mappings.timeout_seconds
        with tempfile.TemporaryDirectory(prefix="pie-lambda-") as directory:
            workdir = Path(directory)
            event = workdir / "event.json"
            event.write_text(json.dumps(envelope), encoding="utf-8")
            runner = [sys.executable, "-m", handler_runner.__name__]
            command = [*runner, str(mapping.file), mapping.function, str(event), directory]
            ending = self._processes.run(
                command,
                env=self._process_environment(mapping, function_arn, request_id, timeout),
                cwd=mapping.file.parent,
                stdout=_SERVER_LOG,
                timeout=timeout,
            )
            if ending is None:
                return
            response, error = lambda_outcome(workdir, ending, request_id, timeout)
        outcome = self._completions.lambda_invocation_result(
            invocation_record(function_arn, envelope, request_id, response, error)
        )
        log.info("job %s ran on %s: %s", envelope.get("job_id"), mapping.name, outcome)

    def _process_environment(
        self, mapping: LambdaMapping, function_arn: str, request_id: str, timeout: float
    ) -> dict[str, str]:
        """The variables Lambda's runtime sets, and what the runner needs to build the context."""
        region = function_arn.split(":")[3]
        python_path = self._environment.get("PYTHONPATH")
        return {
            **self._environment,
            "PYTHONPATH": os.pathsep.join([_PROJECT_ROOT, python_path] if python_path else [_PROJECT_ROOT]),
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": mapping.name,
            "AWS_LAMBDA_FUNCTION_VERSION": function_arn.split(":")[7],
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(LAMBDA_MEMORY_MB),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{mapping.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{request_id.replace('-', '')}",
            "LAMBDA_TASK_ROOT": str(mapping.file.parent),
            "_HANDLER": f"{mapping.file.stem}.{mapping.function}",
            handler_runner.FUNCTION_ARN_VARIABLE: function_arn,
            handler_runner.REQUEST_ID_VARIABLE: request_id,
            handler_runner.DEADLINE_VARIABLE: str(int((time.time() + timeout) * 1000)),
        }


# ECS ----------------------------------------------------------------------------------------------


def last_json_object(stdout: IO[bytes]) -> tuple[dict[str, Any] | None, str | None]:
    """The JSON object on the last line the command printed, or the problem with that line.
    (None, None) when it printed nothing."""
    size = stdout.seek(0, os.SEEK_END)
    stdout.seek(max(0, size - MAX_OUTPUT_BYTES - 1))
    tail = stdout.read().rstrip()
    if not tail:
        return None, None
    newline = tail.rfind(b"\n")
    if newline < 0 and size > MAX_OUTPUT_BYTES:
        return None, f"the last line it printed is longer than {MAX_OUTPUT_BYTES} bytes"
    line = tail[newline + 1 :].decode("utf-8", errors="replace")
    try:
        printed = json.loads(line, parse_constant=_refuse_constant)
    except ValueError:
        printed = None
    if not isinstance(printed, dict):
        return None, f"the last line it printed is not a JSON object: {line[:200]!r}"
    return printed, None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def task_stopped(request: dict[str, Any], task_arn: str, ending: Exit | None, stopped_reason: str) -> dict[str, Any]:
    """The ``detail`` of the "ECS Task State Change" event of the task, stopped."""
    region, account = task_arn.split(":")[3:5]
    cluster = request["cluster"]
    task_definition = request["taskDefinition"]
    if ":" not in task_definition:
        task_definition += ":1"
    overrides = request.get("overrides") or {}
    container = (overrides.get("containerOverrides") or [{}])[0].get("name", "main")
    now = _utc_now()
    return {
        "clusterArn": f"arn:aws:ecs:{region}:{account}:cluster/{cluster}",
        "taskArn": task_arn,
        "taskDefinitionArn": f"arn:aws:ecs:{region}:{account}:task-definition/{task_definition}",
        "containers": [
            {
                "name": container,
                "taskArn": task_arn,
                "lastStatus": "STOPPED",
                "exitCode": None if ending is None else ending.container_exit_code,
            }
        ],
        "overrides": overrides,
        "startedBy": request.get("startedBy"),
        "lastStatus": "STOPPED",
        "desiredStatus": "STOPPED",
        "stopCode": _stop_code(ending),
        "stoppedReason": stopped_reason,
        "stoppedAt": now,
        "updatedAt": now,
    }


def _stop_code(ending: Exit | None) -> str:
    if ending is None:
        return "TaskFailedToStart"
    return "UserInitiated" if ending.timed_out else "EssentialContainerExited"


def _with_printed(reported: ReportedResult, printed: dict[str, Any] | None, problem: str | None) -> ReportedResult:
    """The task's result with what the command printed: its output, or details of its error. The
    attempt stays the one the task ran for (from its envelope): a late result of an ended attempt is
    refused."""
    if reported.status == "succeeded":
        if problem is not None:
            return replace(reported, status="failed", output=None, error=f"the command exited 0, but {problem}")
        return replace(reported, output=printed or {})
    if printed is not None:
        return replace(reported, error=f"{(reported.error or 'failed')[:_ERROR_LIMIT]}: {json.dumps(printed)}")
    return reported


class RunningEcs(_Running[LocalEcs]):
    """ECS's ``RunTask``: a mapped task runs its command; others are recorded."""

    def describe_task_definition(self, taskDefinition: str) -> dict[str, Any]:  # boto3's name
        return self._fallback.describe_task_definition(taskDefinition)

    def run_task(self, **request: Any) -> dict[str, Any]:
        mapping = self._mappings.ecs_for(request["cluster"], request["taskDefinition"])
        if mapping is None:
            return self._fallback.run_task(**request)
        task_arn = f"arn:aws:ecs:local:000000000000:task/{request['cluster']}/{uuid.uuid4().hex}"
        self._processes.submit(lambda: self._run(mapping, request, task_arn), str(request.get("startedBy")))
        return {"tasks": [{"taskArn": task_arn, "startedBy": request.get("startedBy")}], "failures": []}

    def stop_task(self, **request: Any) -> dict[str, Any]:
        """A cancelled job's task. A mapped command runs on to its end; its result is then refused
        (the job is finished), as a real task's late stop event would be."""
        return self._fallback.stop_task(**request)

    def _run(self, mapping: EcsMapping, request: dict[str, Any], task_arn: str) -> None:
        variables = container_variables(request.get("overrides"))
        timeout = self._mappings.timeout_seconds
        printed, problem = None, None
        with tempfile.TemporaryFile(prefix="pie-ecs-") as stdout:
            try:
                environment = {**self._environment, **variables}
                ending = self._processes.run(
                    list(mapping.command), env=environment, cwd=None, stdout=stdout, timeout=timeout
                )
            except OSError as error:
                detail = task_stopped(request, task_arn, None, f"CannotStartContainerError: {error}")
            else:
                if ending is None:
                    return
                if ending.timed_out:
                    reason = f"Task stopped by pie-local: it ran longer than {timeout:g} seconds"
                else:
                    reason = "Essential container in task exited"
                detail = task_stopped(request, task_arn, ending, reason)
                printed, problem = last_json_object(stdout)
        reported = ecs_task_result(detail)
        if reported is None:
            log.error("task %s of %s carries no job envelope in %s", task_arn, mapping.task, ECS_ENVIRONMENT_VARIABLE)
            return
        outcome = self._completions.reported(_with_printed(reported, printed, problem))
        log.info("job %s ran on %s: %s", reported.job_id, mapping.task, outcome)


# The clients the dispatcher gets ------------------------------------------------------------------


class LocalHandlers:
    """The clients of the local stack, by AWS service; ``close`` kills handlers still running."""

    def __init__(self, mappings: HandlerMappings, targets: LocalTargets, environment: Mapping[str, str]) -> None:
        """``environment`` is what handler processes start with: the one ``pie-local`` was started
        in, not the fake credentials and settings the embedded backend gives PIE's functions."""
        self._processes = Processes()
        completions = Completions()
        environment = dict(environment)
        # Every kind's record-and-wait stand-in; mapped Lambda and ECS handlers run over theirs.
        self.clients: dict[str, Any] = {
            kind.client_service: load(kind.stand_in)(targets)
            for kind in KINDS.values()
            if kind.client_service is not None and kind.stand_in is not None
        }
        self.lambda_client = RunningLambda(mappings, self.clients["lambda"], self._processes, completions, environment)
        self.ecs_client = RunningEcs(mappings, self.clients["ecs"], self._processes, completions, environment)
        self.clients.update({"lambda": self.lambda_client, "ecs": self.ecs_client})

    def close(self) -> None:
        self._processes.stop()

    def __enter__(self) -> LocalHandlers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

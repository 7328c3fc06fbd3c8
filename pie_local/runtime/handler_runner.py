"""Runs one team's Lambda handler once, in its own process, as Lambda's Python runtime would.

``pie-local serve --lambda NAME=file.py:function`` starts this module with a fresh interpreter for
every job, so a handler that crashes, exits or hangs takes only this process down::

    python -m pie_local.runtime.handler_runner FILE FUNCTION EVENT.json WORKDIR

It reads the event, imports FILE as Lambda imports a handler module (its directory first on
``sys.path``), calls FUNCTION(event, context) and writes, into WORKDIR, either ``response.json``
(the return value, serialized as Lambda serializes it) or ``error.json`` (``errorType``,
``errorMessage``, ``stackTrace``, as Lambda reports an unhandled error). Neither file means the
process died. The context's values come from the Lambda variables in the environment and
``PIE_LOCAL_DEADLINE_MS``. Only the standard library is imported here, so the handler's own
imports are the only ones it pays for.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

RESPONSE_FILE = "response.json"
ERROR_FILE = "error.json"
DEADLINE_VARIABLE = "PIE_LOCAL_DEADLINE_MS"
REQUEST_ID_VARIABLE = "PIE_LOCAL_REQUEST_ID"
FUNCTION_ARN_VARIABLE = "PIE_LOCAL_FUNCTION_ARN"


class LambdaContext:
    """The attributes and method of Lambda's Python context object."""

    def __init__(self, environ: dict[str, str]) -> None:
        self.function_name = environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.log_group_name = environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.invoked_function_arn = environ[FUNCTION_ARN_VARIABLE]
        self.aws_request_id = environ[REQUEST_ID_VARIABLE]
        self.identity = None
        self.client_context = None
        self._deadline_ms = int(environ[DEADLINE_VARIABLE])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _write(path: Path, text: str) -> None:
    # Written whole, then renamed: a process killed mid-write leaves no half a result behind.
    partial = path.with_suffix(".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _error(error_type: str, message: str, stack: list[str] | None = None) -> str:
    return json.dumps({"errorType": error_type, "errorMessage": message, "stackTrace": stack or []})


def _load(file: Path, function: str) -> Any:
    sys.path.insert(0, str(file.parent))
    spec = importlib.util.spec_from_file_location(file.stem, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[file.stem] = module
    spec.loader.exec_module(module)
    handler = getattr(module, function, None)
    if not callable(handler):
        raise LookupError(f"Handler '{function}' missing on module '{file.stem}'")
    return handler


def run(file: Path, function: str, event_path: Path, workdir: Path) -> None:
    event = json.loads(event_path.read_text(encoding="utf-8"))
    context = LambdaContext(dict(os.environ))
    for variable in (DEADLINE_VARIABLE, REQUEST_ID_VARIABLE, FUNCTION_ARN_VARIABLE):
        os.environ.pop(variable)
    # The same error types Lambda's Python runtime reports for a module it cannot load.
    try:
        handler = _load(file, function)
    except SyntaxError as error:
        message = f"Syntax error in module '{file.stem}': {error}"
        _write(workdir / ERROR_FILE, _error("Runtime.UserCodeSyntaxError", message))
        return
    except LookupError as error:
        _write(workdir / ERROR_FILE, _error("Runtime.HandlerNotFound", str(error)))
        return
    except Exception as error:  # whatever the module raises at import is reported, as Lambda does
        message = f"Unable to import module '{file.stem}': {error}"
        _write(workdir / ERROR_FILE, _error("Runtime.ImportModuleError", message))
        return
    try:
        response = handler(event, context)
    except Exception as error:  # the handler's own failure is the job's result
        stack = traceback.format_list(traceback.extract_tb(error.__traceback__)[1:])
        _write(workdir / ERROR_FILE, _error(type(error).__name__, str(error), stack))
        return
    try:
        # Lambda serializes with json.dumps; NaN and Infinity are refused too, as PIE stores JSON.
        text = json.dumps(response, allow_nan=False)
    except (TypeError, ValueError) as error:
        _write(workdir / ERROR_FILE, _error("Runtime.MarshalError", f"Unable to marshal response: {error}"))
        return
    _write(workdir / RESPONSE_FILE, text)


if __name__ == "__main__":
    file, function, event_path, workdir = sys.argv[1:5]
    run(Path(file), function, Path(event_path), Path(workdir))

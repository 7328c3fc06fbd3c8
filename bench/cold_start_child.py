"""One cold start, in the fresh interpreter ``bench.cold_start`` starts for it.

    python -m bench.cold_start_child floor           # import boto3 + create a DynamoDB client
    python -m bench.cold_start_child framework       # import bench.framework_function (no PIE code)
    python -m bench.cold_start_child get_model       # import the handler, then serve its sample
    python -m bench.cold_start_child get_model import-only   # (with -X importtime: where it goes)

Only ``sys`` and ``time`` are imported before the clocks start, so the import measured is the
function's own. Both wall and CPU time are taken: importing is CPU work, and CPU time does not count
the time the process waits for a CPU on a busy machine. The embedded DynamoDB (moto) is started *after* the import has been timed: the
deployed code never imports moto, so its import must not be counted for (or pre-warm) the function.
The first invocation is timed on its own; it creates the function's clients and services.
The result is printed as one JSON line after ``RESULT_MARKER``.
"""

import sys
import time

RESULT_MARKER = "BENCH-RESULT "
# Libraries the X-Ray SDK patches when they are importable (a traced function's Tracer patches
# every one it finds at import). The deployed dependency layer holds none of them, but the
# development environment has some (moto brings requests): they are hidden, as in Lambda.
NOT_DEPLOYED = frozenset(
    {"requests", "httpx", "aiobotocore", "pynamodb", "pymongo", "pymysql", "mysql", "psycopg2", "pg8000", "sqlalchemy"}
)
# Modules a route function must not carry at init: the local stack's (moto), Swagger UI's, and
# jsonschema (imported lazily by the routes that check contracts).
WATCHED_MODULES = {
    "moto": "moto",
    "swagger": "aws_lambda_powertools.event_handler.openapi.swagger_ui",
    "jsonschema": "jsonschema",
}


class _HideUndeployed:
    """A meta path finder that makes the ``NOT_DEPLOYED`` libraries unimportable."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] in NOT_DEPLOYED:
            raise ModuleNotFoundError(f"No module named {name!r} (not in the deployed dependency layer)", name=name)
        return None


def main(target: str, import_only: bool = False) -> None:
    sys.meta_path.insert(0, _HideUndeployed)
    if target == "floor":
        started, cpu_started = time.perf_counter(), time.process_time()
        import boto3

        boto3.client("dynamodb")
        result = {
            "import_ms": (time.perf_counter() - started) * 1000,
            "import_cpu_ms": (time.process_time() - cpu_started) * 1000,
            "peak_rss_kb": _peak_rss_kb(),
        }
    elif target == "framework":
        started, cpu_started = time.perf_counter(), time.process_time()
        __import__("bench.framework_function")
        result = {
            "import_ms": (time.perf_counter() - started) * 1000,
            "import_cpu_ms": (time.process_time() - cpu_started) * 1000,
            "peak_rss_kb": _peak_rss_kb(),
        }
    elif import_only:
        started = time.perf_counter()
        __import__(f"functions.{target}.handler")
        result = {"import_ms": (time.perf_counter() - started) * 1000}
    else:
        result = _function_cold_start(target)
    print(RESULT_MARKER + _json().dumps(result), flush=True)


def _function_cold_start(function: str) -> dict:
    started, cpu_started = time.perf_counter(), time.process_time()
    import importlib

    handler = importlib.import_module(f"functions.{function}.handler")
    import_ms = (time.perf_counter() - started) * 1000
    import_cpu_ms = (time.process_time() - cpu_started) * 1000
    peak_rss_kb = _peak_rss_kb()
    at_init = _watched_loaded()
    module_count = len(sys.modules)

    sys.meta_path.remove(_HideUndeployed)  # moto needs requests
    context, event = _prepare_embedded_table(function)
    started = time.perf_counter()
    response = handler.lambda_handler(event, context)
    first_invoke_ms = (time.perf_counter() - started) * 1000
    return {
        "import_ms": import_ms,
        "import_cpu_ms": import_cpu_ms,
        "first_invoke_ms": first_invoke_ms,
        "peak_rss_kb": peak_rss_kb,
        "modules_at_init": module_count,
        "watched_at_init": at_init,
        "watched_after_first_invoke": [name for name in _watched_loaded() if name != "moto"],
        "outcome": _outcome(response),
    }


def _prepare_embedded_table(function: str):
    """Start moto, create PIE's table, write the sample's world (none of it timed)."""
    import os

    import boto3
    from moto import mock_aws

    from bench.environment import LambdaContext
    from bench.world import sample_event, seed
    from pie_local.settings import LOCAL_TABLE_NAME
    from shared.data.table import create_table

    mock_aws().start()
    # A session of its own: the function's first boto3.client() still builds the default session,
    # its loader and the DynamoDB service model from scratch, as a cold Lambda does.
    setup = boto3.session.Session().client("dynamodb", region_name=os.environ["AWS_REGION"])
    create_table(setup, LOCAL_TABLE_NAME)
    seed(setup, LOCAL_TABLE_NAME, function)
    return LambdaContext(), sample_event(function)


def _outcome(response) -> str:
    if isinstance(response, dict) and "statusCode" in response:
        return str(response["statusCode"])
    if isinstance(response, dict) and "batchItemFailures" in response:
        return f"{len(response['batchItemFailures'])} failed records"
    if isinstance(response, dict) and "outcome" in response:
        return str(response["outcome"])
    return repr(response)[:80]


def _watched_loaded() -> list[str]:
    loaded = []
    for label, module in WATCHED_MODULES.items():
        if any(name == module or name.startswith(module + ".") for name in sys.modules):
            loaded.append(label)
    return loaded


def _peak_rss_kb() -> int:
    """This process's peak resident set. Linux's ru_maxrss would carry the parent's peak over
    exec, so the process image's own high-water mark (VmHWM) is read where there is one."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _json():
    import json

    return json


if __name__ == "__main__":
    main(sys.argv[1], import_only=sys.argv[2:] == ["import-only"])

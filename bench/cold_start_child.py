"""One cold start, in the fresh interpreter ``bench.cold_start`` starts for it.

    python -m bench.cold_start_child floor           # import boto3 + create a DynamoDB client
    python -m bench.cold_start_child get_model       # import the handler, then serve its sample

Only ``sys`` and ``time`` are imported before the clock starts, so the import measured is the
function's own. The embedded DynamoDB (moto) is started *after* the import has been timed: the
deployed code never imports moto, so its import must not be counted for (or pre-warm) the function.
The first invocation is timed on its own; it creates the function's clients and services.
The result is printed as one JSON line after ``RESULT_MARKER``.
"""

import sys
import time

RESULT_MARKER = "BENCH-RESULT "
# Modules a route function must not carry at init: the local stack's (moto), Swagger UI's, and
# jsonschema (imported lazily by the routes that check contracts).
WATCHED_MODULES = {"moto": "moto", "swagger": "aws_lambda_powertools.event_handler.openapi.swagger_ui", "jsonschema": "jsonschema"}


def main(target: str) -> None:
    if target == "floor":
        started = time.perf_counter()
        import boto3

        boto3.client("dynamodb")
        result = {"import_ms": (time.perf_counter() - started) * 1000, "peak_rss_kb": _peak_rss_kb()}
    else:
        result = _function_cold_start(target)
    print(RESULT_MARKER + _json().dumps(result), flush=True)


def _function_cold_start(function: str) -> dict:
    started = time.perf_counter()
    import importlib

    handler = importlib.import_module(f"functions.{function}.handler")
    import_ms = (time.perf_counter() - started) * 1000
    peak_rss_kb = _peak_rss_kb()
    at_init = _watched_loaded()
    module_count = len(sys.modules)

    context, event = _prepare_embedded_table(function)
    started = time.perf_counter()
    response = handler.lambda_handler(event, context)
    first_invoke_ms = (time.perf_counter() - started) * 1000
    return {
        "import_ms": import_ms,
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
    from shared.data.table import create_table
    from shared.local.settings import LOCAL_TABLE_NAME

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
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux


def _json():
    import json

    return json


if __name__ == "__main__":
    main(sys.argv[1])

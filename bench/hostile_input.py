"""Hostile input: how long a route function takes to answer requests built to make it work hard.

Requests, each through a route function's ``lambda_handler`` on an embedded table:

- a 1 MB body of ``"`` followed by ``\\"`` repeated (once quadratic in the pre-parse depth check);
- a ReDoS contract input: a model whose inference ``input_schema`` gives the (object) input a
  property ``{"type": "string", "pattern": "^(a+)+$"}``, and an inference on 29 ``a`` and a ``!``;
- a create body whose metadata nests 10,000 levels deep;
- a contract input that overflows ``multipleOf``: ``{"multipleOf": 0.5}`` on 309 nines (once a 500);
- a create body of 80,000 unknown fields in 1.1 MB (once a 4.5 MB error naming every one);
- forged page tokens signed with the deployment's key: a workspace-filtered list's key without its
  index sort key, and a payload of 1,500 ``[`` (both once a 500);
- search filters at the length limit: one string of 495 escaped quotes, a backtick never closed,
  and 66 comparisons (past the limit of 10).

Each case runs in a child process (``python -m bench.hostile_input <case>``) under a timeout, so a
case that backtracks for minutes is reported as over its timeout instead of hanging the bench. The
child times the request itself, after one ordinary request has warmed the function, and how long
``json.loads`` takes on the same body: the budget is on what PIE adds to that floor, which any JSON
API pays (80,000 small fields take ~65 ms to parse on a laptop, before PIE looks at one of them).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from bench.report import Figure

SECTION = "hostile input"
BUDGET_MS = 100.0
TIMEOUT_SECONDS = 20.0
RUNS = 5
MEGABYTE = 1 << 20
REDOS_PATTERN = "^(a+)+$"
REDOS_INPUT = "a" * 29 + "!"
REDOS_SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string", "pattern": REDOS_PATTERN}},
    "required": ["text"],
}
OVERFLOW_SCHEMA = {"type": "object", "properties": {"n": {"multipleOf": 0.5}}}
OVERFLOW_INPUT = "9" * 309  # a JSON integer past the largest float
UNKNOWN_FIELDS = 80_000
TOKEN_NESTING = 1_500
CASES = {
    "escaped_quotes": "1 MB escaped-quote body (create_model)",
    "redos_contract": f"ReDoS contract input {REDOS_PATTERN!r} on 29 a + '!' (start_inference)",
    "deep_nesting": "10,000-level nesting (create_model)",
    "multiple_of_overflow": "multipleOf 0.5 contract input of 309 nines (start_inference)",
    "unknown_fields": f"{UNKNOWN_FIELDS:,} unknown fields in 1.1 MB (create_model)",
    "token_key_without_sort_key": "signed page token, key without GSI1SK (list_models ?workspace=)",
    "token_nesting": f"signed page token of {TOKEN_NESTING:,} '[' (list_models)",
    "filter_escaped_quotes": "filter: a 1,000-character string of '' escapes (list_models)",
    "filter_unclosed_key": "filter: a tag key backtick never closed, 1,000 characters (list_models)",
    "filter_many_terms": "filter: 66 comparisons joined by AND (list_models)",
}
FILTERS = {
    "filter_escaped_quotes": "name = '" + "''" * 495 + "'",
    "filter_unclosed_key": "tags.`" + "a" * 994,
    "filter_many_terms": " AND ".join(["name = 'a'"] * 66),
}
MODEL_ID = "hostile_bench_model"


def measure(runs: int = RUNS) -> tuple[list[Figure], dict[str, Any]]:
    figures: list[Figure] = []
    details: dict[str, Any] = {}
    for case, label in CASES.items():
        result = _run_child(case, runs)
        details[case] = result
        figures.append(Figure(SECTION, label, _shown(result), data=result))
    slowest_case = max(details, key=lambda case: _slowest_ms(details[case]))
    slowest = details[slowest_case]
    figures.append(
        Figure(
            SECTION,
            f"slowest of the {len(CASES)} ({slowest_case})",
            _shown(slowest),
            budget=f"< {BUDGET_MS:.0f} ms each beyond parsing its body",
            holds=not slowest.get("timed_out") and _slowest_ms(slowest) < BUDGET_MS,
            data={"case": slowest_case, **slowest},
        )
    )
    return figures, details


def _slowest_ms(result: dict[str, Any]) -> float:
    """The slowest answer, less the time ``json.loads`` takes on the body."""
    return float("inf") if result.get("timed_out") else float(result["max_ms"]) - float(result["parse_ms"])


def _shown(result: dict[str, Any]) -> str:
    if result.get("timed_out"):
        return f"> {result['timeout_seconds']:.0f} s (timed out)"
    parse = f", parsing {result['parse_ms']:.0f} ms" if result["parse_ms"] >= 1 else ""
    return f"{result['median_ms']:.1f} ms{parse} → {result['status']} ({result['body_bytes']:,} B)"


def _run_child(case: str, runs: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.hostile_input", case, str(runs)]
    started = time.perf_counter()
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, env=os.environ.copy()
        )
    except subprocess.TimeoutExpired:
        return {"timed_out": True, "timeout_seconds": TIMEOUT_SECONDS}
    if completed.returncode != 0:
        raise RuntimeError(f"bench.hostile_input {case} failed:\n{completed.stderr[-2000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    result["child_seconds"] = round(time.perf_counter() - started, 1)
    return result


# The child ------------------------------------------------------------------------------------------


def _child(case: str, runs: int) -> dict[str, Any]:
    from bench.environment import LambdaContext, discard_function_logs, use_function_environment

    use_function_environment()
    discard_function_logs()
    from pie_local.settings import LOCAL_TABLE_NAME
    from pie_local.table.dynamodb import embedded_dynamodb
    from shared import runtime

    with embedded_dynamodb(LOCAL_TABLE_NAME):
        runtime.reset()
        function, body, path, query = _request(case)
        handler = _handler(function)
        with open(os.devnull, "w") as discarded:
            stdout, sys.stdout = sys.stdout, discarded
            try:
                timings, status, message, body_bytes = [], 0, "", 0
                for _ in range(1 if case == "redos_contract" else runs):
                    event = _event(function, body, path, query)
                    started = time.perf_counter()
                    response = handler(event, LambdaContext())
                    timings.append((time.perf_counter() - started) * 1000)
                    status = response["statusCode"]
                    body_bytes = len((response.get("body") or "").encode())
                    message = json.loads(response.get("body") or "{}").get("message", "")
            finally:
                sys.stdout = stdout
    return {
        "status": status,
        "parse_ms": round(_parse_ms(body, len(timings)), 2),
        "body_bytes": body_bytes,
        "message": message[:200],
        "runs": len(timings),
        "median_ms": round(statistics.median(timings), 2),
        "max_ms": round(max(timings), 2),
    }


def _parse_ms(body: str, runs: int) -> float:
    """The fastest of ``runs`` parses of ``body`` with ``json.loads`` (a refusal counts its time)."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        try:
            json.loads(body)
        except (ValueError, RecursionError):
            pass
        timings.append((time.perf_counter() - started) * 1000)
    return min(timings) if timings else 0.0


def _request(case: str) -> tuple[str, str, dict[str, str], dict[str, str]]:
    """(function, raw body, path parameters, query parameters); a model a contract case needs is
    created first."""
    from bench.world import load_event

    if case == "escaped_quotes":
        _warm("create_model")
        return "create_model", '"' + '\\"' * (MEGABYTE // 2), {}, {}
    if case == "deep_nesting":
        _warm("create_model")
        body = json.loads(load_event("create_model")["body"])
        text = json.dumps({**body, "id": "deep", "metadata": "NESTED"})
        return "create_model", text.replace('"NESTED"', '{"a": ' + "[" * 10_000 + "]" * 10_000 + "}"), {}, {}
    if case == "redos_contract":
        return _contract_case(REDOS_SCHEMA, {"text": "aaa"}, json.dumps({"text": REDOS_INPUT}))
    if case == "multiple_of_overflow":
        return _contract_case(OVERFLOW_SCHEMA, {"n": 1.5}, '{"n": ' + OVERFLOW_INPUT + "}")
    if case == "unknown_fields":
        _warm("create_model")
        body = json.loads(load_event("create_model")["body"])
        unknown = ", ".join(f'"u{number:06d}": 0' for number in range(UNKNOWN_FIELDS))
        return "create_model", json.dumps({**body, "id": "unknown"})[:-1] + ", " + unknown + "}", {}, {}
    if case == "token_key_without_sort_key":
        import hashlib

        from shared import runtime

        _warm("list_models", "", {}, {"workspace": "default"})
        scope = "models:*:" + hashlib.sha256(b"default").hexdigest()[:32]
        key = {"PK": {"S": "MODEL#x"}, "SK": {"S": "MODEL"}, "GSI1PK": {"S": "MODELS"}}
        return "list_models", "", {}, {"workspace": "default", "next_token": runtime.page_tokens().encode(scope, key)}
    if case in FILTERS:
        _warm("list_models", "", {}, {"filter": "name LIKE 'a%'"})
        return "list_models", "", {}, {"filter": FILTERS[case][:1000]}
    if case == "token_nesting":
        _warm("list_models", "", {}, {})
        return "list_models", "", {}, {"next_token": _signed(b"[" * TOKEN_NESTING)}
    raise ValueError(case)


def _contract_case(schema: dict[str, Any], ordinary: dict[str, Any], hostile: str) -> tuple[Any, ...]:
    """A model whose inference input must satisfy ``schema``, warmed with an ``ordinary`` input;
    the request is an inference on the ``hostile`` input (JSON text)."""
    from bench.world import load_event

    body = json.loads(load_event("create_model")["body"])
    body.update(id=MODEL_ID, handler_contracts={"inference": {"input_schema": schema}})
    response = _handler("create_model")(_event("create_model", json.dumps(body), {}), _context())
    if response["statusCode"] != 201:
        # The contract was refused when registered: the refusal is what an attacker gets.
        return "create_model", json.dumps(body), {}, {}
    path = {"model_id": MODEL_ID}
    _warm("start_inference", json.dumps({"input": ordinary, "version": "1"}), path)
    return "start_inference", '{"input": ' + hostile + ', "version": "1"}', path, {}


def _signed(payload: bytes) -> str:
    """A page token carrying ``payload``, signed as the deployment signs its own."""
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signature = hmac.new(os.environ["PIE_PAGE_TOKEN_KEY"].encode(), payload, hashlib.sha256).digest()[:16]
    return f"{b64(payload)}.{b64(signature)}"


def _warm(
    function: str, body: str | None = None, path: dict[str, str] | None = None, query: dict[str, str] | None = None
) -> None:
    from bench.world import load_event

    event = _event(function, body if body is not None else load_event(function)["body"], path or {}, query)
    with open(os.devnull, "w") as discarded:
        stdout, sys.stdout = sys.stdout, discarded
        try:
            _handler(function)(event, _context())
        finally:
            sys.stdout = stdout


def _handler(function: str) -> Any:
    import importlib

    return importlib.import_module(f"functions.{function}.handler").lambda_handler


def _context() -> Any:
    from bench.environment import LambdaContext

    return LambdaContext()


def _event(function: str, body: str, path: dict[str, str], query: dict[str, str] | None = None) -> dict[str, Any]:
    from urllib.parse import urlencode

    from bench.world import route_event

    event = route_event(function, **path)
    event["body"] = body
    event["headers"]["content-length"] = str(len(body.encode()))
    if query is not None:
        event["queryStringParameters"] = query or None
        event["rawQueryString"] = urlencode(query)
    return event


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else RUNS)))

"""The local Lambda runner reports a handler module it cannot load as Lambda's Python runtime does."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pie_local.runtime import handler_runner


@pytest.fixture(autouse=True)
def lambda_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    variables = {
        "AWS_LAMBDA_FUNCTION_NAME": "train",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/train",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]abc",
        handler_runner.FUNCTION_ARN_VARIABLE: "arn:aws:lambda:us-west-2:123456789012:function:train:$LATEST",
        handler_runner.REQUEST_ID_VARIABLE: "c6af9ac6-7b61-11e6-9a41-93e812345678",
        handler_runner.DEADLINE_VARIABLE: "99999999999999",
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    # The runner puts the handler's directory first on sys.path, as Lambda does; not in this process.
    monkeypatch.setattr(sys, "path", list(sys.path))


def run(tmp_path: Path, source: str, function: str = "handler") -> dict:
    module = tmp_path / f"team_handler_{abs(hash(source))}.py"
    module.write_text(source)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"job_id": "j", "input": {"x": 1}}))
    handler_runner.run(module, function, event, tmp_path)
    result = tmp_path / handler_runner.RESPONSE_FILE
    if result.exists():
        return {"response": json.loads(result.read_text())}
    return json.loads((tmp_path / handler_runner.ERROR_FILE).read_text())


def test_the_handler_gets_the_event_and_a_lambda_context(tmp_path: Path):
    source = (
        "def handler(event, context):\n"
        "    return {'x': event['input']['x'], 'name': context.function_name, 'id': context.aws_request_id,\n"
        "            'left': context.get_remaining_time_in_millis() > 0}\n"
    )

    assert run(tmp_path, source) == {
        "response": {"x": 1, "name": "train", "id": "c6af9ac6-7b61-11e6-9a41-93e812345678", "left": True}
    }


@pytest.mark.parametrize(
    ("source", "function", "error_type", "message"),
    [
        (
            "def handler(event, context):\n    return {\n",
            "handler",
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module",
        ),
        ("import no_such_module_anywhere\n", "handler", "Runtime.ImportModuleError", "No module named"),
        (
            "def other(event, context):\n    return {}\n",
            "handler",
            "Runtime.HandlerNotFound",
            "Handler 'handler' missing",
        ),
        (
            "def handler(event, context):\n    return float('nan')\n",
            "handler",
            "Runtime.MarshalError",
            "Unable to marshal",
        ),
    ],
)
def test_a_module_that_cannot_serve_is_reported_with_lambda_s_error_type(
    tmp_path: Path, source: str, function: str, error_type: str, message: str
):
    error = run(tmp_path, source, function)

    assert error["errorType"] == error_type
    assert message in error["errorMessage"]

"""Replays DynamoDB calls and records the answers, to hold the embedded table's answers against
moto's own. In a test it replays on the embedded table; run as a script (calls as JSON on stdin,
answers as JSON on stdout) it replays on a pristine moto in its own process, where none of
``pie_local.table.dynamodb``'s patches are loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from typing import Any

from botocore.exceptions import ClientError

# A query followed from page to page through its LastEvaluatedKey, each answer recorded.
ALL_PAGES = "query_all_pages"
# An operation named with this prefix is recorded with its error's whole response.
WHOLE = "whole:"
_MOST_PAGES = 200


def replay(client: Any, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    answers: list[Any] = []
    for operation, request in calls:
        if operation.startswith(WHOLE):
            answers.append(_answer_whole(client, operation.removeprefix(WHOLE), request))
            continue
        if operation != ALL_PAGES:
            answers.append(_answer(client, operation, request))
            continue
        pages = [_answer(client, "query", request)]
        while "LastEvaluatedKey" in pages[-1] and len(pages) < _MOST_PAGES:
            pages.append(_answer(client, "query", {**request, "ExclusiveStartKey": pages[-1]["LastEvaluatedKey"]}))
        answers.append(pages)
    return answers


def _answer(client: Any, operation: str, request: dict[str, Any]) -> Any:
    try:
        answer = getattr(client, operation)(**request)
    except ClientError as error:
        return {"error": error.response["Error"]["Code"]}
    answer.pop("ResponseMetadata", None)
    return json.loads(json.dumps(answer, default=str), object_hook=_shortened)


def _answer_whole(client: Any, operation: str, request: dict[str, Any]) -> Any:
    """The answer with an error's whole response: code, message and modeled fields (a cancelled
    transaction's reasons, a refused write's item)."""
    try:
        answer = getattr(client, operation)(**request)
    except ClientError as error:
        answer = {"error": {key: value for key, value in error.response.items() if key != "ResponseMetadata"}}
    answer.pop("ResponseMetadata", None)
    return json.loads(json.dumps(answer, default=str), object_hook=_shortened)


def _shortened(value: dict[str, Any]) -> dict[str, Any]:
    """Long strings (big items) as their length and digest, so that answers stay small to compare."""
    text = value.get("S")
    if isinstance(text, str) and len(text) > 200:
        return {"S": f"{len(text)}:{hashlib.sha256(text.encode()).hexdigest()}"}
    return value


def _replay_on_pristine_moto() -> None:
    import boto3
    from moto import mock_aws

    from shared.data.table import create_table

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        os.environ[name] = "testing"
    request = json.load(sys.stdin)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, request["table"])
        json.dump(replay(client, request["calls"]), sys.stdout)


if __name__ == "__main__":
    _replay_on_pristine_moto()

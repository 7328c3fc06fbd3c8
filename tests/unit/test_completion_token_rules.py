"""Completion tokens: drawn from the OS's CSPRNG, one per claim, and only the attempt's proves a result."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.data.entities import COMPLETION_TOKEN_ATTRIBUTE, JOBS
from shared.domain import completion_tokens
from shared.domain.entities import Job
from shared.domain.errors import CompletionTokenMismatchError
from shared.domain.responses.jobs import JobResponse

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def job(token: str | None = None) -> Job:
    return Job(
        id="1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        model_id="m",
        version="1",
        action="inference",
        status="dispatched",
        input={},
        handler={"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:infer"},
        trigger=None,
        created_at=NOW,
        updated_at=NOW,
    ).with_completion_token(token)


def test_a_token_is_drawn_from_the_secrets_module(monkeypatch: pytest.MonkeyPatch):
    drawn: list[int] = []

    def token_urlsafe(nbytes: int) -> str:
        drawn.append(nbytes)
        return "drawn-by-secrets"

    monkeypatch.setattr(completion_tokens.secrets, "token_urlsafe", token_urlsafe)

    assert completion_tokens.issued(job()).completion_token == "drawn-by-secrets"
    assert drawn == [32]


def test_every_issue_is_a_new_token_of_256_bits():
    tokens = {completion_tokens.issued(job()).completion_token for _ in range(100)}

    assert len(tokens) == 100
    assert all(token is not None and len(token) == 43 for token in tokens)


@pytest.mark.parametrize(
    ("stored", "presented", "proven"),
    [
        ("the-token", "the-token", True),
        ("the-token", "another", False),
        ("the-token", "the-token ", False),
        ("the-token", None, False),
        (None, "the-token", False),
        (None, None, False),
    ],
)
def test_only_the_attempts_own_token_proves_a_result(stored: str | None, presented: str | None, proven: bool):
    assert completion_tokens.proves(job(stored), presented) is proven


def test_a_result_presenting_another_token_is_refused_and_one_presenting_none_is_the_callers_to_judge():
    with pytest.raises(CompletionTokenMismatchError) as refused:
        completion_tokens.check(job("the-token"), "guessed")
    assert "guessed" not in refused.value.message and "the-token" not in refused.value.message

    completion_tokens.check(job("the-token"), "the-token")
    completion_tokens.check(job("the-token"), None)


@pytest.mark.parametrize(("value", "token"), [("t", "t"), ("x" * 256, "x" * 256), ("", None), ("x" * 257, None)])
def test_only_a_non_empty_bounded_string_can_be_a_presented_token(value: Any, token: str | None):
    assert completion_tokens.well_formed(value) == token


@pytest.mark.parametrize("value", [None, 42, ["t"], {"t": 1}])
def test_anything_but_a_string_is_no_token(value: Any):
    assert completion_tokens.well_formed(value) is None


def test_the_token_is_an_attribute_of_the_job_item_never_of_its_document():
    claimed = job("the-token")

    item = JOBS.encode(claimed)

    assert item[COMPLETION_TOKEN_ATTRIBUTE] == {"S": "the-token"}
    assert "the-token" not in item["doc"]["S"]
    assert "the-token" not in JobResponse(job=claimed).model_dump_json()
    assert "the-token" not in repr(claimed)
    assert JOBS.decode(item).completion_token == "the-token"
    assert JOBS.decode(item).model_copy(update={"status": "queued"}).completion_token == "the-token"
    assert COMPLETION_TOKEN_ATTRIBUTE not in JOBS.encode(job())

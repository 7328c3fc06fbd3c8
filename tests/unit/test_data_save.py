"""The conditional-save helper (what it asks DynamoDB, and what DynamoDB's refusals become) and the
retry-on-stale helper (what is retried, what stops it), against a tiny fake client."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from shared.data import keys
from shared.data.entities import JOBS, MODELS, SUBSCRIPTIONS, VERSIONS, VersionRecord
from shared.data.errors import ItemExistsError, StaleEntityError
from shared.data.save import (
    CONFLICT_ATTEMPTS,
    RETRY,
    WRITE_ATTEMPTS,
    create,
    delete,
    overwrite,
    replace,
    retry_on_stale,
    save,
    save_together,
    update,
)
from shared.domain.errors import ConcurrentUpdateError, EntityVersionMismatchError, ItemNotStorableError
from shared.domain.records import ModelRecord
from tests.unit.entity_samples import a_job, a_model, a_subscription, a_version

TABLE = "pie"


class FakeClient:
    """Records each call; answers with ``error`` when one is set."""

    def __init__(self, error: ClientError | None = None) -> None:
        self.error = error
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, operation: str) -> Any:
        def call(**request: Any) -> dict[str, Any]:
            self.calls.append((operation, request))
            if self.error is not None:
                raise self.error
            return {}

        return call


def condition_failed(item: dict[str, Any] | None = None) -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": "ConditionalCheckFailedException", "Message": "failed"}}
    if item is not None:
        response["Item"] = item
    return ClientError(response, "PutItem")  # type: ignore[arg-type]


def cancelled(*reasons: dict[str, Any]) -> ClientError:
    response = {
        "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
        "CancellationReasons": list(reasons),
    }
    return ClientError(response, "TransactWriteItems")  # type: ignore[arg-type]


NONE = {"Code": "None"}
FAILED = {"Code": "ConditionalCheckFailed"}


def model_record(entity_version: int = 7) -> ModelRecord:
    return ModelRecord(a_model(entity_version=entity_version), version_sequence=2, highest_numeric_version=2)


# Building writes ----------------------------------------------------------------------------------


def test_a_create_puts_the_encoded_item_only_where_none_is():
    write = create(TABLE, SUBSCRIPTIONS, a_subscription())

    assert write.operation == {
        "Put": {
            "TableName": TABLE,
            "Item": SUBSCRIPTIONS.encode(a_subscription()),
            "ConditionExpression": "attribute_not_exists(PK)",
        }
    }
    assert write.creates and write.entity == "subscription"


def test_a_replace_holds_only_while_the_stored_entity_version_is_the_expected_one():
    put = replace(TABLE, MODELS, model_record(8), expected_version=7).operation["Put"]

    assert put["Item"] == MODELS.encode(model_record(8))
    assert put["ConditionExpression"] == "entity_version = :expected"
    assert put["ExpressionAttributeValues"] == {":expected": {"N": "7"}}
    assert put["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"


def test_a_replace_can_also_hold_the_status_it_was_read_in():
    put = replace(TABLE, JOBS, a_job("dispatched"), expected_version=4, expected_status="queued").operation["Put"]

    assert put["ConditionExpression"] == "entity_version = :expected AND #status = :previous"
    assert put["ExpressionAttributeNames"] == {"#status": "status"}
    assert put["ExpressionAttributeValues"] == {":expected": {"N": "4"}, ":previous": {"S": "queued"}}


def test_an_overwrite_has_no_condition():
    put = overwrite(TABLE, VERSIONS, VersionRecord(a_version(), 1)).operation["Put"]

    assert "ConditionExpression" not in put


def test_an_update_sets_and_removes_attributes_in_place_under_its_conditions():
    operation = update(
        TABLE,
        VERSIONS,
        keys.version_key("model_a", "12"),
        {"status": {"S": "active"}, "entity_version": {"N": "3"}},
        remove=("training_job_id",),
        expected_version=2,
        expected_status="training",
        condition=("training_job_id = :job", {":job": {"S": "job-1"}}),
    ).operation["Update"]

    assert operation["Key"] == {"PK": {"S": "MODEL#model_a"}, "SK": {"S": "VERSION#12"}}
    assert operation["UpdateExpression"] == "SET #a0 = :a0, #a1 = :a1 REMOVE #r0"
    assert operation["ExpressionAttributeNames"] == {
        "#status": "status",
        "#a0": "status",
        "#a1": "entity_version",
        "#r0": "training_job_id",
    }
    assert operation["ConditionExpression"] == (
        "entity_version = :expected AND #status = :previous AND (training_job_id = :job)"
    )
    assert operation["ExpressionAttributeValues"][":job"] == {"S": "job-1"}


def test_a_delete_without_a_version_needs_the_item_to_exist():
    operation = delete(TABLE, MODELS, keys.model_key("model_a")).operation["Delete"]

    assert operation["ConditionExpression"] == "attribute_exists(PK)"


# Running one write --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("write", "call"),
    [
        (create(TABLE, JOBS, a_job()), "put_item"),
        (update(TABLE, JOBS, keys.job_key("m", "j"), {"status": {"S": "x"}}, (), 1), "update_item"),
        (delete(TABLE, JOBS, keys.job_key("m", "j"), 1), "delete_item"),
    ],
)
def test_one_write_is_the_matching_single_item_call(write: Any, call: str):
    client = FakeClient()

    save(client, write)

    ((operation, request),) = client.calls
    assert operation == call
    assert request == next(iter(write.operation.values()))


def test_a_lost_replace_is_stale_with_the_entity_version_now_stored():
    client = FakeClient(condition_failed({"entity_version": {"N": "9"}}))

    with pytest.raises(StaleEntityError) as raised:
        save(client, replace(TABLE, SUBSCRIPTIONS, a_subscription(), expected_version=3))

    assert (raised.value.current, raised.value.entity) == (9, "subscription")


def test_a_replace_of_an_item_that_is_gone_is_stale_with_no_current_version():
    client = FakeClient(condition_failed())

    with pytest.raises(StaleEntityError) as raised:
        save(client, delete(TABLE, MODELS, keys.model_key("model_a")))

    assert raised.value.current is None


def test_a_create_that_finds_its_item_is_item_exists():
    client = FakeClient(condition_failed())

    with pytest.raises(ItemExistsError) as raised:
        save(client, create(TABLE, JOBS, a_job()))

    assert raised.value.entity == "job"


def test_an_item_dynamodb_refuses_is_not_storable_naming_the_entity():
    refusal = ClientError({"Error": {"Code": "ValidationException", "Message": "Item size has exceeded"}}, "PutItem")

    with pytest.raises(ItemNotStorableError, match="the job: Item size has exceeded"):
        save(FakeClient(refusal), create(TABLE, JOBS, a_job()))


def test_any_other_error_is_raised_as_it_came():
    throttled = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "PutItem")

    with pytest.raises(ClientError) as raised:
        save(FakeClient(throttled), create(TABLE, JOBS, a_job()))

    assert raised.value is throttled


# Running a transaction ----------------------------------------------------------------------------


def model_and_new_version() -> list[Any]:
    return [
        replace(TABLE, MODELS, model_record(8), expected_version=7),
        create(TABLE, VERSIONS, VersionRecord(a_version(), 3)),
    ]


def test_writes_together_are_one_transaction_in_their_order():
    client = FakeClient()
    writes = model_and_new_version()

    save_together(client, writes)

    assert client.calls == [("transact_write_items", {"TransactItems": [w.operation for w in writes]})]


def test_a_lost_condition_of_a_transaction_names_the_entity_that_moved():
    client = FakeClient(cancelled({**FAILED, "Item": {"entity_version": {"N": "8"}}}, NONE))

    with pytest.raises(StaleEntityError) as raised:
        save_together(client, model_and_new_version())

    assert (raised.value.current, raised.value.entity) == (8, "model")


def test_a_lost_condition_comes_before_an_existing_item():
    client = FakeClient(cancelled({**FAILED, "Item": {"entity_version": {"N": "8"}}}, FAILED))

    with pytest.raises(StaleEntityError):
        save_together(client, model_and_new_version())


def test_a_transaction_whose_create_found_its_item_is_item_exists_of_that_entity():
    client = FakeClient(cancelled(NONE, FAILED))

    with pytest.raises(ItemExistsError) as raised:
        save_together(client, model_and_new_version())

    assert raised.value.entity == "version"


def test_an_item_a_transaction_refuses_is_not_storable_naming_it():
    client = FakeClient(cancelled(NONE, {"Code": "ValidationError", "Message": "too large"}))

    with pytest.raises(ItemNotStorableError, match="the version: too large"):
        save_together(client, model_and_new_version())


def test_a_transaction_dynamodb_refuses_whole_is_not_storable_as_a_change():
    refusal = ClientError({"Error": {"Code": "ValidationException", "Message": "too large"}}, "TransactWriteItems")

    with pytest.raises(ItemNotStorableError, match="the change: too large"):
        save_together(FakeClient(refusal), model_and_new_version())


def test_a_transaction_cancelled_for_another_reason_is_raised_as_it_came():
    throttled = cancelled(NONE, {"Code": "ThrottlingError"})

    with pytest.raises(ClientError) as raised:
        save_together(FakeClient(throttled), model_and_new_version())

    assert raised.value is throttled


class ConflictsFirst(FakeClient):
    """Cancels the first ``conflicts`` transactions for a conflict with another request."""

    def __init__(self, conflicts: int) -> None:
        super().__init__()
        self.conflicts = conflicts

    def transact_write_items(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("transact_write_items", request))
        if len(self.calls) <= self.conflicts:
            raise cancelled(NONE, {"Code": "TransactionConflict"})
        return {}


def test_a_transaction_cancelled_only_by_a_conflict_is_sent_again(monkeypatch):
    monkeypatch.setattr("shared.data.save.time.sleep", lambda seconds: None)
    client = ConflictsFirst(conflicts=2)

    save_together(client, model_and_new_version())

    assert len(client.calls) == 3
    assert client.calls[0] == client.calls[2]  # the same request: it applied nothing


def test_a_transaction_that_keeps_conflicting_is_a_concurrent_update_not_a_500(monkeypatch):
    monkeypatch.setattr("shared.data.save.time.sleep", lambda seconds: None)
    client = ConflictsFirst(conflicts=99)

    with pytest.raises(ConcurrentUpdateError, match="at the same time: retry"):
        save_together(client, model_and_new_version())

    assert len(client.calls) == CONFLICT_ATTEMPTS


def test_a_conflict_beside_a_failed_condition_is_the_failed_condition():
    client = FakeClient(cancelled(FAILED, {"Code": "TransactionConflict"}))

    with pytest.raises(StaleEntityError):
        save_together(client, model_and_new_version())

    assert len(client.calls) == 1


# Retrying on stale --------------------------------------------------------------------------------


class Attempts:
    """An attempt that loses its write ``losses`` times, then succeeds."""

    def __init__(self, losses: int, current: int | None = 5) -> None:
        self.losses = losses
        self.current = current
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        if self.count <= self.losses:
            raise StaleEntityError(self.current, "model")
        return "written"


def test_a_lost_write_is_decided_again_on_fresh_state():
    attempt = Attempts(losses=WRITE_ATTEMPTS - 1)

    assert retry_on_stale(attempt, ConcurrentUpdateError("model 'a'")) == "written"
    assert attempt.count == WRITE_ATTEMPTS


def test_after_every_attempt_lost_the_caller_hears_its_own_error():
    attempt = Attempts(losses=WRITE_ATTEMPTS)

    with pytest.raises(ConcurrentUpdateError, match="model 'a'"):
        retry_on_stale(attempt, ConcurrentUpdateError("model 'a'"))

    assert attempt.count == WRITE_ATTEMPTS


def test_with_if_match_a_lost_write_is_the_callers_conflict_and_is_not_retried():
    attempt = Attempts(losses=1, current=6)

    def pinned(stale: StaleEntityError) -> Any:
        raise EntityVersionMismatchError("model", 5, stale.current or 0)

    with pytest.raises(EntityVersionMismatchError, match="entity_version 6, not 5") as raised:
        retry_on_stale(attempt, ConcurrentUpdateError("model 'a'"), pinned)

    assert attempt.count == 1
    assert raised.value.__context__ is None  # raised as the caller's own error, not during the lost write's


def test_on_stale_may_answer_instead_of_retrying():
    attempt = Attempts(losses=1)

    assert retry_on_stale(attempt, ConcurrentUpdateError("job 'j'"), lambda stale: None) is None
    assert attempt.count == 1


def test_on_stale_may_choose_per_loss():
    attempt = Attempts(losses=2)
    seen: list[int | None] = []

    def retry_while_it_exists(stale: StaleEntityError) -> Any:
        seen.append(stale.current)
        return RETRY

    assert retry_on_stale(attempt, ConcurrentUpdateError("x"), retry_while_it_exists) == "written"
    assert seen == [5, 5]


def test_errors_other_than_a_lost_write_are_not_retried():
    calls = []

    def attempt() -> None:
        calls.append(1)
        raise ItemExistsError("model")

    with pytest.raises(ItemExistsError):
        retry_on_stale(attempt, ConcurrentUpdateError("x"))

    assert len(calls) == 1

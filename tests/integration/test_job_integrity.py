"""Job integrity (issue 11, points 4 and 5): a completion that cannot be stored fails its job instead
of losing it, and only the job a version is bound to while ``training`` may move that version."""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest

from functions.complete_job_events.handler import lambda_handler
from pie_local.settings import LOCAL_TABLE_NAME
from shared import runtime
from shared.data import keys
from shared.data.items import key
from shared.runtime import use_stand_in
from tests.conftest import LambdaContext, load_event
from tests.integration.api_events import SEED_MODEL_ID, assert_error, create_model
from tests.integration.job_helpers import (
    RecordingLambda,
    client_error,
    complete,
    dispatch,
    drain,
    get_job,
    get_version,
    job_inserts,
    start_inference,
    start_training,
    started_job,
    table_stream,
)
from tests.integration.lifecycle_helpers import jobs_of, set_status, subscribe, walk_to

ECHO = {"type": "in_process", "implementation": "echo"}
BIG_INPUT = {"blob": "x" * 195_000}  # stored as input, fits; echoed back as output too, it does not


@pytest.fixture
def lambda_client() -> RecordingLambda:
    client = RecordingLambda()
    use_stand_in("lambda", client)
    return client


# A completion that cannot be stored -----------------------------------------------------------------


@pytest.fixture
def echo_model(table: Any) -> str:
    create_model("echoer", handlers={"training": ECHO, "inference": ECHO})
    return "echoer"


def test_an_in_process_training_whose_output_is_too_large_fails_with_its_version_in_the_same_delivery(
    echo_model: str,
):
    job = started_job(start_training(echo_model, BIG_INPUT))

    assert dispatch(job_inserts(table_stream().read())) == {"batchItemFailures": []}

    failed = get_job(echo_model, job["id"])
    assert failed["status"] == "failed"
    assert failed["output"] is None
    assert failed["error"].startswith("output too large to store")
    assert "bytes" in failed["error"] and "limit" in failed["error"]
    version = get_version(echo_model, "1")["version"]
    assert (version["status"], version["status_message"]) == ("failed", failed["error"])
    assert version["training_job_id"] is None


def test_a_redelivered_record_of_a_job_failed_for_its_output_size_changes_nothing(echo_model: str, table: Any):
    started_job(start_training(echo_model, BIG_INPUT))
    records = job_inserts(table_stream().read())
    assert dispatch(copy.deepcopy(records)) == {"batchItemFailures": []}
    before = (jobs_of(table, echo_model), get_version(echo_model, "1"))

    assert dispatch(copy.deepcopy(records)) == {"batchItemFailures": []}

    assert (jobs_of(table, echo_model), get_version(echo_model, "1")) == before
    (job,) = before[0]
    assert (job["status"], job["attempt"]) == ("failed", 1)


ITEM_TOO_LARGE = "Item size has exceeded the maximum allowed size"


class RefusingDynamoDb:
    """The real client, except that its first ``refusals`` transactions are refused as DynamoDB
    refuses an item over 400 KB that the size check before writing did not foresee: moto raises a
    ValidationException, real DynamoDB cancels the transaction with a ``ValidationError`` reason
    for the item."""

    def __init__(self, client: Any, how: str, refusals: int = 1) -> None:
        self._client = client
        self._how = how
        self._refusals = refusals

    def transact_write_items(self, **request: Any) -> Any:
        if self._refusals == 0:
            return self._client.transact_write_items(**request)
        self._refusals -= 1
        if self._how == "validation":
            raise client_error("ValidationException", ITEM_TOO_LARGE, "TransactWriteItems")
        error = client_error("TransactionCanceledException", "Transaction cancelled", "TransactWriteItems")
        reasons = [{"Code": "None"} for _ in request["TransactItems"]]
        reasons[0] = {"Code": "ValidationError", "Message": ITEM_TOO_LARGE}
        error.response["CancellationReasons"] = reasons  # type: ignore[typeddict-unknown-key]
        raise error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.mark.parametrize("how", ["validation", "transaction-cancelled"])
def test_a_completion_dynamodb_refuses_to_store_fails_the_job_with_dynamodbs_reason(
    echo_model: str, how: str, monkeypatch: pytest.MonkeyPatch
):
    job = started_job(start_training(echo_model, {"rows": 1}))
    records = job_inserts(table_stream().read())
    writer = runtime.outbox()
    monkeypatch.setattr(writer, "_client", RefusingDynamoDb(writer._client, how))

    assert dispatch(records) == {"batchItemFailures": []}

    failed = get_job(echo_model, job["id"])
    assert failed["status"] == "failed"
    assert ITEM_TOO_LARGE in failed["error"]
    version = get_version(echo_model, "1")["version"]
    assert (version["status"], version["status_message"]) == ("failed", failed["error"])


def test_a_job_whose_version_cannot_be_stored_either_fails_alone(echo_model: str, monkeypatch: pytest.MonkeyPatch):
    job = started_job(start_training(echo_model, {"rows": 1}))
    records = job_inserts(table_stream().read())
    writer = runtime.outbox()
    monkeypatch.setattr(writer, "_client", RefusingDynamoDb(writer._client, "validation", refusals=2))

    assert dispatch(records) == {"batchItemFailures": []}

    failed = get_job(echo_model, job["id"])
    assert failed["status"] == "failed"
    assert ITEM_TOO_LARGE in failed["error"]
    assert get_version(echo_model, "1")["version"]["status"] == "training"


def test_a_completion_route_with_an_output_too_large_is_a_400_and_the_job_can_still_complete(
    seed_model: dict[str, Any],
):
    job = started_job(start_training(SEED_MODEL_ID, {}))
    too_large = {"status": "succeeded", "output": {"weights": "x" * 390_000}}

    message = assert_error(complete(SEED_MODEL_ID, job["id"], too_large), 400)

    assert "output too large to store" in message
    assert get_job(SEED_MODEL_ID, job["id"])["status"] == "queued"
    assert get_version(SEED_MODEL_ID, "1")["version"]["status"] == "training"
    status, body, _ = complete(SEED_MODEL_ID, job["id"], {"status": "succeeded", "output": {"model_path": "s3://m"}})
    assert status == 200, body
    assert get_version(SEED_MODEL_ID, "1")["version"]["status"] == "active"


def test_a_lambda_destination_record_with_an_output_too_large_fails_the_job(
    seed_model: dict[str, Any], lambda_client: RecordingLambda
):
    job = started_job(start_training(SEED_MODEL_ID, {}))
    assert dispatch(job_inserts(table_stream().read())) == {"batchItemFailures": []}
    event = load_event("complete_job_events")
    detail = event["detail"]
    (detail["requestPayload"],) = lambda_client.envelopes()
    detail["requestContext"]["functionArn"] = f"{job['handler']['arn']}:1"
    detail["responsePayload"] = {"weights": "x" * 390_000}

    assert lambda_handler(event, LambdaContext())["outcome"] == "failed"

    failed = get_job(SEED_MODEL_ID, job["id"])
    assert failed["status"] == "failed"
    assert failed["error"].startswith("output too large to store")
    version = get_version(SEED_MODEL_ID, "1")["version"]
    assert (version["status"], version["status_message"]) == ("failed", failed["error"])


# A stale completion -----------------------------------------------------------------------------------


@pytest.fixture
def trained_twice(seed_model: dict[str, Any], lambda_client: RecordingLambda, table: Any) -> tuple[str, str]:
    """J1 dispatched, version 1 failed by hand, then J2 dispatched: (J1, J2). ``b`` is subscribed to
    the seed model's ``training_complete``."""
    create_model("b")
    walk_to("b", "1", "active")
    subscribe(SEED_MODEL_ID, "b", input_source="trigger_output")
    first = started_job(start_training(SEED_MODEL_ID, {}))
    assert dispatch(job_inserts(table_stream().read())) == {"batchItemFailures": []}
    code, body, _ = set_status(SEED_MODEL_ID, "1", "failed", status_message="cancelled by hand")
    assert code == 200, body
    second = started_job(start_training(SEED_MODEL_ID, {}))
    assert dispatch(job_inserts(table_stream().read())) == {"batchItemFailures": []}
    assert get_job(SEED_MODEL_ID, first["id"])["status"] == "dispatched"
    return first["id"], second["id"]


def test_a_training_version_names_the_job_training_it(trained_twice: tuple[str, str]):
    _, second = trained_twice

    version = get_version(SEED_MODEL_ID, "1")["version"]

    assert (version["status"], version["training_job_id"]) == ("training", second)


def test_a_stale_training_job_completes_alone_and_neither_moves_its_version_nor_fires(
    trained_twice: tuple[str, str], table: Any
):
    first, second = trained_twice
    before = get_version(SEED_MODEL_ID, "1")

    status, body, _ = complete(SEED_MODEL_ID, first, {"status": "succeeded", "output": {"model_path": "s3://stale"}})

    assert status == 200, body
    assert (body["job"]["status"], body["job"]["output"]) == ("succeeded", {"model_path": "s3://stale"})
    assert body["triggered_events"] == []
    (warning,) = body["warnings"]
    assert second in warning and "not changed" in warning
    assert get_version(SEED_MODEL_ID, "1") == before
    assert jobs_of(table, "b") == []

    _, body, _ = complete(SEED_MODEL_ID, second, {"status": "succeeded", "output": {"model_path": "s3://fresh"}})

    version = get_version(SEED_MODEL_ID, "1")["version"]
    assert (version["status"], version["training_job_id"]) == ("active", None)
    (fired,) = jobs_of(table, "b")
    assert fired["input"] == {"model_path": "s3://fresh"}
    assert fired["trigger"]["source_job_id"] == second


def test_a_stale_failed_training_job_does_not_fail_the_version_its_successor_trains(trained_twice: tuple[str, str]):
    first, second = trained_twice

    status, body, _ = complete(SEED_MODEL_ID, first, {"status": "failed", "error": "OOM"})

    assert status == 200, body
    assert body["job"]["status"] == "failed"
    version = get_version(SEED_MODEL_ID, "1")["version"]
    assert (version["status"], version["training_job_id"]) == ("training", second)


def test_a_stale_lambda_destination_record_completes_its_job_alone(
    trained_twice: tuple[str, str], table: Any, lambda_client: RecordingLambda
):
    first, second = trained_twice
    event = load_event("complete_job_events")
    detail = event["detail"]
    (detail["requestPayload"],) = [envelope for envelope in lambda_client.envelopes() if envelope["job_id"] == first]
    detail["requestContext"]["functionArn"] = f"{get_job(SEED_MODEL_ID, first)['handler']['arn']}:1"

    assert lambda_handler(event, LambdaContext())["outcome"] == "succeeded"

    assert get_job(SEED_MODEL_ID, first)["status"] == "succeeded"
    version = get_version(SEED_MODEL_ID, "1")["version"]
    assert (version["status"], version["training_job_id"]) == ("training", second)
    assert jobs_of(table, "b") == []


def test_failing_a_training_version_by_hand_unbinds_its_job(seed_model: dict[str, Any]):
    job = started_job(start_training(SEED_MODEL_ID, {}))
    assert get_version(SEED_MODEL_ID, "1")["version"]["training_job_id"] == job["id"]

    set_status(SEED_MODEL_ID, "1", "failed", status_message="cancelled by hand")
    assert get_version(SEED_MODEL_ID, "1")["version"]["training_job_id"] is None
    set_status(SEED_MODEL_ID, "1", "pending")

    _, body, _ = complete(SEED_MODEL_ID, job["id"], {"status": "succeeded", "output": {}})

    assert any("not changed" in warning for warning in body["warnings"])
    assert get_version(SEED_MODEL_ID, "1")["version"]["status"] == "pending"


def test_a_triggered_training_binds_its_version_when_it_is_claimed(table: Any, lambda_client: RecordingLambda):
    create_model("source", handlers={"training": ECHO, "inference": ECHO})
    walk_to("source", "1", "active")
    create_model(SEED_MODEL_ID)
    subscribe("source", SEED_MODEL_ID, event="inference_complete", action="training", input_source="trigger_output")
    started_job(start_inference("source", {"data_path": "s3://d/"}))
    drain(table_stream())

    (triggered,) = jobs_of(table, SEED_MODEL_ID)
    version = get_version(SEED_MODEL_ID, "1")["version"]
    assert (version["status"], version["training_job_id"]) == ("training", triggered["id"])


def test_a_training_version_stored_before_bindings_existed_is_completed_by_its_job(seed_model: dict[str, Any]):
    """docs/decisions.md: a ``training`` version without a binding (written before bindings
    existed) may be moved by any training job of that version, as before."""
    job = started_job(start_training(SEED_MODEL_ID, {}))
    _forget_binding(SEED_MODEL_ID, "1")
    assert get_version(SEED_MODEL_ID, "1")["version"]["training_job_id"] is None

    status, body, _ = complete(SEED_MODEL_ID, job["id"], {"status": "succeeded", "output": {}})

    assert status == 200, body
    assert "warnings" not in body
    assert get_version(SEED_MODEL_ID, "1")["version"]["status"] == "active"


def _forget_binding(model_id: str, version: str) -> None:
    """Rewrite a version item as the release before bindings stored it."""
    client = boto3.client("dynamodb")
    item_key = key(keys.version_key(model_id, version))
    item = client.get_item(TableName=LOCAL_TABLE_NAME, Key=item_key)["Item"]
    doc = json.loads(item["doc"]["S"])
    doc.pop("training_job_id", None)
    item["doc"] = {"S": json.dumps(doc)}
    item.pop("training_job_id", None)
    client.put_item(TableName=LOCAL_TABLE_NAME, Item=item)


def test_a_training_job_that_cannot_start_fails_and_unbinds_its_version(
    seed_model: dict[str, Any],
):
    """A version bound to a job that failed to start is unbound by that failure (nothing left in flight)."""
    not_found = client_error("ResourceNotFoundException", "Function not found", status=404)
    use_stand_in("lambda", RecordingLambda(failures=[not_found]))
    job = started_job(start_training(SEED_MODEL_ID, {}))

    assert dispatch(job_inserts(table_stream().read())) == {"batchItemFailures": []}

    assert get_job(SEED_MODEL_ID, job["id"])["status"] == "failed"
    version = get_version(SEED_MODEL_ID, "1")["version"]
    assert (version["status"], version["training_job_id"]) == ("failed", None)

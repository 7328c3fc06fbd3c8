"""The local stream readers and replayer: reading a real DynamoDB Streams API
(``--dynamodb-endpoint``), an iterator that expires is replaced by one just after the last record
read, so nothing is skipped or read twice; a batch whose handler raises is retried whole."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pie_local.table.stream import DynamoDBStreamsReader, StreamReplayer

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/pie-local/stream/1"


def record(sequence: str) -> dict[str, Any]:
    return {"eventID": sequence, "eventName": "INSERT", "dynamodb": {"SequenceNumber": sequence, "Keys": {}}}


class FakeDynamoDB:
    def describe_table(self, TableName: str) -> dict[str, Any]:  # boto3's name
        return {"Table": {"LatestStreamArn": ARN}}


class ExpiringStreams:
    """One shard holding records 1..5; the iterator handed out first expires after one read."""

    def __init__(self) -> None:
        self.records = [record(str(n)) for n in range(1, 6)]
        self.positions: list[dict[str, Any]] = []
        self.expired = False

    def describe_stream(self, StreamArn: str) -> dict[str, Any]:
        return {"StreamDescription": {"Shards": [{"ShardId": "shard-1"}]}}

    def get_shard_iterator(self, StreamArn: str, ShardId: str, **position: Any) -> dict[str, Any]:
        self.positions.append(position)
        start = 0 if position["ShardIteratorType"] == "TRIM_HORIZON" else int(position["SequenceNumber"])
        return {"ShardIterator": f"{len(self.positions)}:{start}"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        issued, start = (int(part) for part in ShardIterator.split(":"))
        if issued == 1 and start > 0 and not self.expired:
            self.expired = True
            error = {"Error": {"Code": "ExpiredIteratorException", "Message": "expired"}}
            raise ClientError(error, "GetRecords")  # type: ignore[arg-type]
        batch = self.records[start : start + 2]
        return {"Records": batch, "NextShardIterator": f"{issued}:{start + len(batch)}"}


def test_an_expired_iterator_resumes_after_the_last_record_read():
    streams = ExpiringStreams()
    reader = DynamoDBStreamsReader(FakeDynamoDB(), streams, "pie-local")

    seen = []
    for _ in range(4):
        seen += [r["dynamodb"]["SequenceNumber"] for r in reader.read()]

    assert seen == ["1", "2", "3", "4", "5"]
    assert streams.positions[-1] == {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": "2"}
    assert all(r["eventSourceARN"] == ARN for r in reader.read())


class ListStream:
    """A reader over a fixed list of records, recording acknowledgements."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.pending = records
        self.acknowledged = 0

    def read(self, limit: int = 100) -> list[dict[str, Any]]:
        records, self.pending = self.pending, []
        return records

    def acknowledge(self) -> None:
        self.acknowledged += 1

    def wait(self, timeout: float) -> None: ...

    def wake(self) -> None: ...


def test_a_batch_whose_handler_raises_is_retried_whole_then_acknowledged():
    calls: list[list[str]] = []

    def flaky(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append([r["dynamodb"]["SequenceNumber"] for r in event["Records"]])
        if len(calls) == 1:
            raise RuntimeError("the function crashed")
        return {"batchItemFailures": []}

    stream = ListStream([record("1"), record("2")])
    replayer = StreamReplayer(stream, flaky, lambda: None)

    assert replayer.drain() == 2
    assert calls == [["1", "2"], ["1", "2"]]
    assert stream.acknowledged == 1


def test_a_filtered_replayer_hands_over_only_the_records_its_filters_admit_and_passes_over_the_rest():
    def typed(sequence: str, entity_type: str) -> dict[str, Any]:
        return {
            **record(sequence),
            "dynamodb": {**record(sequence)["dynamodb"], "NewImage": {"entity_type": {"S": entity_type}}},
        }

    batches: list[list[str]] = []

    def consumer(event: dict[str, Any], context: Any) -> dict[str, Any]:
        batches.append([r["dynamodb"]["SequenceNumber"] for r in event["Records"]])
        return {"batchItemFailures": []}

    jobs_only = ({"dynamodb": {"NewImage": {"entity_type": {"S": ["JOB"]}}}},)
    models = ListStream([typed("1", "MODEL"), typed("2", "VERSION")])
    mixed = ListStream([typed("3", "MODEL"), typed("4", "JOB"), typed("5", "JOB")])

    assert StreamReplayer(models, consumer, lambda: None, filters=jobs_only).drain() == 2
    assert batches == [] and models.acknowledged == 1
    assert StreamReplayer(mixed, consumer, lambda: None, filters=jobs_only).drain() == 3
    assert batches == [["4", "5"]] and mixed.acknowledged == 1

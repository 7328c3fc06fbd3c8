"""The local table's stream, read as Lambda's event source would deliver it.

``TableStream`` reads the embedded table's ``ChangeLog`` (``pie_local.table.changes``): the changes of
committed requests only, in order, by sequence number, so a refused write or a cancelled transaction
can neither stop it nor show it a change that never happened. ``DynamoDBStreamsReader`` reads a
real DynamoDB Streams API instead (``--dynamodb-endpoint``, e.g. DynamoDB Local).

``StreamReplayer`` hands each batch to ``functions/dispatch_jobs`` on a background thread, waking
when a change is committed rather than polling. Records reported in ``batchItemFailures`` are
retried from the first failed one, as Lambda does, a bounded number of times before they are
dropped with a log line (the deployed stack sends them to its dead-letter queue); a handler that
raises fails the whole batch. After each batch
the reader's position is acknowledged: on a durable table that is where delivery resumes after a
restart (the dispatcher claims each job conditionally, so a record delivered twice starts nothing
twice).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from botocore.exceptions import ClientError

from pie_local.table.changes import ChangeLog
from shared.data.stream_filters import Pattern, matches_any

log = logging.getLogger(__name__)

BATCH_SIZE = 100
MAX_RETRIES = 3
DISPATCHER = "dispatch_jobs"


class StreamReader(Protocol):
    def read(self, limit: int = BATCH_SIZE) -> list[dict[str, Any]]: ...

    def acknowledge(self) -> None: ...

    def wait(self, timeout: float) -> None: ...

    def wake(self) -> None: ...


class TableStream:
    """New records of the embedded table; each ``read`` returns only what appeared since the last.

    A named ``reader`` resumes from its last acknowledgement and holds the records it has not
    acknowledged; an anonymous one starts at the oldest record held (TRIM_HORIZON).
    """

    def __init__(self, changes: ChangeLog, reader: str | None = None) -> None:
        self._changes = changes
        self._reader = reader
        self.arn = changes.stream_arn
        self._position = changes.register(reader) if reader is not None else changes.horizon()

    def read(self, limit: int = BATCH_SIZE) -> list[dict[str, Any]]:
        records = self._changes.read(self._position, limit)
        if records:
            self._position = int(records[-1]["dynamodb"]["SequenceNumber"])
        return records

    def acknowledge(self) -> None:
        if self._reader is not None:
            self._changes.acknowledge(self._reader, self._position)

    def wait(self, timeout: float) -> None:
        self._changes.wait(self._position, timeout)

    def wake(self) -> None:
        self._changes.wake()


class DynamoDBStreamsReader:
    """New records of a table's stream through the DynamoDB Streams API, from every shard.

    An iterator that expires or points into trimmed data is replaced by one just after the last
    record read from that shard, so nothing is skipped or read twice.
    """

    def __init__(self, dynamodb: Any, streams: Any, table_name: str, poll_seconds: float = 0.25) -> None:
        self._streams = streams
        self._poll = threading.Event()
        self._poll_seconds = poll_seconds
        self.arn = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        self._iterators: dict[str, str] = {}
        self._last_read: dict[str, str] = {}

    def read(self, limit: int = BATCH_SIZE) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for shard in self._streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            try:
                response = self._streams.get_records(ShardIterator=self._iterator(shard_id), Limit=limit)
            except ClientError as error:
                if error.response["Error"]["Code"] not in ("ExpiredIteratorException", "TrimmedDataAccessException"):
                    raise
                self._iterators.pop(shard_id, None)
                response = self._streams.get_records(ShardIterator=self._iterator(shard_id), Limit=limit)
            self._iterators[shard_id] = response.get("NextShardIterator") or self._iterators[shard_id]
            if response["Records"]:
                self._last_read[shard_id] = response["Records"][-1]["dynamodb"]["SequenceNumber"]
            records += [self._as_lambda_record(record) for record in response["Records"]]
        return records

    def _iterator(self, shard_id: str) -> str:
        if shard_id not in self._iterators:
            position: dict[str, str] = {"ShardIteratorType": "TRIM_HORIZON"}
            if shard_id in self._last_read:
                position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self._last_read[shard_id]}
            issued = self._streams.get_shard_iterator(StreamArn=self.arn, ShardId=shard_id, **position)
            self._iterators[shard_id] = issued["ShardIterator"]
        return self._iterators[shard_id]

    def acknowledge(self) -> None:
        """DynamoDB keeps the stream; where this reader stands is not kept across restarts."""

    def wait(self, timeout: float) -> None:
        self._poll.wait(min(timeout, self._poll_seconds))

    def wake(self) -> None:
        self._poll.set()

    def _as_lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        dynamodb = dict(record["dynamodb"])
        created = dynamodb.get("ApproximateCreationDateTime")
        if created is not None and not isinstance(created, (int, float)):
            dynamodb["ApproximateCreationDateTime"] = created.timestamp()
        return {
            "eventID": record["eventID"],
            "eventName": record["eventName"],
            "eventVersion": record.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": record.get("awsRegion", "us-east-1"),
            "dynamodb": dynamodb,
            "eventSourceARN": self.arn,
        }


class StreamReplayer:
    def __init__(
        self,
        stream: StreamReader,
        handler: Callable[[dict[str, Any], Any], dict[str, Any]],
        context_factory: Callable[[], Any],
        idle_seconds: float = 5.0,
        filters: tuple[Pattern, ...] | None = None,
    ) -> None:
        """``filters``: the event source mapping's filter patterns (``shared.data.stream_filters``);
        the handler is invoked only with the records matching one, the others are passed over."""
        self._stream = stream
        self._handler = handler
        self._filters = filters
        self._context = context_factory
        self._idle = idle_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pie-stream", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._stream.wake()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def drain(self) -> int:
        """Deliver every record available now that the filters admit; returns how many were read."""
        records = self._stream.read()
        if records:
            admitted = records if self._filters is None else [r for r in records if matches_any(self._filters, r)]
            if admitted:
                self._deliver(admitted)
            self._stream.acknowledge()
        return len(records)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.drain():
                    self._stream.wait(self._idle)
            except Exception:  # keep replaying; one bad poll must not stop the stack
                log.exception("stream replay failed; retrying")
                self._stop.wait(1)

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        for attempt in range(MAX_RETRIES + 1):
            try:
                response = self._handler({"Records": records}, self._context()) or {}
            except Exception:  # a function error fails the whole batch, as in Lambda
                log.exception("stream batch failed; retrying", extra={"attempt": attempt + 1})
                continue
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
            if not failed:
                return
            first = min(index for index, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] in failed)
            records = records[first:]
            log.warning("stream records failed; retrying", extra={"attempt": attempt + 1, "records": len(records)})
        log.error("stream records dropped after retries: %s", [r["dynamodb"]["SequenceNumber"] for r in records])

"""The embedded table's stream, read as Lambda's event source would deliver it.

``TableStream`` reads the records that appeared since its last read, from every shard, in Lambda's
DynamoDB event format. ``StreamReplayer`` polls it on a background thread and hands each batch to
``functions/dispatch_jobs``. Records reported in ``batchItemFailures`` are retried from the first
failed one, as Lambda does, a bounded number of times before they are dropped with a log line (the
deployed stack sends them to its dead-letter queue).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

BATCH_SIZE = 100
MAX_RETRIES = 3


class TableStream:
    """New records of a table's stream; each ``read`` returns only what appeared since the last."""

    def __init__(self, dynamodb: Any, streams: Any, table_name: str) -> None:
        self._streams = streams
        self.arn = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        self._iterators: dict[str, str] = {}

    def read(self, limit: int = BATCH_SIZE) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for shard in self._streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self._streams.get_shard_iterator(
                    StreamArn=self.arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            response = self._streams.get_records(ShardIterator=self._iterators[shard_id], Limit=limit)
            self._iterators[shard_id] = response["NextShardIterator"]
            records += [self._as_lambda_record(record) for record in response["Records"]]
        return records

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
        dynamodb: Any,
        streams: Any,
        table_name: str,
        handler: Callable[[dict[str, Any], Any], dict[str, Any]],
        context_factory: Callable[[], Any],
        poll_seconds: float = 0.05,
    ) -> None:
        self._stream = TableStream(dynamodb, streams, table_name)
        self._handler = handler
        self._context = context_factory
        self._poll = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pie-stream", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def drain(self) -> int:
        """Deliver every record available now; returns how many."""
        records = self._stream.read()
        if records:
            self._deliver(records)
        return len(records)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.drain():
                    self._stop.wait(self._poll)
            except Exception:  # noqa: BLE001 — keep replaying; one bad poll must not stop the stack
                log.exception("stream replay failed; retrying")
                self._stop.wait(1)

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        for attempt in range(MAX_RETRIES + 1):
            response = self._handler({"Records": records}, self._context()) or {}
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
            if not failed:
                return
            first = min(index for index, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] in failed)
            records = records[first:]
            log.warning("stream records failed; retrying", extra={"attempt": attempt + 1, "records": len(records)})
        log.error("stream records dropped after retries: %s", [r["dynamodb"]["SequenceNumber"] for r in records])

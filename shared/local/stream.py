"""The embedded table's stream, replayed into the dispatcher as Lambda's event source would.

A background thread polls every shard of the table's stream (moto's DynamoDB Streams) and hands
each batch of records, in Lambda's DynamoDB event format, to ``functions/dispatch_jobs``. Records
reported in ``batchItemFailures`` are retried from the first failed one, as Lambda does, a bounded
number of times before they are dropped with a log line (the deployed stack sends them to its DLQ).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

BATCH_SIZE = 100
MAX_RETRIES = 3


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
        self._dynamodb = dynamodb
        self._streams = streams
        self._table = table_name
        self._handler = handler
        self._context = context_factory
        self._poll = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._iterators: dict[str, str] = {}
        self._stream_arn = ""

    def start(self) -> None:
        self._stream_arn = self._dynamodb.describe_table(TableName=self._table)["Table"]["LatestStreamArn"]
        self._thread = threading.Thread(target=self._run, name="pie-stream", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def drain(self) -> int:
        """Deliver every record available now; returns how many (tests call it directly)."""
        delivered = 0
        for shard in self._streams.describe_stream(StreamArn=self._stream_arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self._streams.get_shard_iterator(
                    StreamArn=self._stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            response = self._streams.get_records(ShardIterator=self._iterators[shard_id], Limit=BATCH_SIZE)
            self._iterators[shard_id] = response["NextShardIterator"]
            records = response["Records"]
            if records:
                self._deliver([self._as_lambda_record(record) for record in records])
                delivered += len(records)
        return delivered

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
            failures = [f["itemIdentifier"] for f in response.get("batchItemFailures", [])]
            if not failures:
                return
            first = min(
                index for index, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] in set(failures)
            )
            records = records[first:]
            log.warning("stream records failed; retrying", extra={"attempt": attempt + 1, "records": len(records)})
        log.error("stream records dropped after retries: %s", [r["dynamodb"]["SequenceNumber"] for r in records])

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
            "eventSourceARN": self._stream_arn,
        }

"""The embedded table forces each write to disk before answering it, by default, and writers
arriving at once share one fsync (group commit); ``fsync=False`` (``--no-fsync``) never waits for
the disk.

``os.fsync`` is watched where the change log calls it: each call records how much of the log
file it covered, so a test can tell which writes were on disk when they were answered.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from pie_local.settings import LOCAL_TABLE_NAME
from pie_local.table import changes as change_log
from pie_local.table.changes import LOG_FILE
from pie_local.table.dynamodb import embedded_dynamodb

NAME = LOCAL_TABLE_NAME
WRITERS = 8
# Long enough that the writers arrive while one fsync is under way, as they do on a slow disk.
FSYNC_SECONDS = 0.05


class Disk:
    """Counts the fsyncs of the change log's file, and the log's size each one covered."""

    def __init__(self, log: Path) -> None:
        self._log = log
        self.covered: list[int] = []
        self._lock = threading.Lock()
        self._real = os.fsync

    def fsync(self, descriptor: int) -> None:
        size = os.fstat(descriptor).st_size
        self._real(descriptor)
        time.sleep(FSYNC_SECONDS)
        if self._log.exists() and os.path.samestat(os.fstat(descriptor), os.stat(self._log)):
            with self._lock:
                self.covered.append(size)

    def log_size(self) -> int:
        return self._log.stat().st_size


@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Disk:
    watched = Disk(tmp_path / "data" / LOG_FILE)
    monkeypatch.setattr(change_log.os, "fsync", watched.fsync)
    return watched


@pytest.fixture
def table(tmp_path: Path, disk: Disk) -> Iterator[Any]:
    with embedded_dynamodb(NAME, data_dir=tmp_path / "data") as client:
        yield client


def put(client: Any, pk: str) -> None:
    client.put_item(TableName=NAME, Item={"PK": {"S": pk}, "SK": {"S": "A"}, "value": {"S": pk}})


def test_a_write_is_on_disk_before_it_is_answered_by_default(table: Any, disk: Disk):
    for number in range(3):
        put(table, f"item-{number}")
        assert disk.covered, "the write was answered without an fsync"
        assert disk.covered[-1] == disk.log_size(), "the write was answered before the fsync covering it"


def test_writers_arriving_at_once_share_one_fsync(table: Any, disk: Disk):
    clients = [boto3.client("dynamodb", region_name=table.meta.region_name) for _ in range(WRITERS)]
    start = threading.Barrier(WRITERS)
    answered_at: list[int] = []

    def write(number: int) -> None:
        start.wait()
        put(clients[number], f"writer-{number}")
        answered_at.append(disk.log_size())

    threads = [threading.Thread(target=write, args=(number,)) for number in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(answered_at) == WRITERS
    assert 1 <= len(disk.covered) < WRITERS, f"{len(disk.covered)} fsyncs for {WRITERS} writers"
    # Every write was covered by an fsync before it was answered.
    assert max(disk.covered) == disk.log_size()
    assert all(
        table.get_item(TableName=NAME, Key={"PK": {"S": f"writer-{n}"}, "SK": {"S": "A"}}).get("Item")
        for n in range(WRITERS)
    )


def test_without_fsync_no_write_waits_for_the_disk(tmp_path: Path, disk: Disk):
    with embedded_dynamodb(NAME, data_dir=tmp_path / "data", fsync=False) as client:
        before = len(disk.covered)
        for number in range(3):
            put(client, f"item-{number}")
        assert len(disk.covered) == before
        assert disk.log_size() > 0  # the writes are with the operating system all the same


def test_the_stream_carries_a_change_only_once_it_is_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A consumer must not act on a change a crash could still take back: while the fsync covering
    a write is under way, a reader of the stream neither sees its record nor is woken for it."""
    from pie_local.table.dynamodb import table_changes
    from pie_local.table.stream import TableStream

    real_fsync, in_fsync, release = os.fsync, threading.Event(), threading.Event()

    def slow_fsync(descriptor: int) -> None:
        in_fsync.set()
        assert release.wait(10)
        real_fsync(descriptor)

    with embedded_dynamodb(NAME, data_dir=tmp_path / "data") as client:
        reader = TableStream(table_changes(NAME), reader="consumer")
        monkeypatch.setattr(change_log.os, "fsync", slow_fsync)
        writer = threading.Thread(target=put, args=(client, "pending"))
        writer.start()
        assert in_fsync.wait(10)
        seen_during = reader.read()
        woken_during = table_changes(NAME).wait(0, 0.2)
        release.set()
        writer.join(10)

        assert (seen_during, woken_during) == ([], False)
        assert table_changes(NAME).wait(0, 5)
        assert [record["dynamodb"]["Keys"]["PK"]["S"] for record in reader.read()] == ["pending"]


def test_without_fsync_the_stream_carries_a_change_as_soon_as_it_is_written(tmp_path: Path, disk: Disk):
    from pie_local.table.dynamodb import table_changes
    from pie_local.table.stream import TableStream

    with embedded_dynamodb(NAME, data_dir=tmp_path / "data", fsync=False) as client:
        reader = TableStream(table_changes(NAME), reader="consumer")
        put(client, "written")
        assert [record["dynamodb"]["Keys"]["PK"]["S"] for record in reader.read()] == ["written"]

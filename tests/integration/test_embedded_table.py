"""The embedded table behaves like DynamoDB where the local stack relies on it: a request applies
whole or not at all, its stream carries only committed changes, and with a data directory every
acknowledged write survives a restart."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pie_local.settings import LOCAL_TABLE_NAME
from pie_local.table.changes import (
    CHECKPOINT_FILE,
    LOG_FILE,
    MARKER_FILE,
    Change,
    ChangeLog,
    DataDirectoryInUseError,
)
from pie_local.table.dynamodb import embedded_dynamodb, table_changes
from pie_local.table.stream import TableStream

NAME = LOCAL_TABLE_NAME


def key(pk: str, sk: str = "A") -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def put(client: Any, pk: str, **attributes: str) -> None:
    item = {**key(pk), **{name: {"S": value} for name, value in attributes.items()}}
    client.put_item(TableName=NAME, Item=item)


def get(client: Any, pk: str) -> dict[str, Any] | None:
    return client.get_item(TableName=NAME, Key=key(pk), ConsistentRead=True).get("Item")


def changes_seen(stream: TableStream) -> list[tuple[str, str]]:
    return [(r["eventName"], r["dynamodb"]["Keys"]["PK"]["S"]) for r in stream.read(1000)]


def test_a_cancelled_transaction_changes_nothing_and_puts_nothing_on_the_stream(table):
    put(table, "a", state="one")
    put(table, "z")
    stream = TableStream(table_changes(NAME))
    assert changes_seen(stream) == [("INSERT", "a"), ("INSERT", "z")]

    with pytest.raises(ClientError) as refused:
        table.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": NAME, "Item": {**key("b"), "state": {"S": "new"}}}},
                {
                    "Update": {
                        "TableName": NAME,
                        "Key": key("a"),
                        "UpdateExpression": "SET #s = :two",
                        "ExpressionAttributeNames": {"#s": "state"},
                        "ExpressionAttributeValues": {":two": {"S": "two"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": NAME,
                        "Key": key("z"),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
            ]
        )

    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert get(table, "b") is None
    assert get(table, "a") == {**key("a"), "state": {"S": "one"}}
    assert changes_seen(stream) == []
    put(table, "c")
    assert changes_seen(stream) == [("INSERT", "c")]


def test_a_committed_transaction_puts_one_record_per_item_on_the_stream(table):
    put(table, "a", state="one")
    stream = TableStream(table_changes(NAME))
    stream.read()

    table.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": NAME, "Item": {**key("b"), "state": {"S": "new"}}}},
            {"Delete": {"TableName": NAME, "Key": key("a")}},
        ]
    )

    records = stream.read()
    assert [(r["eventName"], r["dynamodb"]["Keys"]["PK"]["S"]) for r in records] == [("INSERT", "b"), ("REMOVE", "a")]
    assert records[1]["dynamodb"]["OldImage"] == {**key("a"), "state": {"S": "one"}}
    assert [int(r["dynamodb"]["SequenceNumber"]) for r in records] == sorted(
        int(r["dynamodb"]["SequenceNumber"]) for r in records
    )


def test_an_update_that_creates_an_item_is_one_insert_of_the_whole_item(table):
    stream = TableStream(table_changes(NAME))

    table.update_item(
        TableName=NAME,
        Key=key("a"),
        UpdateExpression="SET #s = :one",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":one": {"S": "one"}},
    )
    put(table, "a", state="one")  # changes nothing, so DynamoDB writes no record

    (record,) = stream.read()
    assert record["eventName"] == "INSERT"
    assert record["dynamodb"]["NewImage"] == {**key("a"), "state": {"S": "one"}}
    assert "OldImage" not in record["dynamodb"]


def test_records_every_reader_acknowledged_are_dropped(table):
    changes = table_changes(NAME)
    reader = TableStream(changes, reader="dispatcher")
    for name in ("a", "b", "c"):
        put(table, name)

    assert len(reader.read()) == 3
    assert len(changes) == 3
    reader.acknowledge()

    assert len(changes) == 0
    put(table, "d")
    assert changes_seen(reader) == [("INSERT", "d")]


def test_records_older_than_the_retention_are_dropped():
    changes = ChangeLog("arn:stream", "us-east-1", retention_seconds=0)
    changes.append([Change(key("a"), None, key("a"))])
    changes.append([Change(key("b"), None, key("b"))])

    assert len(changes) == 0


def test_every_write_survives_a_restart_and_undelivered_records_are_delivered_again(tmp_path: Path):
    data = tmp_path / "data"
    with embedded_dynamodb(NAME, data_dir=data) as client:
        reader = TableStream(table_changes(NAME), reader="dispatcher")
        put(client, "a", state="one")
        put(client, "b", state="one")
        assert len(reader.read()) == 2
        reader.acknowledge()
        put(client, "a", state="two")
        client.delete_item(TableName=NAME, Key=key("b"))

    with embedded_dynamodb(NAME, data_dir=data) as client:
        assert get(client, "a") == {**key("a"), "state": {"S": "two"}}
        assert get(client, "b") is None
        reader = TableStream(table_changes(NAME), reader="dispatcher")
        assert changes_seen(reader) == [("MODIFY", "a"), ("REMOVE", "b")]
        put(client, "c")
        assert changes_seen(reader) == [("INSERT", "c")]

    with (data / LOG_FILE).open("a") as log:
        log.write('{"record": {"eventName": "INS')  # a write cut short by kill -9

    with embedded_dynamodb(NAME, data_dir=data) as client:
        assert get(client, "c") == key("c")
        records = TableStream(table_changes(NAME), reader="dispatcher").read()
        assert [r["dynamodb"]["Keys"]["PK"]["S"] for r in records] == ["a", "b", "c"]
        sequence_numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
        put(client, "d")
        (new,) = TableStream(table_changes(NAME)).read(1000)[-1:]
        assert int(new["dynamodb"]["SequenceNumber"]) > max(sequence_numbers)


def test_binary_values_are_written_streamed_and_kept_as_dynamodb_keeps_them(tmp_path: Path):
    """Moto holds a binary value as bytes; DynamoDB's stream and JSON carry it in base64. A write of
    one was refused before (the log could not be written) and must read back the same after a
    restart, where a condition compares it."""
    data = tmp_path / "data"
    binary = {"blob": {"B": b"\x00\xff"}, "blobs": {"BS": [b"\x01", b"\x02"]}, "nested": {"M": {"b": {"B": b"\x03"}}}}
    with embedded_dynamodb(NAME, data_dir=data) as client:
        client.put_item(TableName=NAME, Item={**key("bin"), **binary})
        (record,) = TableStream(table_changes(NAME)).read(1000)
        assert record["dynamodb"]["NewImage"]["blob"] == {"B": "AP8="}
        assert record["dynamodb"]["NewImage"]["nested"] == {"M": {"b": {"B": "Aw=="}}}

    with embedded_dynamodb(NAME, data_dir=data) as client:
        assert get(client, "bin") == {**key("bin"), **binary}
        client.put_item(
            TableName=NAME,
            Item={**key("bin"), "blob": {"B": b"\x04"}},
            ConditionExpression="#blob = :b AND nested.b = :n",
            ExpressionAttributeNames={"#blob": "blob"},
            ExpressionAttributeValues={":b": {"B": b"\x00\xff"}, ":n": {"B": b"\x03"}},
        )
        assert get(client, "bin") == {**key("bin"), "blob": {"B": b"\x04"}}


def test_after_a_restart_a_reader_that_registers_late_still_gets_what_it_had_not_acknowledged(tmp_path: Path):
    """pie-local starts its stream readers one after the other: the first may read and acknowledge
    before the second registers. The second's records are kept for it all the same (it holds a
    checkpoint), as DynamoDB keeps a stream's records for every consumer."""
    data = tmp_path / "data"
    with embedded_dynamodb(NAME, data_dir=data) as client:
        dispatcher = TableStream(table_changes(NAME), reader="dispatcher")
        webhooks = TableStream(table_changes(NAME), reader="webhooks")
        put(client, "a")
        for reader in (dispatcher, webhooks):
            assert len(reader.read()) == 1
            reader.acknowledge()
        put(client, "b")
        put(client, "c")
        assert len(dispatcher.read()) == 2
        dispatcher.acknowledge()  # the webhook reader was killed before it read them

    with embedded_dynamodb(NAME, data_dir=data) as client:
        dispatcher = TableStream(table_changes(NAME), reader="dispatcher")
        put(client, "d")
        assert changes_seen(dispatcher) == [("INSERT", "d")]
        dispatcher.acknowledge()  # before the other reader registers

        webhooks = TableStream(table_changes(NAME), reader="webhooks")
        assert changes_seen(webhooks) == [("INSERT", "b"), ("INSERT", "c"), ("INSERT", "d")]


def test_the_data_file_is_compacted_as_it_grows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("pie_local.table.changes.COMPACT_AFTER_LINES", 10)
    data = tmp_path / "data"
    with embedded_dynamodb(NAME, data_dir=data) as client:
        reader = TableStream(table_changes(NAME), reader="dispatcher")
        for round_number in range(30):
            put(client, "a", state=str(round_number))
            put(client, "b", state=str(round_number))
            reader.read()
            reader.acknowledge()
        table_changes(NAME).finish_compaction()
        lines = (data / LOG_FILE).read_text().splitlines()
        assert len(lines) <= 1 + 2 + 10 + 2

    with embedded_dynamodb(NAME, data_dir=data) as client:
        assert get(client, "a") == {**key("a"), "state": {"S": "29"}}
        assert get(client, "b") == {**key("b"), "state": {"S": "29"}}
        assert TableStream(table_changes(NAME), reader="dispatcher").read() == []


def test_a_data_directory_in_use_is_refused(tmp_path: Path):
    keeper = ChangeLog("arn:stream", "us-east-1", data_dir=tmp_path)
    keeper.load()

    with pytest.raises(DataDirectoryInUseError, match="in use"):
        ChangeLog("arn:stream", "us-east-1", data_dir=tmp_path).load()

    keeper.close()
    successor = ChangeLog("arn:stream", "us-east-1", data_dir=tmp_path)
    successor.load()
    successor.close()


def test_reads_are_answered_exactly_as_moto_would_serialize_them(table, monkeypatch):
    """Reads skip moto's model-driven serializer (the cost of a page of models); what they send must
    be what that serializer would have sent, for every kind of attribute value a read can carry."""
    import json

    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import DynamoResult

    fast = DynamoResult.execute_result
    compared: list[str] = []

    def both(self: Any, context: Any) -> Any:
        answer = fast(self, context)
        generic = ActionResult.execute_result(self, context)
        assert json.loads(answer[2]) == json.loads(generic[2]), context.operation_model.name
        assert answer[0] == generic[0]
        compared.append(context.operation_model.name)
        return answer

    monkeypatch.setattr(DynamoResult, "execute_result", both)
    item = {
        **key("typed"),
        "text": {"S": "é\u2028"},
        "number": {"N": "12.50"},
        "flag": {"BOOL": False},
        "nothing": {"NULL": True},
        "list": {"L": [{"S": "a"}, {"N": "1"}, {"M": {"k": {"S": "v"}}}]},
        "map": {"M": {"nested": {"L": []}}},
        "strings": {"SS": ["x", "y"]},
        "numbers": {"NS": ["1", "2.5"]},
    }
    table.put_item(TableName=NAME, Item=item)
    put(table, "plain", state="one")

    table.get_item(TableName=NAME, Key=key("typed"))
    table.batch_get_item(RequestItems={NAME: {"Keys": [key("typed"), key("plain"), key("missing")]}})
    table.query(TableName=NAME, KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": {"S": "typed"}})
    table.query(
        TableName=NAME,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "plain"}},
        Limit=1,
        ProjectionExpression="PK, #s",
        ExpressionAttributeNames={"#s": "state"},
    )
    table.scan(TableName=NAME, Limit=1)

    assert {"BatchGetItem", "GetItem", "Query", "Scan"} <= set(compared)


def test_a_record_in_the_log_is_the_record_readers_get_with_its_size_measured(tmp_path: Path):
    data = tmp_path / "data"
    with embedded_dynamodb(NAME, data_dir=data) as client:
        put(client, "sized", state="é\u2028 one")
        put(client, "sized", state="two")
        client.delete_item(TableName=NAME, Key=key("sized"))
        records = TableStream(table_changes(NAME)).read(1000)

    logged = [json.loads(line)["record"] for line in (data / LOG_FILE).read_text().splitlines() if '"record"' in line]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert logged[-3:] == records
    for record in records:
        measured = {name: value for name, value in record["dynamodb"].items() if name != "SizeBytes"}
        assert record["dynamodb"]["SizeBytes"] == len(json.dumps(measured))


def test_writes_go_on_while_the_log_is_compacted_and_none_is_lost_at_any_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A compaction is written behind the writes: the write that crosses the threshold and those
    after it are answered while the new log is still being written, a crash at that moment loses
    none of them (the old log holds everything), and the new log, once in place, holds them too."""
    monkeypatch.setattr("pie_local.table.changes.COMPACT_AFTER_LINES", 10)
    writing, release = threading.Event(), threading.Event()
    original = ChangeLog._write_compacted

    def slow_disk(self: ChangeLog, cut: Any) -> None:
        original(self, cut)
        if self.fsyncs:  # not the compaction at start
            writing.set()
            assert release.wait(10)

    monkeypatch.setattr(ChangeLog, "_write_compacted", slow_disk)
    data, crashed = tmp_path / "data", tmp_path / "crashed"
    with embedded_dynamodb(NAME, data_dir=data) as client:
        for number in range(12):
            put(client, f"before-{number}")
        assert writing.wait(10), "no compaction started"
        for number in range(5):
            put(client, f"during-{number}")  # answered while the compaction waits on the disk
        shutil.copytree(data, crashed)  # what a kill -9 now would leave
        release.set()
        table_changes(NAME).finish_compaction()
        put(client, "after")
        header = json.loads((data / LOG_FILE).read_text().splitlines()[0])
        assert header["sequence"] > 10 and not (data / LOG_FILE).with_suffix(".compacting").exists()

    expected = {f"before-{n}" for n in range(12)} | {f"during-{n}" for n in range(5)}
    for directory, kept in ((crashed, expected), (data, expected | {"after"})):
        with embedded_dynamodb(NAME, data_dir=directory) as client:
            assert {item["PK"]["S"] for item in client.scan(TableName=NAME)["Items"]} == kept


@pytest.mark.parametrize("forced", [True, False], ids=["fsync", "no-fsync"])
def test_a_compaction_forces_its_rename_to_disk_when_writes_are_forced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forced: bool
):
    """The compacted log replaces the old one by a rename; with fsync on, the directory holding it
    is forced to disk right after the rename, or a power cut could bring the old log back without
    the lines only the new one has on disk."""
    monkeypatch.setattr("pie_local.table.changes.COMPACT_AFTER_LINES", 10)
    data = tmp_path / "data"
    events: list[str] = []
    real_replace, real_fsync = os.replace, os.fsync

    def recording_replace(source: Any, target: Any) -> None:
        real_replace(source, target)
        if Path(target).name == LOG_FILE:
            events.append("log renamed")

    def recording_fsync(descriptor: int) -> None:
        real_fsync(descriptor)
        if Path(os.readlink(f"/proc/self/fd/{descriptor}")) == data:
            events.append("directory forced")

    monkeypatch.setattr("pie_local.table.changes.os.replace", recording_replace)
    monkeypatch.setattr("pie_local.table.changes.os.fsync", recording_fsync)
    with embedded_dynamodb(NAME, data_dir=data, fsync=forced) as client:
        for number in range(30):
            put(client, f"item-{number}")
        table_changes(NAME).finish_compaction()

    renames = [index for index, event in enumerate(events) if event == "log renamed"]
    assert renames, "no compaction ran"
    if forced:
        assert all(events[index + 1 : index + 2] == ["directory forced"] for index in renames), events
    else:
        assert "directory forced" not in events


def test_a_compaction_whose_rename_fails_leaves_the_writes_going_to_the_old_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("pie_local.table.changes.COMPACT_AFTER_LINES", 10)
    data = tmp_path / "data"
    real_replace = os.replace

    def failing_replace(source: Any, target: Any) -> None:
        if Path(target).name == LOG_FILE:
            raise OSError("the disk refused the rename")
        real_replace(source, target)

    with embedded_dynamodb(NAME, data_dir=data) as client:
        monkeypatch.setattr("pie_local.table.changes.os.replace", failing_replace)
        for number in range(30):
            put(client, f"item-{number}")
            table_changes(NAME).finish_compaction()
        monkeypatch.setattr("pie_local.table.changes.os.replace", real_replace)
        put(client, "after")  # and the next compaction may still run

    with embedded_dynamodb(NAME, data_dir=data) as client:
        assert all(get(client, f"item-{number}") is not None for number in range(30))
        assert get(client, "after") is not None
    assert not (data / LOG_FILE).with_suffix(".compacting").exists()


def test_a_checkpoint_being_written_holds_no_write_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A stream reader's acknowledgement is written to the checkpoint file outside the log's lock:
    writes to the table go on while the file is being written."""
    import pie_local.table.changes as changes_module

    entered, release = threading.Event(), threading.Event()
    real_write = changes_module._write_checkpoints

    def slow_write(*args: Any) -> None:
        entered.set()
        release.wait(10)
        real_write(*args)

    with embedded_dynamodb(NAME, data_dir=tmp_path / "data") as client:
        reader = TableStream(table_changes(NAME), reader="dispatcher")
        put(client, "a")
        assert len(reader.read()) == 1
        monkeypatch.setattr(changes_module, "_write_checkpoints", slow_write)
        acknowledging = threading.Thread(target=reader.acknowledge)
        acknowledging.start()
        assert entered.wait(5)
        writing = threading.Thread(target=put, args=(client, "b"))
        writing.start()
        writing.join(5)
        still_blocked = writing.is_alive()
        release.set()
        acknowledging.join(5)
        writing.join(5)
        assert not still_blocked, "the write waited for the checkpoint file"
        assert get(client, "b") is not None
    assert json.loads((tmp_path / "data" / CHECKPOINT_FILE).read_text()) == {"dispatcher": 1}


class _HeldLock:
    """A lock that makes the first thread to take it wait until ``go`` is set (a thread preempted
    between taking its snapshot and writing it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.waiting, self.go = threading.Event(), threading.Event()
        self._first: int | None = None

    def __enter__(self) -> None:
        if self._first is None:
            self._first = threading.get_ident()
            self.waiting.set()
            self.go.wait(10)
        self._lock.acquire()

    def __exit__(self, *exc: Any) -> None:
        self._lock.release()


def test_an_older_checkpoint_never_replaces_a_newer_one(tmp_path: Path):
    data = tmp_path / "data"
    with embedded_dynamodb(NAME, data_dir=data) as client:
        changes = table_changes(NAME)
        reader = TableStream(changes, reader="dispatcher")
        put(client, "a")
        put(client, "b")
        held = _HeldLock()
        changes._checkpoint_file = held  # type: ignore[assignment]
        first = threading.Thread(target=changes.acknowledge, args=("dispatcher", 1))
        first.start()
        assert held.waiting.wait(5)  # the first snapshot ({dispatcher: 1}) is taken, not written
        changes.acknowledge("dispatcher", 2)
        held.go.set()
        first.join(5)
        assert json.loads((data / CHECKPOINT_FILE).read_text()) == {"dispatcher": 2}
        assert len(reader.read()) == 0
    with embedded_dynamodb(NAME, data_dir=data) as client:
        put(client, "c")
        assert changes_seen(TableStream(table_changes(NAME), reader="dispatcher")) == [("INSERT", "c")]


def test_no_checkpoint_is_written_after_the_log_is_closed(tmp_path: Path):
    data = tmp_path / "data"
    with embedded_dynamodb(NAME, data_dir=data) as client:
        changes = table_changes(NAME)
        put(client, "a")
    written = (data / CHECKPOINT_FILE).read_text() if (data / CHECKPOINT_FILE).exists() else None

    changes.acknowledge("dispatcher", 1)  # a reader still running after the stop

    assert ((data / CHECKPOINT_FILE).read_text() if (data / CHECKPOINT_FILE).exists() else None) == written


@pytest.mark.parametrize("forced", [True, False])
def test_the_marker_and_checkpoint_files_reach_the_disk_before_their_names_when_writes_are_forced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forced: bool
):
    """Each is written to a temporary file and renamed; with fsync on, the file is forced to disk
    before the rename and the directory after it (a file renamed before its content is on disk can
    come back empty after a power cut, and an empty marker or checkpoint reads as a damaged log)."""
    data = tmp_path / "data"
    events: list[str] = []
    real_replace, real_fsync = os.replace, os.fsync

    def recording_replace(source: Any, target: Any) -> None:
        real_replace(source, target)
        if Path(target).name in (MARKER_FILE, CHECKPOINT_FILE):
            events.append(f"renamed {Path(source).name}")

    def recording_fsync(descriptor: int) -> None:
        real_fsync(descriptor)
        path = Path(os.readlink(f"/proc/self/fd/{descriptor}"))
        if path == data:
            events.append("directory forced")
        elif path.suffix == ".writing":
            events.append(f"forced {path.name}")

    monkeypatch.setattr("pie_local.table.changes.os.replace", recording_replace)
    monkeypatch.setattr("pie_local.table.changes.os.fsync", recording_fsync)
    with embedded_dynamodb(NAME, data_dir=data, fsync=forced) as client:
        reader = TableStream(table_changes(NAME), reader="dispatcher")
        put(client, "a")
        reader.read()
        reader.acknowledge()

    renamed = [index for index, event in enumerate(events) if event.startswith("renamed ")]
    written = {events[index].removeprefix("renamed ") for index in renamed}
    assert written == {
        Path(MARKER_FILE).with_suffix(".writing").name,
        Path(CHECKPOINT_FILE).with_suffix(".writing").name,
    }
    if forced:
        for index in renamed:
            name = events[index].removeprefix("renamed ")
            assert events[index - 1 : index + 2] == [f"forced {name}", f"renamed {name}", "directory forced"], events
    else:
        assert [event for event in events if not event.startswith("renamed ")] == []


def test_an_acknowledgement_not_yet_written_when_the_log_closes_is_written_by_the_close(tmp_path: Path):
    """An acknowledgement whose snapshot is taken but whose file write loses the race to the stop is
    not lost: the close writes it, and the records are not delivered again after a restart."""
    data = tmp_path / "data"
    held = _HeldLock()
    with embedded_dynamodb(NAME, data_dir=data) as client:
        changes = table_changes(NAME)
        reader = TableStream(changes, reader="dispatcher")
        put(client, "a")
        put(client, "b")
        assert len(reader.read()) == 2
        changes._checkpoint_file = held  # type: ignore[assignment]
        acknowledging = threading.Thread(target=reader.acknowledge)
        acknowledging.start()
        assert held.waiting.wait(5)  # the snapshot ({dispatcher: 2}) is taken, its file not written
    # The stop closed the log meanwhile (taking the file's lock before the acknowledgement could).
    held.go.set()
    acknowledging.join(5)

    assert json.loads((data / CHECKPOINT_FILE).read_text()) == {"dispatcher": 2}
    with embedded_dynamodb(NAME, data_dir=data) as client:
        assert changes_seen(TableStream(table_changes(NAME), reader="dispatcher")) == []

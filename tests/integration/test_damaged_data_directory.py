"""A damaged data directory is refused, never loaded in part and compacted over: a log cut short
(at a line boundary, in its compacted part or in the changes appended since), emptied, removed
while its marker remains, or with a line garbled in the middle. ``accept_data_loss`` loads what is
left and keeps a copy of the damaged log; a log of the previous format is trusted once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pie_local.settings import LOCAL_TABLE_NAME
from pie_local.table.changes import CHECKPOINT_FILE, LOG_FILE, MARKER_FILE, DataDirectoryDamagedError
from pie_local.table.dynamodb import embedded_dynamodb, table_changes
from pie_local.table.stream import TableStream

NAME = LOCAL_TABLE_NAME
ITEMS = 40


def key(pk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": "A"}}


def stored(data: Path, **options: Any) -> set[str]:
    """The partition keys a start on ``data`` finds."""
    with embedded_dynamodb(NAME, data_dir=data, **options) as client:
        return {item["PK"]["S"] for item in client.scan(TableName=NAME)["Items"]}


def write_items(data: Path, names: list[str], *, deliver: bool = True) -> None:
    with embedded_dynamodb(NAME, data_dir=data) as client:
        reader = TableStream(table_changes(NAME), reader="dispatch_jobs")
        for name in names:
            client.put_item(TableName=NAME, Item={**key(name), "n": {"S": name}})
        if deliver:
            reader.read(10_000)
            reader.acknowledge()


def names(first: int, last: int) -> list[str]:
    return [f"m{index:03d}" for index in range(first, last)]


@pytest.fixture
def compacted(tmp_path: Path) -> Path:
    """A data directory whose items are all in the log's compacted part (a start compacts it)."""
    data = tmp_path / "data"
    write_items(data, names(0, ITEMS))
    assert len(stored(data)) == ITEMS
    return data


@pytest.fixture
def appended(tmp_path: Path) -> Path:
    """A data directory whose items were all appended after the last compaction."""
    data = tmp_path / "data"
    write_items(data, names(0, ITEMS))
    return data


def cut_to_half(log: Path) -> None:
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[: len(lines) // 2]))


def assert_refused(data: Path, problem: str) -> None:
    log = data / LOG_FILE
    before = log.read_bytes() if log.exists() else None
    with pytest.raises(DataDirectoryDamagedError, match=problem) as refused:
        stored(data)
    assert refused.value.path == log
    # Nothing was compacted over it: the log is as the damage left it.
    assert (log.read_bytes() if log.exists() else None) == before


@pytest.mark.parametrize("data_fixture", ["compacted", "appended"])
def test_a_log_cut_to_half_at_a_line_boundary_is_refused(data_fixture: str, request: pytest.FixtureRequest):
    data = request.getfixturevalue(data_fixture)
    cut_to_half(data / LOG_FILE)

    assert_refused(data, r"items its header counts|says it reached change|stream was delivered up to")


def test_a_log_cut_in_its_appended_changes_before_they_were_delivered_is_refused_after_a_clean_stop(
    compacted: Path,
):
    write_items(compacted, names(ITEMS, ITEMS + 10), deliver=False)
    log = compacted / LOG_FILE
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:-5]))

    assert_refused(compacted, f"{MARKER_FILE} says it reached change")


def test_an_emptied_log_is_refused(compacted: Path):
    (compacted / LOG_FILE).write_text("")

    assert_refused(compacted, "it has no header")


def test_a_removed_log_is_refused_while_its_marker_remains(compacted: Path):
    (compacted / LOG_FILE).unlink()

    assert_refused(compacted, "it is missing")


def test_a_garbled_line_in_the_middle_is_refused(compacted: Path):
    log = compacted / LOG_FILE
    lines = log.read_text().splitlines(keepends=True)
    lines[len(lines) // 2] = "\x00\x17 garbage\n"
    log.write_text("".join(lines))

    assert_refused(compacted, f"line {len(lines) // 2 + 1} is not JSON")


def test_a_line_lost_from_the_appended_changes_is_refused(appended: Path):
    log = appended / LOG_FILE
    lines = log.read_text().splitlines(keepends=True)
    del lines[len(lines) // 2]
    log.write_text("".join(lines))

    assert_refused(appended, "where change .* should be")


def test_an_unreadable_checkpoint_file_is_refused(compacted: Path):
    (compacted / CHECKPOINT_FILE).write_text("{not json")

    assert_refused(compacted, f"{CHECKPOINT_FILE} beside it is unreadable")


def test_accepting_the_loss_loads_what_is_left_keeps_a_copy_and_starts_clean_afterwards(compacted: Path):
    log = compacted / LOG_FILE
    cut_to_half(log)
    damaged = log.read_bytes()

    left = stored(compacted, accept_data_loss=True)

    assert 0 < len(left) < ITEMS and left <= set(names(0, ITEMS))
    (copy,) = compacted.glob(f"{LOG_FILE}.damaged-*")
    assert copy.read_bytes() == damaged
    assert stored(compacted) == left


def test_a_log_of_the_previous_format_is_trusted_once_and_rewritten_with_a_header_and_marker(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    record = {
        "eventName": "INSERT",
        "dynamodb": {"Keys": key("b"), "NewImage": {**key("b"), "n": {"S": "b"}}, "SequenceNumber": "8"},
    }
    lines = [{"sequence": 7}, {"item": {**key("a"), "n": {"S": "a"}}}, {"record": record}]
    (data / LOG_FILE).write_text("".join(json.dumps(line) + "\n" for line in lines))
    (data / CHECKPOINT_FILE).write_text(json.dumps({"dispatch_jobs": 8}))

    assert stored(data) == {"a", "b"}

    header = json.loads((data / LOG_FILE).read_text().splitlines()[0])
    assert header == {"format": 2, "sequence": 8, "items": 2, "records": 0}
    assert json.loads((data / MARKER_FILE).read_text())["sequence"] == 8
    cut_to_half(data / LOG_FILE)
    assert_refused(data, "items its header counts")


def test_a_write_cut_short_by_a_crash_is_still_dropped_quietly(appended: Path):
    with (appended / LOG_FILE).open("a") as log:
        log.write('{"record": {"eventName": "INS')

    assert stored(appended) == set(names(0, ITEMS))

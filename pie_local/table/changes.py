"""The embedded table's change log: its stream, owned by PIE, and optionally its data on disk.

DynamoDB emits one stream record per item a *successful* request changed, in order. Moto's own
stream does not hold to that: a cancelled transaction briefly leaves records behind and then swaps
the whole table (and its stream) for a deep copy, so an iterator into it goes dead. The embedded
table (``pie_local.table.dynamodb``) therefore hands every committed request's item changes to a
``ChangeLog``, and nothing else: a refused or cancelled request appends nothing.

Each record gets a sequence number and the Lambda DynamoDB-stream format the dispatcher reads.
Readers (``pie_local.table.stream.TableStream``) read after a sequence number and acknowledge what they
delivered; records every registered reader acknowledged, or older than 24 hours (DynamoDB's stream
retention), are dropped from memory.

With a ``path``, the log is also the table's durable copy. Each committed change is appended as one
JSON line and flushed to the operating system, then (unless ``fsync`` is off) forced to the disk
before the request returns: flushed, it survives ``kill -9``; forced, a power cut too. The lines
are written under the table's lock, the fsync after it (``sync``): writers waiting at once share
one fsync (group commit), and nobody waits for the disk while holding the table. At start the file is folded into the items it
describes, the table is loaded from them, and the file is rewritten compacted: a header, the live
items, then the records no reader has acknowledged yet, which are delivered again. Acknowledgements
are kept in a small checkpoint file beside it.

A damaged log is refused rather than loaded (``DataDirectoryDamagedError``): the compaction at
start would make whatever it lost permanent. The header counts the items and records of the
compacted part; the changes appended after it are numbered one after the other; a marker file,
rewritten at each compaction and at a clean stop, says up to which change the log reached; and the
checkpoints say up to which change the stream was delivered. A log cut short, emptied, removed or
with lines lost or garbled in the middle fails one of these. (Changes appended since the last stop
and not yet delivered, cut from the end, cannot be told from changes never written.) A log of the
previous format, with no header counts and no marker, is trusted once and rewritten in this one.
"""

from __future__ import annotations

import base64
import collections
import fcntl
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.data.table import PARTITION_KEY, SORT_KEY

log = logging.getLogger(__name__)

RETENTION_SECONDS = 24 * 60 * 60
# The file is rewritten once the change lines appended since it was last rewritten outnumber the
# live items by this much (and this many at least), so it stays within a small multiple of the
# table's size plus the records not yet delivered.
COMPACT_AFTER_LINES = 5_000
COMPACT_RATIO = 2
LOG_FILE = "table.jsonl"
CHECKPOINT_FILE = "stream-checkpoints.json"
LOCK_FILE = "lock"
MARKER_FILE = "table.marker.json"
# The log's format: 2 has a header with counts and a marker file; 1 (no "format") has neither.
LOG_FORMAT = 2


class DataDirectoryInUseError(RuntimeError):
    """Another process keeps its table in this data directory; two writers would corrupt it."""


class DataDirectoryDamagedError(RuntimeError):
    """The data directory lost or garbled data; starting on it would make the loss permanent."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path} is damaged: {problem}")
        self.path = path
        self.problem = problem


Image = dict[str, Any]


@dataclass(frozen=True)
class Change:
    """One item a committed request changed: its key and its images before and after."""

    keys: Image
    old: Image | None
    new: Image | None


@dataclass
class Loaded:
    """What a data directory holds: the live items and the records still to be delivered."""

    items: list[Image] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    last_sequence: int = 0
    checkpoints: dict[str, int] = field(default_factory=dict)


class ChangeLog:
    """Committed item changes of one table, in order, as Lambda stream records."""

    def __init__(
        self,
        stream_arn: str,
        region: str,
        *,
        data_dir: Path | None = None,
        fsync: bool = True,
        retention_seconds: float = RETENTION_SECONDS,
        accept_data_loss: bool = False,
    ) -> None:
        """``accept_data_loss``: load what a damaged data directory still holds (keeping a copy
        of its log beside it) instead of refusing it."""
        self.stream_arn = stream_arn
        self._accept_data_loss = accept_data_loss
        self._region = region
        self._data_dir = data_dir
        self._fsync = fsync
        self._retention = retention_seconds
        self._condition = threading.Condition()
        self._wakeups = 0
        self._records: collections.deque[dict[str, Any]] = collections.deque()
        self._last_sequence = 0
        # The last record readers may see: with fsync, only what is on disk, so that no consumer
        # acts on a change a crash could still take back.
        self._visible = 0
        self._checkpoints: dict[str, int] = {}
        # The checkpoint file is written outside ``_condition`` (writers do not wait on it), one
        # snapshot at a time, numbered so that an older one never replaces a newer one.
        self._checkpoint_file = threading.Lock()
        self._checkpoint_snapshots = 0
        self._checkpoints_written = 0
        self._readers: set[str] = set()
        self._file: Any = None
        self._lock: Any = None
        self._closed = False
        self._change_lines = 0
        self._live_items = 0
        # Each live item's line in a compacted log, by its key (kept only with a data directory).
        self._item_lines: dict[str, str] = {}
        # A compaction under way behind the writes, and the lines appended since its cut.
        self._compacting: threading.Thread | None = None
        self._since_cut: list[str] | None = None
        # Group commit: the last change known to be on disk, whether a writer is forcing the file
        # there now, and how many fsyncs that took.
        self._disk = threading.Condition()
        self._synced = 0
        self._syncing = False
        self.fsyncs = 0

    # Persistence ---------------------------------------------------------------------------------

    def load(self) -> list[Image]:
        """Read the data directory (if any): returns the live items; keeps undelivered records."""
        if self._data_dir is None:
            return []
        self._data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = (self._data_dir / LOCK_FILE).open("w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            self._lock = None
            raise DataDirectoryInUseError(
                f"{self._data_dir} is in use by another pie-local; stop it, or choose another --data-dir"
            ) from None
        loaded = _read_data(self._data_dir, accept_data_loss=self._accept_data_loss)
        self._last_sequence = self._visible = loaded.last_sequence
        self._checkpoints = loaded.checkpoints
        self._records.extend(loaded.pending)
        return loaded.items

    def open(self, live: Iterable[Image] = ()) -> None:
        """Start appending to the data directory, compacting it first to the ``live`` items.

        From then on the log keeps each live item's line as its last change left it, so a later
        compaction writes lines it already has instead of walking and serializing the table while
        the request that triggered it waits (9,000 items: 850 ms).
        """
        if self._data_dir is not None:
            self._item_lines = {_identity(item, None): json.dumps({"item": item}) for item in live}
            self._compact()

    def close(self) -> None:
        """Stop keeping changes: a write after this fails rather than go unrecorded."""
        self.finish_compaction()
        # The checkpoint file's lock first: a checkpoint being written is finished before the data
        # directory is given up, one acknowledged but not yet written is written now, and none is
        # written after.
        with self._checkpoint_file, self._condition:
            self._closed = True
            if self._data_dir is not None and self._checkpoint_snapshots > self._checkpoints_written:
                _write_checkpoints(self._data_dir, dict(self._checkpoints), self._fsync)
                self._checkpoints_written = self._checkpoint_snapshots
            if self._file is not None:
                # A clean stop: the log holds every change up to the last, and the marker says so.
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()
                self._file = None
                assert self._data_dir is not None
                _write_marker(self._data_dir, self._last_sequence, self._fsync)
                self._synced_up_to(self._last_sequence)
            if self._lock is not None:
                self._lock.close()  # releases the lock
                self._lock = None
            self._condition.notify_all()

    def finish_compaction(self) -> None:
        """Wait for a compaction under way (if any) to end."""
        thread = self._compacting
        if thread is not None:
            thread.join()

    def _compact(self) -> None:
        """Rewrite the log as the live items and undelivered records, now (at start)."""
        with self._condition:
            cut = self._cut()
            self._write_compacted(cut)
            self._swap(cut, [])

    def _compact_behind(self) -> None:
        """Start rewriting the log on a thread of its own, from a cut taken now (the caller holds
        ``_condition``): the write that crossed the threshold, and every write after it, go on
        while the bulk of the new log is written and forced to disk. The lines appended meanwhile
        are added to it before it replaces the old one, which until then holds everything."""
        cut = self._cut()
        self._since_cut = []

        def compact() -> None:
            try:
                self._write_compacted(cut)
                with self._condition:
                    if not self._closed and self._since_cut is not None:
                        self._swap(cut, self._since_cut)
            except Exception:  # the old log still holds everything: it grows until the next try
                log.exception("compacting the local table's log failed; the next threshold tries again")
            finally:
                # A log left half written goes before the next compaction may start writing one.
                self._compacting_path().unlink(missing_ok=True)
                with self._condition:
                    self._since_cut = None
                    self._compacting = None

        self._compacting = threading.Thread(target=compact, name="pie-local-compaction", daemon=True)
        self._compacting.start()

    def _compacting_path(self) -> Path:
        assert self._data_dir is not None
        return (self._data_dir / LOG_FILE).with_suffix(".compacting")

    def _cut(self) -> tuple[int, list[str], list[str]]:
        """What a compaction writes, taken under ``_condition``: the change it reaches, the live
        items' lines and the undelivered records' lines."""
        records = [json.dumps({"record": record}) for record in self._records]
        return self._last_sequence, list(self._item_lines.values()), records

    def _write_compacted(self, cut: tuple[int, list[str], list[str]]) -> None:
        sequence, items, records = cut
        header = {"format": LOG_FORMAT, "sequence": sequence, "items": len(items), "records": len(records)}
        with self._compacting_path().open("w", encoding="utf-8") as output:
            output.write(json.dumps(header) + "\n")
            for line in items:
                output.write(line + "\n")
            for line in records:
                output.write(line + "\n")
            output.flush()
            os.fsync(output.fileno())

    def _swap(self, cut: tuple[int, list[str], list[str]], since: list[str]) -> None:
        """Put the compacted log in the old one's place, with ``since`` (the lines appended after
        the cut) at its end; the caller holds ``_condition``, so nothing is appended meanwhile."""
        assert self._data_dir is not None
        temporary = self._compacting_path()
        if since:
            with temporary.open("a", encoding="utf-8") as output:
                output.write("\n".join(since) + "\n")
                output.flush()
                os.fsync(output.fileno())
        # Renamed over the old log while that is still open: if the rename fails, writes go on to
        # the old log, which holds everything.
        os.replace(temporary, self._data_dir / LOG_FILE)
        if self._fsync:
            # The rename too: until the directory is on disk, a power cut could bring back the old
            # log, without the lines appended since its last fsync that the new one holds.
            _fsync_directory(self._data_dir)
        old, self._file = self._file, (self._data_dir / LOG_FILE).open("a", encoding="utf-8")
        if old is not None:
            old.close()
        _write_marker(self._data_dir, self._last_sequence, self._fsync)
        self._live_items = len(cut[1])
        self._change_lines = len(since)
        self._synced_up_to(self._last_sequence)  # the rewritten file was forced to disk

    # Writing -------------------------------------------------------------------------------------

    def append(self, changes: list[Change]) -> int:
        """Record one committed request's changes, flushed to the operating system when persistent;
        returns the sequence number of the last, which ``sync`` takes."""
        if not changes:
            return 0
        now = time.time()
        with self._condition:
            if self._closed:
                raise RuntimeError("the local table is shut down; the write was not kept")
            lines = []
            for change in changes:
                self._last_sequence += 1
                # Each image is serialized once: for the record's size, its line and the item's line.
                new = None if change.new is None else json.dumps(change.new, default=_base64)
                line = self._record_line(change, self._last_sequence, now, new)
                lines.append(line)
                # Readers get their own copy, decoded from the line, so nothing they hold shares
                # structure with the table's items.
                self._records.append(json.loads(line)["record"])
                if self._data_dir is not None:
                    identity = _identity(None, change.keys)
                    if new is None:
                        self._item_lines.pop(identity, None)
                    else:
                        self._item_lines[identity] = '{"item": ' + new + "}"
            if self._file is not None:
                self._file.write("\n".join(lines) + "\n")
                self._file.flush()
                self._change_lines += len(lines)
                if self._since_cut is not None:
                    self._since_cut.extend(lines)
                elif self._change_lines > max(COMPACT_AFTER_LINES, COMPACT_RATIO * self._live_items):
                    self._compact_behind()
            self._trim(now)
            written = self._last_sequence
            if not self._durable:
                self._visible = written
                self._condition.notify_all()
        return written

    def sync(self, sequence: int) -> None:
        """Return once change ``sequence`` is on disk (with ``fsync``; at once without).

        Group commit: one writer forces the file to disk while the others wait; the fsync covers
        every line written before it began, so writers that appended meanwhile usually find their
        change already there. Called after the table's lock is released, so reads and other
        writes go on while the disk works.
        """
        if not self._durable or sequence <= 0:
            return
        with self._disk:
            while self._synced < sequence and self._syncing:
                self._disk.wait()
            if self._synced >= sequence:
                return
            self._syncing = True
        reached, descriptor = 0, None
        try:
            with self._condition:
                reached = self._last_sequence
                # A copy of the descriptor: a compaction may close the file meanwhile (and force
                # the new one to disk itself).
                descriptor = os.dup(self._file.fileno()) if self._file is not None else None
            if descriptor is not None:
                try:
                    os.fsync(descriptor)
                finally:
                    os.close(descriptor)
        except BaseException:
            reached = 0
            raise
        finally:
            with self._disk:
                self._syncing = False
                if reached:
                    self.fsyncs += descriptor is not None
                    self._synced = max(self._synced, reached)
                self._disk.notify_all()
            if reached:
                self._publish(reached)  # after the disk's lock: _condition is always taken first

    @property
    def _durable(self) -> bool:
        """Whether a change is visible only once it is on disk (``sync``)."""
        return self._fsync and self._data_dir is not None

    def _publish(self, sequence: int) -> None:
        """Let readers see the records up to ``sequence``, and wake those waiting."""
        with self._condition:
            if sequence > self._visible:
                self._visible = min(sequence, self._last_sequence)
                self._condition.notify_all()

    def _synced_up_to(self, sequence: int) -> None:
        self._publish(sequence)
        with self._disk:
            self._synced = max(self._synced, sequence)
            self._disk.notify_all()

    def _record_line(self, change: Change, sequence: int, now: float, new: str | None) -> str:
        """The log line of ``change``'s stream record, as ``json.dumps({"record": ...})`` writes it,
        its NewImage given already serialized (``new``)."""
        if change.old is None:
            event_name = "INSERT"
        elif change.new is None:
            event_name = "REMOVE"
        else:
            event_name = "MODIFY"
        dynamodb = (
            f'{{"ApproximateCreationDateTime": {json.dumps(now)}, "Keys": {json.dumps(change.keys, default=_base64)}, '
            f'"SequenceNumber": {json.dumps(sequence_number(sequence))}, "StreamViewType": "NEW_AND_OLD_IMAGES"'
        )
        if new is not None:
            dynamodb += f', "NewImage": {new}'
        if change.old is not None:
            dynamodb += f', "OldImage": {json.dumps(change.old, default=_base64)}'
        # The size of the record's dynamodb part without its size, as it was measured before.
        dynamodb += f', "SizeBytes": {len(dynamodb) + 1}}}'
        record = {
            "eventID": uuid.uuid4().hex,
            "eventName": event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self._region,
            "eventSourceARN": self.stream_arn,
        }
        return f'{{"record": {json.dumps(record)[:-1]}, "dynamodb": {dynamodb}}}}}'

    # Reading -------------------------------------------------------------------------------------

    def register(self, reader: str) -> int:
        """Make ``reader`` one whose acknowledgements hold records; returns where it left off."""
        with self._condition:
            self._readers.add(reader)
            return self._checkpoints.get(reader, self._first_sequence() - 1)

    def horizon(self) -> int:
        """The sequence number just before the oldest record still held (TRIM_HORIZON)."""
        with self._condition:
            return self._first_sequence() - 1

    def read(self, after: int, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` visible records with sequence numbers above ``after``, oldest first."""
        with self._condition:
            if not self._records:
                return []
            first = self._first_sequence()
            start = max(0, after + 1 - first)
            end = min(len(self._records), start + limit, self._visible - first + 1)
            return [self._records[index] for index in range(start, end)]

    def wait(self, after: int, timeout: float) -> bool:
        """Block until a visible record after ``after`` exists, or ``timeout`` passes; True if one does."""
        with self._condition:
            woken = self._wakeups
            self._condition.wait_for(lambda: self._visible > after or self._wakeups != woken, timeout)
            return self._visible > after

    def wake(self) -> None:
        """Release every reader blocked in ``wait`` (they see no new record and may stop)."""
        with self._condition:
            # wait_for re-checks its predicate on every notification: only a new count ends it.
            self._wakeups += 1
            self._condition.notify_all()

    def acknowledge(self, reader: str, sequence: int) -> None:
        """``reader`` has delivered everything up to ``sequence``; persisted when durable."""
        with self._condition:
            if sequence <= self._checkpoints.get(reader, 0):
                return
            self._checkpoints[reader] = sequence
            self._trim(time.time())
            if self._data_dir is None:
                return
            self._checkpoint_snapshots += 1
            number, snapshot = self._checkpoint_snapshots, dict(self._checkpoints)
        # A crash before the file is written only makes the stream deliver these records again.
        with self._checkpoint_file:
            if number > self._checkpoints_written and not self._closed:
                _write_checkpoints(self._data_dir, snapshot, self._fsync)
                self._checkpoints_written = number

    def __len__(self) -> int:
        with self._condition:
            return len(self._records)

    def _first_sequence(self) -> int:
        if self._records:
            return int(self._records[0]["dynamodb"]["SequenceNumber"])
        return self._last_sequence + 1

    def _trim(self, now: float) -> None:
        # Every reader that ever acknowledged holds its records, registered yet or not: at start the
        # readers register one after the other, and the first must not drop what the next has not
        # read (a reader that is gone for good holds them for the retention, as DynamoDB's would).
        readers = self._readers | self._checkpoints.keys()
        consumed = min((self._checkpoints.get(reader, 0) for reader in readers), default=0)
        expired = now - self._retention
        while self._records:
            oldest = self._records[0]["dynamodb"]
            if int(oldest["SequenceNumber"]) <= consumed or oldest["ApproximateCreationDateTime"] <= expired:
                self._records.popleft()
            else:
                break

    def __deepcopy__(self, memo: dict[int, Any]) -> ChangeLog:
        # Moto deep-copies tables for backups; the copy shares the one log, it does not fork it.
        return self


def _base64(value: Any) -> str:
    """A binary value as DynamoDB's JSON carries it (moto holds it as bytes): base64 text."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not a DynamoDB value")


def sequence_number(sequence: int) -> str:
    """DynamoDB-like: a decimal string whose string order is its numeric order."""
    return f"{sequence:021d}"


def _read_data(data_dir: Path, *, accept_data_loss: bool = False) -> Loaded:
    """The items and undelivered records the data directory holds; DataDirectoryDamagedError
    when it shows a loss, unless ``accept_data_loss`` (then what can be read, with a warning)."""
    path = data_dir / LOG_FILE
    problems: list[str] = []
    marker = _read_marker(data_dir, problems)
    checkpoints = _read_checkpoints(data_dir, problems)
    if path.exists():
        lines = path.read_bytes().split(b"\n")
    else:
        lines = []
        if marker is not None:
            problems.append(f"it is missing, though {MARKER_FILE} says it held the table up to change {marker}")
    log_reading = _LogReading(min(checkpoints.values(), default=0))
    for number, line in enumerate(lines, start=1):
        if not line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            if number == len(lines):
                # A write cut short by a crash: never acknowledged, so it is dropped.
                log.warning("ignoring the incomplete last line of %s", path)
                continue
            problems.append(f"line {number} is not JSON")
            continue
        problem = log_reading.add(entry)
        if problem is not None:
            problems.append(f"line {number} {problem}")
    problems += log_reading.problems(marker, checkpoints)
    if problems:
        if not accept_data_loss:
            more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
            raise DataDirectoryDamagedError(path, problems[0] + more)
        _keep_damaged_copy(path, problems)
    last_sequence = log_reading.last_sequence
    if problems or log_reading.trusted_once:
        # A checkpoint past the log's end would hide the records appended after it.
        checkpoints = {reader: min(sequence, last_sequence) for reader, sequence in checkpoints.items()}
    return Loaded(list(log_reading.items.values()), log_reading.records, last_sequence, checkpoints)


class _LogReading:
    """The log's entries, folded into the items and records they describe, with what they
    contradict (a header's counts, the numbering of the changes)."""

    def __init__(self, delivered: int) -> None:
        self._delivered = delivered
        self.items: dict[str, Image] = {}
        self.records: list[dict[str, Any]] = []
        self.last_sequence = 0
        self._header: dict[str, Any] | None = None
        self._entries = 0
        self._items_seen = 0
        self._records_seen = 0
        self._compacted_up_to = 0
        self._next_change: int | None = None

    def add(self, entry: Any) -> str | None:
        """Fold one line's entry in; what is wrong with it, if anything."""
        self._entries += 1
        try:
            if "sequence" in entry:
                return self._read_header(entry)
            if "item" in entry:
                self.items[_identity(_keyed(entry["item"]), None)] = entry["item"]
                self._items_seen += 1
                return None
            return self._read_record(entry["record"])
        except (KeyError, TypeError, ValueError, AttributeError):
            return "is not an entry of the table's log"

    def _read_header(self, entry: dict[str, Any]) -> str | None:
        if self._entries != 1:
            return "is a header in the middle of the log"
        self._header = entry
        self.last_sequence = self._compacted_up_to = int(entry["sequence"])
        if "format" in entry:
            entry["items"], entry["records"] = int(entry["items"]), int(entry["records"])
            self._next_change = self.last_sequence + 1
        return None

    def _read_record(self, record: dict[str, Any]) -> str | None:
        change = record["dynamodb"]
        identity = _identity(None, _keyed(change["Keys"]))
        sequence = int(change["SequenceNumber"])
        problem = None
        if self._next_change is not None:
            # The compacted part's records come first, up to the header's sequence; the changes
            # appended since follow it one by one.
            if sequence <= self._compacted_up_to:
                self._records_seen += 1
            elif sequence != self._next_change:
                problem = f"holds change {sequence} where change {self._next_change} should be"
            self._next_change = max(self._next_change, sequence + 1)
        if "NewImage" in change:
            self.items[identity] = _keyed(change["NewImage"])
        else:
            self.items.pop(identity, None)
        self.last_sequence = max(self.last_sequence, sequence)
        if sequence > self._delivered:
            self.records.append(record)
        return problem

    def problems(self, marker: int | None, checkpoints: dict[str, int]) -> list[str]:
        """What the log as a whole contradicts: its header, the marker, the checkpoints."""
        found = []
        header = self._header
        if header is None:
            if marker is not None:
                found.append(f"it has no header, though {MARKER_FILE} says it held the table up to change {marker}")
            return found
        if "format" in header:
            if self._items_seen != header["items"]:
                found.append(f"it holds {self._items_seen} of the {header['items']} items its header counts")
            if self._records_seen != header["records"]:
                found.append(f"it holds {self._records_seen} of the {header['records']} records its header counts")
        elif marker is not None:
            found.append(f"it is in the previous format, though {MARKER_FILE} says it was rewritten since")
        else:
            return found  # the previous format, trusted once
        if marker is not None and self.last_sequence < marker:
            found.append(
                f"it ends at change {self.last_sequence}, though {MARKER_FILE} says it reached change {marker}"
            )
        delivered = max(checkpoints.values(), default=0)
        if self.last_sequence < delivered:
            found.append(f"it ends at change {self.last_sequence}, though the stream was delivered up to {delivered}")
        return found

    @property
    def trusted_once(self) -> bool:
        """A log of the previous format: nothing to check it against."""
        return self._header is None or "format" not in self._header


def _keyed(image: Any) -> Image:
    """An item image with its string keys; ValueError otherwise."""
    if not all(
        isinstance(image.get(name), dict) and isinstance(image[name].get("S"), str)
        for name in (PARTITION_KEY, SORT_KEY)
    ):
        raise ValueError("no key")
    return image


def _keep_damaged_copy(path: Path, problems: list[str]) -> None:
    for problem in problems:
        log.warning("%s is damaged: %s", path, problem)
    if path.exists():
        copy = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
        shutil.copy2(path, copy)
        log.warning("loading what %s still holds (--accept-data-loss); the damaged log is kept as %s", path, copy)


def _identity(item: Image | None, keys: Image | None) -> str:
    source = keys if keys is not None else item
    assert source is not None
    return json.dumps([source.get(name) for name in (PARTITION_KEY, SORT_KEY)])


def _read_checkpoints(data_dir: Path, problems: list[str]) -> dict[str, int]:
    path = data_dir / CHECKPOINT_FILE
    if not path.exists():
        return {}
    try:
        return {reader: int(sequence) for reader, sequence in json.loads(path.read_bytes()).items()}
    except (ValueError, TypeError, AttributeError):
        problems.append(f"{CHECKPOINT_FILE} beside it is unreadable")
        return {}


def _read_marker(data_dir: Path, problems: list[str]) -> int | None:
    """The change the log reached when it was last rewritten or closed; None for a data
    directory that has none (new, or written by the previous format)."""
    path = data_dir / MARKER_FILE
    if not path.exists():
        return None
    try:
        marker = json.loads(path.read_bytes())
        return int(marker["sequence"])
    except (ValueError, TypeError, KeyError):
        problems.append(f"{MARKER_FILE} beside it is unreadable")
        return None


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_marker(data_dir: Path, sequence: int, durable: bool) -> None:
    _write_atomically(data_dir / MARKER_FILE, json.dumps({"format": LOG_FORMAT, "sequence": sequence}), durable)


def _write_checkpoints(data_dir: Path, checkpoints: dict[str, int], durable: bool) -> None:
    _write_atomically(data_dir / CHECKPOINT_FILE, json.dumps(checkpoints), durable)


def _write_atomically(path: Path, text: str, durable: bool) -> None:
    """Replace ``path`` with ``text`` whole. ``durable``: on disk when this returns, the file before
    its name (a file renamed before its content reaches the disk can come back empty after a power
    cut, and an empty marker or checkpoint file reads as a damaged log)."""
    temporary = path.with_suffix(".writing")
    with temporary.open("w", encoding="utf-8") as output:
        output.write(text)
        if durable:
            output.flush()
            os.fsync(output.fileno())
    os.replace(temporary, path)
    if durable:
        _fsync_directory(path.parent)

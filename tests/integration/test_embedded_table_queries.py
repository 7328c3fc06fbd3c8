"""The embedded table answers a Query from the sorted members of the one partition it reads, cut to
the page: what it answers must be exactly what moto itself answers, and a page must cost its items,
not the partition's."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from moto_replay import ALL_PAGES, replay

from pie_local.settings import LOCAL_TABLE_NAME
from pie_local.table.dynamodb import embedded_dynamodb

NAME = LOCAL_TABLE_NAME
ROOT = Path(__file__).resolve().parents[2]
# The ways to query the table: its own key and three of its indexes (partition key, sort key).
VIEWS: dict[str | None, tuple[str, str]] = {
    None: ("PK", "SK"),
    "LSI1": ("PK", "LSI1SK"),
    "GSI1": ("GSI1PK", "GSI1SK"),
    "GSI2": ("GSI2PK", "GSI2SK"),
}
# A partition whose sort keys are numbers, which DynamoDB would refuse and moto keeps.
ODD = "g2-odd"
PARTITIONS = {
    "PK": ["p0", "p1", "p2", "p3"],
    "GSI1PK": ["g1-0", "g1-1", "g1-2"],
    "GSI2PK": ["g2-0", "g2-1", ODD],
}
Call = tuple[str, dict[str, Any]]
ABSENT = "attribute_not_exists(PK)"


def s(value: str) -> dict[str, str]:
    return {"S": value}


def word(rng: random.Random) -> str:
    """Short words over a small alphabet: many equal sort keys, and many that prefix others."""
    return "".join(rng.choice("abc") for _ in range(rng.randint(1, 3)))


def random_item(rng: random.Random) -> dict[str, Any]:
    size = rng.randint(150_000, 390_000) if rng.random() < 0.03 else rng.randint(0, 40)
    item = {
        "PK": s(rng.choice(PARTITIONS["PK"])),
        "SK": s(word(rng)),
        "n": {"N": str(rng.randrange(10))},
        "doc": s("d" * size),
    }
    for partition, sort in (("GSI1PK", "GSI1SK"), ("GSI2PK", "GSI2SK")):
        if rng.random() < 0.8:
            item[partition] = s(rng.choice(PARTITIONS[partition]))
        if rng.random() < 0.85:
            item[sort] = s(word(rng))
    if rng.random() < 0.7:
        item["LSI1SK"] = s(word(rng))
    if item.get("GSI2PK") == s(ODD) and "GSI2SK" in item:
        item["GSI2SK"] = {"N": str(rng.randrange(5))}
    return item


def key_of(item: dict[str, Any]) -> dict[str, Any]:
    return {"PK": item["PK"], "SK": item["SK"]}


def identity(item: dict[str, Any]) -> tuple[str, str]:
    return item["PK"]["S"], item["SK"]["S"]


class Workload:
    """Random writes and queries, with a rough model of the items (enough to aim at existing ones)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls: list[Call] = []

    def existing(self) -> dict[str, Any]:
        return self.rng.choice(list(self.items.values())) if self.items else random_item(self.rng)

    def put(self) -> None:
        item = random_item(self.rng)
        self.items[identity(item)] = item
        self.calls.append(("put_item", {"TableName": NAME, "Item": item}))

    def move(self) -> None:
        """Into another partition of an index, or out of one."""
        item = dict(self.existing())
        rng = self.rng
        if rng.random() < 0.3:
            attribute = rng.choice(["GSI1SK", "GSI2PK", "LSI1SK"])
            item.pop(attribute, None)
            request = {"UpdateExpression": f"REMOVE {attribute}"}
        else:
            partition, sort = s(rng.choice(PARTITIONS["GSI1PK"])), s(word(rng))
            item["GSI1PK"], item["GSI1SK"] = partition, sort
            request = {
                "UpdateExpression": "SET GSI1PK = :p, GSI1SK = :s",
                "ExpressionAttributeValues": {":p": partition, ":s": sort},
            }
        self.items[identity(item)] = item
        self.calls.append(("update_item", {"TableName": NAME, "Key": key_of(item), **request}))

    def delete(self) -> None:
        item = self.existing()
        self.items.pop(identity(item), None)
        self.calls.append(("delete_item", {"TableName": NAME, "Key": key_of(item)}))

    def refused_transaction(self) -> None:
        """Puts, moves and deletes that a failed condition cancels: nothing of it may show."""
        present = self.existing()
        moved, deleted = self.existing(), self.existing()
        actions = [
            {"Put": {"TableName": NAME, "Item": random_item(self.rng)}},
            {
                "Update": {
                    "TableName": NAME,
                    "Key": key_of(moved),
                    "UpdateExpression": "SET GSI1PK = :p, GSI2SK = :s",
                    "ExpressionAttributeValues": {":p": s("g1-0"), ":s": s(word(self.rng))},
                }
            },
            {"ConditionCheck": {"TableName": NAME, "Key": key_of(present), "ConditionExpression": ABSENT}},
        ]
        if identity(deleted) not in {identity(moved), identity(present)}:
            actions.insert(2, {"Delete": {"TableName": NAME, "Key": key_of(deleted)}})
        if identity(present) in self.items and identity(present) != identity(moved):
            self.calls.append(("transact_write_items", {"TransactItems": actions}))

    def refused_put(self) -> None:
        item = {**self.existing(), "GSI1PK": s("g1-1")}
        self.calls.append(("put_item", {"TableName": NAME, "Item": item, "ConditionExpression": ABSENT}))

    def query(self, all_pages: bool) -> None:
        rng = self.rng
        index = rng.choice(list(VIEWS))
        partition_key, sort_key = VIEWS[index]
        names = {"#p": partition_key}
        values = {":p": s(rng.choice([*PARTITIONS[partition_key], "nowhere"]))}
        condition = "#p = :p"
        odd = values[":p"] == s(ODD)  # moto cannot compare its numbers with a string
        comparison = None if odd else rng.choice([None, "=", "<", "<=", ">", ">=", "BETWEEN", "begins_with"])
        if comparison is not None:
            names["#s"] = sort_key
            values[":s"] = s(word(rng))
            if comparison == "BETWEEN":
                values[":t"] = s(word(rng))
                condition += " AND #s BETWEEN :s AND :t"
            elif comparison == "begins_with":
                condition += " AND begins_with(#s, :s)"
            else:
                condition += f" AND #s {comparison} :s"
        request: dict[str, Any] = {"TableName": NAME, "KeyConditionExpression": condition}
        if index is not None:
            request["IndexName"] = index
        request["ScanIndexForward"] = rng.random() < 0.5
        if rng.random() < 0.75:
            request["Limit"] = rng.randint(1, 6)
        if rng.random() < 0.25:
            if rng.random() < 0.5:
                request["FilterExpression"] = "n < :n"
                values[":n"] = {"N": str(rng.randrange(10))}
            else:
                request["FilterExpression"] = "attribute_exists(LSI1SK)"
        if rng.random() < 0.1:
            request["Select"] = "COUNT"
        elif rng.random() < 0.1:
            request["ProjectionExpression"] = "SK, n"
        if not all_pages and not odd and rng.random() < 0.5:
            request["ExclusiveStartKey"] = self.start_key(index)
        request["ExpressionAttributeNames"] = names
        request["ExpressionAttributeValues"] = values
        self.calls.append((ALL_PAGES if all_pages else "query", request))

    def start_key(self, index: str | None) -> dict[str, Any]:
        """An existing item's key in this index, or a made-up one (possibly of another partition)."""
        names = {"PK", "SK", *VIEWS[index]}
        item = self.existing()
        if self.rng.random() < 0.6 and names <= set(item):
            return {name: item[name] for name in names}
        rng = self.rng
        return {name: s(rng.choice(PARTITIONS[name]) if name in PARTITIONS else word(rng)) for name in names}

    def build(self, length: int) -> list[Call]:
        for _ in range(60):
            self.put()
        steps = [
            (self.put, 30),
            (self.move, 10),
            (self.delete, 8),
            (self.refused_transaction, 4),
            (self.refused_put, 3),
            (lambda: self.query(all_pages=False), 30),
            (lambda: self.query(all_pages=True), 12),
        ]
        while len(self.calls) < length:
            (step,) = self.rng.choices([step for step, _ in steps], weights=[weight for _, weight in steps])
            step()
        return self.calls


def pristine_moto(calls: list[Call]) -> list[Any]:
    finished = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("moto_replay.py"))],
        input=json.dumps({"table": NAME, "calls": calls}),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=300,
        check=True,
    )
    return json.loads(finished.stdout)


def assert_same_answers(calls: list[Call], ours: list[Any], moto: list[Any]) -> None:
    assert len(ours) == len(moto)
    for number, (call, mine, theirs) in enumerate(zip(calls, ours, moto, strict=True)):
        assert mine == theirs, f"call {number}: {call[0]} {json.dumps(call[1])[:600]}"


@pytest.mark.parametrize("seed", range(4))
def test_queries_answer_exactly_what_moto_answers_through_writes_moves_deletes_and_refusals(table, seed):
    calls = Workload(seed).build(400)
    assert sum(1 for operation, _ in calls if operation in ("query", ALL_PAGES)) > 100

    assert_same_answers(calls, replay(table, calls), pristine_moto(calls))


def test_an_answer_stops_before_1_mb_where_moto_stops_it_even_past_the_matching_items(table):
    """Moto keeps walking a partition past the last match only to stop where the answer would pass
    1 MB: two big matches and a big item after them give a LastEvaluatedKey, as in moto."""
    names = ("a1", "a2", "a3", "b1", "b2", "c1")
    partition = {"PK": s("big"), "GSI1PK": s("big")}
    calls: list[Call] = [
        ("put_item", {"TableName": NAME, "Item": {**partition, "SK": s(name), "LSI1SK": s(name), "GSI1SK": s(name)}})
        for name in names
    ]
    for _, request in calls:
        request["Item"]["doc"] = s(request["Item"]["SK"]["S"] * 170_000)
    for index, (partition_key, sort_key) in VIEWS.items():
        if index == "GSI2":
            continue
        for condition in ("begins_with(#s, :s)", "#s < :s", "#s > :s", "#s BETWEEN :s AND :t"):
            for forward in (True, False):
                for limit in (None, 2, 3, 10):
                    request: dict[str, Any] = {
                        "TableName": NAME,
                        "KeyConditionExpression": f"#p = :p AND {condition}",
                        "ExpressionAttributeNames": {"#p": partition_key, "#s": sort_key},
                        "ExpressionAttributeValues": {":p": s("big"), ":s": s("b")},
                        "ScanIndexForward": forward,
                    }
                    if ":t" in condition:
                        request["ExpressionAttributeValues"][":t"] = s("b9")
                    if index is not None:
                        request["IndexName"] = index
                    if limit is not None:
                        request["Limit"] = limit
                    calls.append((ALL_PAGES, request))

    answers = replay(table, calls)

    assert_same_answers(calls, answers, pristine_moto(calls))
    pages = [page for query in answers[len(names) :] for page in query]
    assert any(page["Count"] == 2 and "LastEvaluatedKey" in page for page in pages)


def test_after_a_restart_queries_answer_from_the_items_loaded_as_moto_does(tmp_path: Path):
    calls = Workload(7).build(300)
    writes = [call for call in calls if call[0] not in ("query", ALL_PAGES)]
    queries = [call for call in calls if call[0] in ("query", ALL_PAGES)]
    with embedded_dynamodb(NAME, data_dir=tmp_path) as client:
        replay(client, writes)

    with embedded_dynamodb(NAME, data_dir=tmp_path) as client:
        answers = replay(client, queries)

    assert_same_answers(queries, answers, pristine_moto(writes + queries)[len(writes) :])


def test_a_page_hands_moto_the_page_not_the_partition(table, monkeypatch: pytest.MonkeyPatch):
    from moto.dynamodb.models.table import Table

    sorted_sizes: list[int] = []
    sort = Table.sorted_items

    def counted(self: Any, hash_keys: Any, range_keys: Any, items: list[Any]) -> Any:
        sorted_sizes.append(len(items))
        return sort(self, hash_keys, range_keys, items)

    monkeypatch.setattr(Table, "sorted_items", counted)
    for batch in range(40):
        puts = [
            {"PutRequest": {"Item": {"PK": s(f"m{n:04d}"), "SK": s("A"), "GSI1PK": s("all"), "GSI1SK": s(f"{n % 7}")}}}
            for n in range(batch * 25, batch * 25 + 25)
        ]
        table.batch_write_item(RequestItems={NAME: puts})
    request: dict[str, Any] = {
        "TableName": NAME,
        "IndexName": "GSI1",
        "KeyConditionExpression": "GSI1PK = :p",
        "ExpressionAttributeValues": {":p": s("all")},
        "Limit": 51,
    }

    seen: list[str] = []
    while True:
        items = table.query(**request)["Items"]
        seen += [item["PK"]["S"] for item in items[:50]]
        if len(items) <= 50:
            break
        request["ExclusiveStartKey"] = {name: items[49][name] for name in ("PK", "SK", "GSI1PK", "GSI1SK")}

    assert len(seen) == len(set(seen)) == 1000
    assert seen == sorted(seen, key=lambda pk: (int(pk[1:]) % 7, pk))
    assert len(sorted_sizes) == 20 and max(sorted_sizes) == 51 + 1  # Limit, and the item after it

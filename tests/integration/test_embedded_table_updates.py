"""The embedded table applies a plain update (``SET #a = :a, ...`` and ``REMOVE #r, ...`` of whole
attributes, what PIE's data layer sends) without moto's expression machinery: what it answers must
be exactly what moto itself answers, and the stream must carry the item before and after."""

from __future__ import annotations

import random
from typing import Any

import pytest
from moto_replay import replay
from test_embedded_table_queries import NAME, Call, assert_same_answers, pristine_moto, s

from pie_local.table.dynamodb import table_changes

PARTITIONS = ["p0", "p1"]
GSI1 = ["g1-0", "g1-1", "g1-2"]


class Workload:
    """Puts, plain updates that hold or lose their condition (alone and in transactions), updates
    moto keeps for itself (arithmetic, nested paths, a new item), and reads after each."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.calls: list[Call] = []
        self.versions: dict[tuple[str, str], int] = {}

    def key(self) -> dict[str, Any]:
        return {"PK": s(self.rng.choice(PARTITIONS)), "SK": s(f"s{self.rng.randrange(6)}")}

    def put(self) -> None:
        key = self.key()
        item = {**key, "entity_version": {"N": "1"}, "doc": s("x" * self.rng.randrange(1, 40)), "tag": s("t")}
        if self.rng.random() < 0.6:
            item |= {"GSI1PK": s(self.rng.choice(GSI1)), "GSI1SK": s(f"k{self.rng.randrange(9)}")}
        self.calls.append(("put_item", {"TableName": NAME, "Item": item}))

    def plain_update(self) -> dict[str, Any]:
        names: dict[str, str] = {"#v": "entity_version"}
        values: dict[str, Any] = {":expected": {"N": str(self.rng.choice([1, 1, 2, 3]))}}
        assignments, removes = [], []
        chosen = self.rng.sample(
            ["doc", "status", "GSI1PK", "GSI1SK", "tag", "count", "list"], self.rng.randrange(1, 5)
        )
        for index, name in enumerate(chosen):
            names[f"#a{index}"] = name
            values[f":a{index}"] = self.value(name)
            assignments.append(f"#a{index} = :a{index}")
        if self.rng.random() < 0.4:
            gone = self.rng.choice([n for n in ("tag", "extra", "GSI1SK") if n not in chosen] or ["extra"])
            names["#r0"] = gone
            removes.append("#r0")
        expression = "SET " + ", ".join(assignments) + (" REMOVE " + ", ".join(removes) if removes else "")
        request = {
            "TableName": NAME,
            "Key": self.key(),
            "UpdateExpression": expression,
            "ConditionExpression": "#v = :expected" if self.rng.random() < 0.8 else "attribute_exists(PK)",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if request["ConditionExpression"] == "attribute_exists(PK)":
            del values[":expected"]
            del names["#v"]
        if self.rng.random() < 0.3:
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        return request

    def value(self, name: str) -> dict[str, Any]:
        if name == "count":
            return {"N": str(self.rng.randrange(-5, 50))}
        if name == "list":
            return {"L": [s("a"), {"N": "1"}, {"M": {"k": s("v")}}]}
        if name == "GSI1PK":
            return s(self.rng.choice(GSI1))
        return s(f"{name}-{self.rng.randrange(100)}")

    def update(self) -> None:
        request = self.plain_update()
        if self.rng.random() < 0.3:
            request["ReturnValues"] = self.rng.choice(["ALL_NEW", "ALL_OLD", "UPDATED_OLD", "UPDATED_NEW"])
        self.calls.append(("update_item", request))

    def transaction(self) -> None:
        updates = [self.plain_update() for _ in range(2)]
        for update in updates:
            update.pop("ReturnValuesOnConditionCheckFailure", None)
        if updates[0]["Key"] == updates[1]["Key"]:
            updates.pop()
        self.calls.append(("transact_write_items", {"TransactItems": [{"Update": u} for u in updates]}))

    def moto_path(self) -> None:
        """Updates the fast path leaves to moto: arithmetic, a nested path, a key attribute, a new item."""
        key = self.key()
        requests = [
            {"UpdateExpression": "SET #c = if_not_exists(#c, :zero) + :one", "ExpressionAttributeNames": {"#c": "count"},
             "ExpressionAttributeValues": {":zero": {"N": "0"}, ":one": {"N": "1"}}},
            {"UpdateExpression": "SET #m.#k = :v", "ExpressionAttributeNames": {"#m": "map", "#k": "k"},
             "ExpressionAttributeValues": {":v": s("v")}},
            {"UpdateExpression": "SET #k = :v", "ExpressionAttributeNames": {"#k": "SK"},
             "ExpressionAttributeValues": {":v": s("other")}},
            {"UpdateExpression": "SET #g = :v", "ExpressionAttributeNames": {"#g": "GSI1PK"},
             "ExpressionAttributeValues": {":v": s("")}},
        ]  # fmt: skip
        self.calls.append(("update_item", {"TableName": NAME, "Key": key, **self.rng.choice(requests)}))

    def read(self) -> None:
        if self.rng.random() < 0.5:
            self.calls.append(("get_item", {"TableName": NAME, "Key": self.key(), "ConsistentRead": True}))
        else:
            self.calls.append(
                (
                    "query",
                    {
                        "TableName": NAME,
                        "IndexName": "GSI1",
                        "KeyConditionExpression": "GSI1PK = :p",
                        "ExpressionAttributeValues": {":p": s(self.rng.choice(GSI1))},
                    },
                )
            )

    def build(self, length: int) -> list[Call]:
        steps = [(self.put, 3), (self.update, 6), (self.transaction, 2), (self.moto_path, 1), (self.read, 4)]
        while len(self.calls) < length:
            (step,) = self.rng.choices([step for step, _ in steps], weights=[weight for _, weight in steps])
            step()
        return self.calls


@pytest.mark.parametrize("seed", range(3))
def test_plain_updates_answer_exactly_what_moto_answers(table, seed):
    calls = Workload(seed).build(300)
    ours = replay(table, calls)
    moto = pristine_moto(calls)

    assert_same_answers(calls, ours, moto)
    updated = [answer for (operation, _), answer in zip(calls, ours, strict=True) if operation == "update_item"]
    assert sum(1 for answer in updated if "error" not in answer) > 20, "the workload must update items"
    assert sum(1 for answer in updated if answer.get("error") == "ConditionalCheckFailedException") > 5


def test_a_plain_update_records_the_item_before_and_after_on_the_stream(table):
    key = {"PK": s("p0"), "SK": s("s0")}
    table.put_item(TableName=NAME, Item={**key, "entity_version": {"N": "1"}, "doc": s("old"), "tag": s("t")})
    changes = table_changes(NAME)
    before = len(changes.read(0, 10_000))

    table.update_item(
        TableName=NAME,
        Key=key,
        UpdateExpression="SET #a0 = :a0, #a1 = :a1 REMOVE #r0",
        ConditionExpression="#a1 = :expected",
        ExpressionAttributeNames={"#a0": "doc", "#a1": "entity_version", "#r0": "tag"},
        ExpressionAttributeValues={":a0": s("new"), ":a1": {"N": "2"}, ":expected": {"N": "1"}},
    )

    records = changes.read(0, 10_000)[before:]
    assert len(records) == 1
    images = records[0]["dynamodb"]
    assert images["OldImage"] == {**key, "entity_version": {"N": "1"}, "doc": s("old"), "tag": s("t")}
    assert images["NewImage"] == {**key, "entity_version": {"N": "2"}, "doc": s("new")}


def test_a_plain_update_that_would_pass_the_size_limit_is_refused_and_changes_nothing(table):
    key = {"PK": s("p0"), "SK": s("s0")}
    table.put_item(TableName=NAME, Item={**key, "doc": s("small")})

    with pytest.raises(table.exceptions.ClientError) as refused:
        table.update_item(
            TableName=NAME,
            Key=key,
            UpdateExpression="SET #a0 = :a0",
            ExpressionAttributeNames={"#a0": "doc"},
            ExpressionAttributeValues={":a0": s("x" * 410_000)},
        )

    assert "maximum allowed size" in refused.value.response["Error"]["Message"]
    assert table.get_item(TableName=NAME, Key=key)["Item"]["doc"] == s("small")

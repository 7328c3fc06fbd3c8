"""Each piece of the embedded table's changes to moto (``pie_local.table.moto_patches``) on its own:
it replaces what it names, and a workload aimed at it answers exactly what pristine moto answers
(moto in its own process, unpatched); the one piece that differs from moto on purpose is held to
DynamoDB's rule instead. A moto release the patches were not written for stops the start."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from moto_replay import ALL_PAGES, WHOLE, replay
from test_embedded_table_queries import NAME, ROOT, Call, assert_same_answers, pristine_moto, s

from pie_local.table import moto_patches
from pie_local.table.moto_patches import PATCHES, PRISTINE, UnsupportedMotoError, check_moto_version, resolve


def item(partition: str, sort: str, **attributes: Any) -> dict[str, Any]:
    return {"PK": s(partition), "SK": s(sort), **attributes}


def put(partition: str, sort: str, **attributes: Any) -> Call:
    return ("put_item", {"TableName": NAME, "Item": item(partition, sort, **attributes)})


def get(partition: str, sort: str) -> Call:
    return ("get_item", {"TableName": NAME, "Key": {"PK": s(partition), "SK": s(sort)}})


def query(partition: str, **options: Any) -> Call:
    request = {
        "TableName": NAME,
        "KeyConditionExpression": "PK = :p",
        "ExpressionAttributeValues": {":p": s(partition)},
    }
    return ("query", request | options)


def query_index(index: str, key: str, value: str, **options: Any) -> Call:
    request = {
        "TableName": NAME,
        "IndexName": index,
        "KeyConditionExpression": f"{key} = :p",
        "ExpressionAttributeValues": {":p": s(value)},
    }
    return (ALL_PAGES, request | options)


def update(partition: str, sort: str, expression: str, names: dict, values: dict, **options: Any) -> Call:
    request = {
        "TableName": NAME,
        "Key": {"PK": s(partition), "SK": s(sort)},
        "UpdateExpression": expression,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
    return ("update_item", request | options)


def transaction(*writes: dict[str, Any]) -> Call:
    return ("transact_write_items", {"TransactItems": list(writes)})


def _atomic_requests() -> list[Call]:
    """A cancelled transaction and a refused conditional write change nothing; a committed one all."""
    condition = {"ConditionExpression": "attribute_not_exists(PK)"}
    return [
        put("atomic", "a", n={"N": "1"}),
        transaction(
            {"Put": {"TableName": NAME, "Item": item("atomic", "b")}},
            {"Put": {"TableName": NAME, "Item": item("atomic", "a", n={"N": "2"}), **condition}},
        ),
        ("put_item", {"TableName": NAME, "Item": item("atomic", "a", n={"N": "3"}), **condition}),
        query("atomic"),
        transaction(
            {"Put": {"TableName": NAME, "Item": item("atomic", "c")}},
            {"Delete": {"TableName": NAME, "Key": {"PK": s("atomic"), "SK": s("a")}}},
        ),
        query("atomic"),
    ]


def _no_table_backup() -> list[Call]:
    """Transactions over several items, cancelled at their last item or committed: the table is as
    moto leaves it, without moto's copy of it."""
    writes = [{"Put": {"TableName": NAME, "Item": item("backup", f"i{n}", v={"N": str(n)})}} for n in range(4)]
    refused = {
        "ConditionCheck": {
            "TableName": NAME,
            "Key": {"PK": s("backup"), "SK": s("missing")},
            "ConditionExpression": "attribute_exists(PK)",
        }
    }
    return [
        put("backup", "i0", v={"N": "9"}),
        transaction(*writes[1:], refused),
        query("backup"),
        transaction(*writes),
        query("backup"),
    ]


def _no_answer_copy() -> list[Call]:
    """An answer is not a view of the table: what a later write changes, an earlier answer kept."""
    return [
        put("answers", "a", doc=s("one"), tags={"L": [s("x")]}),
        query("answers"),
        put("answers", "a", doc=s("two"), tags={"L": [s("y"), s("z")]}),
        query("answers", ProjectionExpression="SK, tags"),
        query("answers"),
    ]


def _plain_updates() -> list[Call]:
    """SET and REMOVE of whole attributes, with their condition held, lost (with and without
    ALL_OLD) and on a missing item, and what each answers when asked for ALL_NEW."""
    names, values = {"#v": "version", "#d": "doc", "#t": "tag"}, {":v": {"N": "1"}, ":d": s("new")}
    return [
        put("updates", "a", version={"N": "1"}, doc=s("old"), tag=s("t"), GSI1PK=s("g-up"), GSI1SK=s("1")),
        update("updates", "a", "SET #d = :d REMOVE #t", names, values, ConditionExpression="#v = :v"),
        update(
            "updates",
            "a",
            "SET #d = :d",
            {"#v": "version", "#d": "doc"},
            {":v": {"N": "7"}, ":d": s("lost")},
            ConditionExpression="#v = :v",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        ),
        update(
            "updates",
            "a",
            "SET #d = :d",
            {"#v": "version", "#d": "doc"},
            {":v": {"N": "7"}, ":d": s("lost")},
            ConditionExpression="#v = :v",
        ),
        update("updates", "missing", "SET #d = :d", {"#d": "doc"}, {":d": s("made")}, ReturnValues="ALL_NEW"),
        update("updates", "a", "SET #g = :g", {"#g": "GSI1SK"}, {":g": s("2")}, ReturnValues="ALL_NEW"),
        query_index("GSI1", "GSI1PK", "g-up"),
        get("updates", "a"),
    ]


def _partition_queries() -> list[Call]:
    """Pages of a partition and of an index, both ways, from a start key, under sort-key conditions
    and a filter: each page holds what moto's whole-table walk would."""
    calls = [
        put("parts", f"{letter}{n}", GSI1PK=s("g-parts"), GSI1SK=s(f"{n}{letter}"), n={"N": str(n)})
        for letter in "abc"
        for n in range(4)
    ]
    calls += [put("other", "a0", GSI1PK=s("g-parts"), GSI1SK=s("0z"))]
    base = {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": s("parts")}}
    for options in (
        {"Limit": 2},
        {"Limit": 3, "ScanIndexForward": False},
        {
            "KeyConditionExpression": "PK = :p AND begins_with(SK, :b)",
            "ExpressionAttributeValues": {":p": s("parts"), ":b": s("b")},
            "Limit": 1,
        },
        {
            "KeyConditionExpression": "PK = :p AND SK BETWEEN :l AND :h",
            "ExpressionAttributeValues": {":p": s("parts"), ":l": s("a2"), ":h": s("c1")},
            "Limit": 2,
        },
        {"FilterExpression": "n > :two", "ExpressionAttributeValues": {":p": s("parts"), ":two": {"N": "2"}}},
    ):
        calls.append((ALL_PAGES, {"TableName": NAME, **base, **options}))
    calls.append(query_index("GSI1", "GSI1PK", "g-parts", Limit=4))
    calls.append(query_index("GSI1", "GSI1PK", "g-parts", Limit=5, ScanIndexForward=False))
    return calls


def _fast_sort() -> list[Call]:
    """The order of a partition whose sort keys are numbers (DynamoDB would refuse them; moto keeps
    them) and of equal index sort keys, told apart by the table's key, in pages from a start key."""
    calls = [put("sorting", f"s{n}", GSI2PK=s("g-num"), GSI2SK={"N": str(n % 5 * 10 - 7)}) for n in range(9)]
    calls += [put("sorting", f"t{n}", GSI1PK=s("g-same"), GSI1SK=s("same")) for n in range(5)]
    for forward in (True, False):
        calls.append(query_index("GSI2", "GSI2PK", "g-num", Limit=2, ScanIndexForward=forward))
        calls.append(query_index("GSI1", "GSI1PK", "g-same", Limit=2, ScanIndexForward=forward))
    return calls


def _string_equality() -> list[Call]:
    """Equality and inequality of strings, and of other types beside them, in conditions and filters."""
    calls = [
        put("equal", "a", state=s("on"), n={"N": "1"}),
        put("equal", "b", state=s("off"), n={"N": "1.0"}),
    ]
    for condition, values in (
        ("#x = :v", {":v": s("on")}),
        ("#x <> :v", {":v": s("on")}),
        ("#x = :v", {":v": {"N": "1"}}),
    ):
        calls.append(
            (
                "query",
                {
                    "TableName": NAME,
                    "KeyConditionExpression": "PK = :p",
                    "FilterExpression": condition,
                    "ExpressionAttributeNames": {"#x": "state" if "S" in values[":v"] else "n"},
                    "ExpressionAttributeValues": {":p": s("equal"), **values},
                },
            )
        )
    calls.append(
        update(
            "equal", "a", "SET #x = :w", {"#x": "state"}, {":v": s("off"), ":w": s("x")}, ConditionExpression="#x = :v"
        )
    )
    calls.append(
        update(
            "equal", "b", "SET #x = :w", {"#x": "state"}, {":v": s("off"), ":w": s("x")}, ConditionExpression="#x = :v"
        )
    )
    calls.append(query("equal"))
    return calls


def _string_size() -> list[Call]:
    """Strings measured for the item size limit (multi-byte characters too) and for the 1 MB page."""
    return [
        put("size", "fits", doc=s("d" * 390_000)),
        put("size", "over", doc=s("d" * 410_000)),
        put("size", "wide", doc=s("é" * 195_000)),
        put("size", "too-wide", doc=s("é" * 205_000)),
        put("size", "more", doc=s("d" * 380_000)),
        (ALL_PAGES, query("size")[1]),
    ]


def _json_answers() -> list[Call]:
    """Every kind of value a read can carry, through every read."""
    typed = {
        "text": s("é\u2028"),
        "number": {"N": "12.50"},
        "flag": {"BOOL": False},
        "nothing": {"NULL": True},
        "list": {"L": [s("a"), {"N": "1"}, {"M": {"k": s("v")}}]},
        "map": {"M": {"nested": {"L": []}}},
        "strings": {"SS": ["x", "y"]},
        "numbers": {"NS": ["1", "2.5"]},
    }
    keys = [{"PK": s("json"), "SK": s(sort)} for sort in ("typed", "plain", "missing")]
    return [
        put("json", "typed", **typed),
        put("json", "plain", state=s("one")),
        get("json", "typed"),
        ("batch_get_item", {"RequestItems": {NAME: {"Keys": keys}}}),
        query("json"),
        query("json", ProjectionExpression="SK, #m.nested", ExpressionAttributeNames={"#m": "map"}),
        ("scan", {"TableName": NAME}),
    ]


def _item_measured_once() -> list[Call]:
    """Items of many attributes, under the size limit and over it by a byte or by many, put alone,
    in a transaction and in a batch: refused where moto refuses them, with moto's error."""

    def wide(sort: str, count: int, width: int) -> dict[str, Any]:
        return item("wide", sort, **{f"a{n:03d}": s("x" * width) for n in range(count)})

    near = 405_000 // 100 - 12  # 100 attributes that together reach the limit
    over = {**wide("over", 100, near), "tail": s("y" * 2_000)}
    return [
        ("put_item", {"TableName": NAME, "Item": wide("many", 300, 10)}),
        ("put_item", {"TableName": NAME, "Item": wide("near", 100, near - 10)}),
        (f"{WHOLE}put_item", {"TableName": NAME, "Item": over}),
        (f"{WHOLE}put_item", {"TableName": NAME, "Item": wide("huge", 5, 100_000)}),
        (f"{WHOLE}transact_write_items", {"TransactItems": [{"Put": {"TableName": NAME, "Item": over}}]}),
        (f"{WHOLE}batch_write_item", {"RequestItems": {NAME: [{"PutRequest": {"Item": over}}]}}),
        get("wide", "many"),
        get("wide", "near"),
        query("wide", Select="COUNT"),
    ]


def _conditions_parsed_once() -> list[Call]:
    """The same conditions again and again, with other values, passing and refused, in every
    request that takes one: each answered as moto answers it (an unused value included)."""
    names = {"#s": "state"}

    def guarded(sort: str, state: str, condition: str, value: str, **options: Any) -> Call:
        return (
            f"{WHOLE}put_item",
            {
                "TableName": NAME,
                "Item": item("cond", sort, state=s(state)),
                "ConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {":v": s(value)},
                **options,
            },
        )

    check = "attribute_not_exists(PK) OR #s = :v"
    calls: list[Call] = []
    for round_ in range(3):
        calls += [
            guarded("a", f"s{round_}", check, f"s{round_ - 1}"),
            guarded("a", "stale", check, "not-the-state", ReturnValuesOnConditionCheckFailure="ALL_OLD"),
            guarded("b", f"x{round_}", "attribute_not_exists(PK) AND attribute_not_exists(#s)", "unused"),
            (
                f"{WHOLE}transact_write_items",
                {
                    "TransactItems": [
                        {
                            "ConditionCheck": {
                                "TableName": NAME,
                                "Key": {"PK": s("cond"), "SK": s("a")},
                                "ConditionExpression": "#s = :v",
                                "ExpressionAttributeNames": names,
                                "ExpressionAttributeValues": {":v": s(f"s{round_}")},
                            }
                        },
                        {
                            "Put": {
                                "TableName": NAME,
                                "Item": item("cond", f"t{round_}"),
                                "ConditionExpression": "attribute_not_exists(PK)",
                            }
                        },
                    ]
                },
            ),
            (
                f"{WHOLE}query",
                {
                    "TableName": NAME,
                    "KeyConditionExpression": "PK = :p",
                    "FilterExpression": "#s = :v",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": {":p": s("cond"), ":v": s(f"s{round_}")},
                },
            ),
            (
                f"{WHOLE}delete_item",
                {
                    "TableName": NAME,
                    "Key": {"PK": s("cond"), "SK": s(f"t{round_}")},
                    "ConditionExpression": "attribute_exists(PK)",
                    "ReturnValues": "ALL_OLD",
                },
            ),
        ]
    return calls


def _direct_calls() -> list[Call]:
    """Every operation the stack sends, answered and refused in each way it can be, each recorded
    with its whole answer: an error's code, message and modeled fields (a cancelled transaction's
    reasons with the item it found, a refused write's item), binary values, sets and unprocessed
    batches."""
    old = {"ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
    exists, absent = "attribute_exists(PK)", "attribute_not_exists(PK)"
    key = {"PK": s("direct"), "SK": s("a")}
    whole = f"{WHOLE}transact_write_items"
    return [
        (
            f"{WHOLE}put_item",
            {"TableName": NAME, "Item": item("direct", "a", blob={"B": "bytes \u00ff"}, n={"N": "1"})},
        ),
        (f"{WHOLE}put_item", {"TableName": NAME, "Item": item("direct", "a"), "ConditionExpression": absent, **old}),
        (
            f"{WHOLE}put_item",
            {"TableName": NAME, "Item": item("direct", "b", ns={"NS": ["1", "2"]}), "ReturnValues": "ALL_OLD"},
        ),
        (f"{WHOLE}put_item", {"TableName": "missing", "Item": item("direct", "a")}),
        (f"{WHOLE}put_item", {"TableName": NAME, "Item": {"PK": s("direct")}}),
        (f"{WHOLE}get_item", {"TableName": NAME, "Key": key, "ConsistentRead": True}),
        (f"{WHOLE}get_item", {"TableName": NAME, "Key": {"PK": s("direct"), "SK": s("none")}}),
        (
            f"{WHOLE}get_item",
            {"TableName": NAME, "Key": key, "ProjectionExpression": "#b", "ExpressionAttributeNames": {"#b": "blob"}},
        ),
        (
            f"{WHOLE}update_item",
            {
                "TableName": NAME,
                "Key": key,
                "UpdateExpression": "SET n = n + :one",
                "ConditionExpression": "n = :zero",
                "ExpressionAttributeValues": {":one": {"N": "1"}, ":zero": {"N": "0"}},
                **old,
            },
        ),
        (
            f"{WHOLE}update_item",
            {
                "TableName": NAME,
                "Key": key,
                "UpdateExpression": "SET n = n + :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
                "ReturnValues": "UPDATED_NEW",
            },
        ),
        (f"{WHOLE}update_item", {"TableName": NAME, "Key": key, "UpdateExpression": "SET = broken"}),
        (
            f"{WHOLE}delete_item",
            {"TableName": NAME, "Key": {"PK": s("direct"), "SK": s("b")}, "ReturnValues": "ALL_OLD"},
        ),
        (
            f"{WHOLE}delete_item",
            {
                "TableName": NAME,
                "Key": key,
                "ConditionExpression": "n = :n",
                "ExpressionAttributeValues": {":n": {"N": "7"}},
            },
        ),
        (
            f"{WHOLE}query",
            {
                "TableName": NAME,
                "KeyConditionExpression": "PK = :p",
                "ExpressionAttributeValues": {":p": s("direct")},
                "Select": "COUNT",
            },
        ),
        (
            f"{WHOLE}query",
            {
                "TableName": NAME,
                "KeyConditionExpression": "PK = :p AND",
                "ExpressionAttributeValues": {":p": s("direct")},
            },
        ),
        (
            f"{WHOLE}query",
            {
                "TableName": NAME,
                "IndexName": "nope",
                "KeyConditionExpression": "PK = :p",
                "ExpressionAttributeValues": {":p": s("x")},
            },
        ),
        (f"{WHOLE}scan", {"TableName": NAME, "Limit": 1}),
        (
            whole,
            {
                "TransactItems": [
                    {"Put": {"TableName": NAME, "Item": item("direct", "c")}},
                    {"ConditionCheck": {"TableName": NAME, "Key": key, "ConditionExpression": absent, **old}},
                    {
                        "Delete": {
                            "TableName": NAME,
                            "Key": {"PK": s("direct"), "SK": s("none")},
                            "ConditionExpression": exists,
                        }
                    },
                ]
            },
        ),
        (whole, {"TransactItems": [{"Put": {"TableName": NAME, "Item": item("direct", "c")}}] * 2}),
        (
            whole,
            {"TransactItems": [{"Put": {"TableName": NAME, "Item": item("direct", "c")}}], "ClientRequestToken": "t1"},
        ),
        (
            f"{WHOLE}batch_write_item",
            {"RequestItems": {NAME: [{"PutRequest": {"Item": item("direct", f"batch{n}")}} for n in range(3)]}},
        ),
        (
            f"{WHOLE}batch_get_item",
            {
                "RequestItems": {
                    NAME: {"Keys": [{"PK": s("direct"), "SK": s(sort)} for sort in ("a", "c", "batch1", "none")]}
                }
            },
        ),
        (f"{WHOLE}batch_get_item", {"RequestItems": {"missing": {"Keys": [key]}}}),
        (f"{WHOLE}list_tables", {}),
        query("direct"),
    ]


WORKLOADS = {
    "atomic_requests": _atomic_requests,
    "no_table_backup": _no_table_backup,
    "no_answer_copy": _no_answer_copy,
    "plain_updates": _plain_updates,
    "partition_queries": _partition_queries,
    "fast_sort": _fast_sort,
    "string_equality": _string_equality,
    "string_size": _string_size,
    "json_answers": _json_answers,
    "direct_calls": _direct_calls,
    "item_measured_once": _item_measured_once,
    "conditions_parsed_once": _conditions_parsed_once,
}
# The pieces with no workload against moto, and what holds them instead.
HELD_ELSEWHERE = {
    # Every request finds its action through it: every workload here holds it.
    "action_names_kept": "every workload of WORKLOADS, each request's action found by its names",
    # Its records are the ChangeLog's, not moto's stream's: the stream tests read them.
    "change_capture": "tests/integration/test_embedded_table.py (records on the stream, per item, per request)",
    # It answers differently from moto on purpose: held to DynamoDB's rule below.
    "item_size_on_set": "test_replacing_a_large_attribute_is_measured_on_the_resulting_item",
}


def test_every_piece_is_named_documented_and_held_by_a_test():
    names = [patch.name for patch in PATCHES]

    assert len(names) == len(set(names))
    assert set(names) == set(WORKLOADS) | set(HELD_ELSEWHERE)
    assert not set(WORKLOADS) & set(HELD_ELSEWHERE)
    assert all(len(patch.purpose) > 80 for patch in PATCHES), [p.name for p in PATCHES if len(p.purpose) <= 80]


def test_every_piece_replaces_exactly_the_moto_internals_it_names(table):
    targets = [target for patch in PATCHES for target in patch.replaces]

    assert len(targets) == len(set(targets)) == 18
    assert set(PRISTINE) == set(targets)
    for target in targets:
        assert resolve(target) is not PRISTINE[target], target


def test_dynamodb_calls_are_answered_in_process_and_streams_calls_through_moto(table, monkeypatch):
    from moto.core.botocore_stubber import BotocoreStubber

    through_moto: list[str] = []
    original = BotocoreStubber.process_request
    monkeypatch.setattr(
        BotocoreStubber,
        "process_request",
        lambda self, request: through_moto.append(request.url) or original(self, request),
    )
    (direct,) = [patch for patch in PATCHES if patch.name == "direct_calls"]

    replay(table, _direct_calls())
    assert through_moto == []
    boto3.client("dynamodbstreams", region_name="us-east-1").list_streams()
    assert len(through_moto) == 1 and "streams.dynamodb" in through_moto[0]
    # A URL moto does not serve is not answered here either: moto lets it through, and nothing
    # listens on the discard port.
    elsewhere = boto3.client("dynamodb", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(EndpointConnectionError):
        elsewhere.list_tables()
    assert len(through_moto) > 1 and all(url.startswith("http://127.0.0.1:9/") for url in through_moto[1:])
    from botocore.handlers import BUILTIN_HANDLERS

    from pie_local.table.direct_calls import answer_in_process

    assert direct.handles == ("before-call.dynamodb",)
    assert [event for event, handler, *_ in BUILTIN_HANDLERS if handler is answer_in_process] == list(direct.handles)


@pytest.mark.parametrize("piece", sorted(WORKLOADS))
def test_each_piece_answers_what_pristine_moto_answers(table, piece: str):
    calls = WORKLOADS[piece]()

    assert_same_answers(calls, replay(table, calls), pristine_moto(calls))


def test_replacing_a_large_attribute_is_measured_on_the_resulting_item(table):
    """DynamoDB limits the item a write leaves (400 KB); moto also counts the value being replaced,
    so it refuses to replace a 250 KB attribute by another. The embedded table answers as DynamoDB."""
    big = {"#d": "doc"}
    calls = [
        put("replace", "a", doc=s("a" * 250_000)),
        update("replace", "a", "SET #d = :d", big, {":d": s("b" * 250_000)}),
        update("replace", "a", "SET #d = :d, #e = :e", {**big, "#e": "extra"}, {":d": s("c"), ":e": s("e" * 410_000)}),
        get("replace", "a"),
    ]

    ours, moto = replay(table, calls), pristine_moto(calls)

    assert "error" not in ours[1] and ours[2] == {"error": "ValidationException"}
    assert re.fullmatch(r"250000:\w+", ours[3]["Item"]["doc"]["S"]) and ours[3]["Item"]["doc"] != ours[0]
    assert moto[1] == {"error": "ValidationException"}, "moto now measures a SET as DynamoDB does: drop the piece"
    assert moto[2] == ours[2]


def test_the_patches_are_written_for_the_pinned_and_installed_moto():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = [pin for pin in pyproject["project"]["optional-dependencies"]["local"] if pin.startswith("moto")]

    assert pins == [f"moto[dynamodb]=={moto_patches.WRITTEN_FOR}"]
    check_moto_version()


def test_another_moto_release_is_refused_naming_both_versions():
    with pytest.raises(UnsupportedMotoError) as refused:
        check_moto_version("5.3.0")

    assert f"moto {moto_patches.WRITTEN_FOR}" in str(refused.value)
    assert "moto 5.3.0 is installed" in str(refused.value)


def test_the_embedded_table_does_not_start_on_another_moto_release(tmp_path: Path):
    """In a fresh process, as ``pie-local serve`` starts: nothing is patched, the start fails loudly."""
    script = (
        "import importlib.metadata\n"
        "real = importlib.metadata.version\n"
        "importlib.metadata.version = lambda name: '9.9.9' if name == 'moto' else real(name)\n"
        "from pie_local.table import moto_patches\n"
        "from pie_local.table.dynamodb import embedded_dynamodb\n"
        "try:\n"
        "    with embedded_dynamodb('pie-check'):\n"
        "        pass\n"
        "finally:\n"
        "    assert not moto_patches.PRISTINE\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )

    assert finished.returncode != 0
    assert "UnsupportedMotoError" in finished.stderr
    assert f"written for moto {moto_patches.WRITTEN_FOR}, but moto 9.9.9 is installed" in finished.stderr

"""The embedded table reads a DynamoDB request's body exactly as moto's own JSON parser does
(``pie_local.table.direct_calls.parsed_request``): the same values, in the same key order, with
blobs decoded, numbers typed, and members that are null or not modeled dropped, for every operation
and any attribute value, nested or not."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto.core.parse import JSONParser
from moto.core.utils import get_service_model

from pie_local.table.direct_calls import parsed_request

TYPES = {"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"}
# Attribute names (map keys) are never a type's or "TableName": the noise below tells structures
# from maps by their keys.
names = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=6).filter(
    lambda name: name not in TYPES and name != "TableName"
)
numbers = st.integers(-(10**12), 10**12).map(str)
blobs = st.binary(max_size=12).map(lambda raw: base64.b64encode(raw).decode())


def _attribute_values() -> st.SearchStrategy[dict[str, Any]]:
    scalar = st.one_of(
        st.builds(lambda v: {"S": v}, names),
        st.builds(lambda v: {"N": v}, numbers),
        st.builds(lambda v: {"B": v}, blobs),
        st.builds(lambda v: {"SS": v}, st.lists(names, min_size=1, max_size=3, unique=True)),
        st.builds(lambda v: {"NS": v}, st.lists(numbers, min_size=1, max_size=3, unique=True)),
        st.builds(lambda v: {"BS": v}, st.lists(blobs, min_size=1, max_size=3, unique=True)),
        st.just({"NULL": True}),
        st.builds(lambda v: {"BOOL": v}, st.booleans()),
    )
    return st.recursive(
        scalar,
        lambda inner: st.one_of(
            st.builds(lambda v: {"M": v}, st.dictionaries(names, inner, max_size=3)),
            st.builds(lambda v: {"L": v}, st.lists(inner, max_size=3)),
        ),
        max_leaves=8,
    )


values = _attribute_values()
items = st.dictionaries(names, values, min_size=1, max_size=5)
expression_values = st.dictionaries(names.map(lambda n: f":{n}"), values, max_size=3)
expression_names = st.dictionaries(names.map(lambda n: f"#{n}"), names, max_size=3)


def _put() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"TableName": st.just("pie"), "Item": items},
        optional={
            "ConditionExpression": st.just("attribute_not_exists(PK)"),
            "ExpressionAttributeValues": expression_values,
            "ExpressionAttributeNames": expression_names,
            "ReturnValues": st.sampled_from(["NONE", "ALL_OLD"]),
            "ReturnValuesOnConditionCheckFailure": st.sampled_from(["NONE", "ALL_OLD"]),
        },
    )


def _update() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"TableName": st.just("pie"), "Key": items, "UpdateExpression": st.just("SET #a = :a")},
        optional={"ExpressionAttributeValues": expression_values, "ExpressionAttributeNames": expression_names},
    )


def _transaction_item() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.builds(lambda put: {"Put": put}, _put()),
        st.builds(lambda update: {"Update": update}, _update()),
        st.builds(lambda key: {"Delete": {"TableName": "pie", "Key": key}}, items),
        st.builds(
            lambda key, v: {
                "ConditionCheck": {
                    "TableName": "pie",
                    "Key": key,
                    "ConditionExpression": "x = :x",
                    "ExpressionAttributeValues": v,
                }
            },  # fmt: skip
            items,
            expression_values,
        ),
    )


REQUESTS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "PutItem": _put(),
    "UpdateItem": _update(),
    "GetItem": st.fixed_dictionaries(
        {"TableName": st.just("pie"), "Key": items}, optional={"ConsistentRead": st.booleans()}
    ),
    "TransactWriteItems": st.fixed_dictionaries(
        {"TransactItems": st.lists(_transaction_item(), min_size=1, max_size=4)},
        optional={"ClientRequestToken": names},
    ),
    "Query": st.fixed_dictionaries(
        {"TableName": st.just("pie"), "KeyConditionExpression": st.just("PK = :pk")},
        optional={
            "IndexName": st.just("GSI1"),
            "ExpressionAttributeValues": expression_values,
            "ExclusiveStartKey": items,
            "Limit": st.integers(1, 1000),
            "ScanIndexForward": st.booleans(),
            "Select": st.just("COUNT"),
        },
    ),
    "Scan": st.fixed_dictionaries(
        {"TableName": st.just("pie")},
        optional={"Segment": st.integers(0, 3), "TotalSegments": st.just(4), "ExclusiveStartKey": items},
    ),
    "BatchWriteItem": st.builds(
        lambda puts: {"RequestItems": {"pie": [{"PutRequest": {"Item": item}} for item in puts]}},
        st.lists(items, min_size=1, max_size=3),
    ),
    "BatchGetItem": st.builds(
        lambda keys: {"RequestItems": {"pie": {"Keys": keys, "ConsistentRead": True}}},
        st.lists(items, min_size=1, max_size=3),
    ),
    "ExportTableToPointInTime": st.fixed_dictionaries(
        {"TableArn": st.just("arn:aws:dynamodb:us-east-1:123456789012:table/pie"), "S3Bucket": st.just("b")},
        optional={"ExportTime": st.integers(0, 2**31).map(float)},
    ),
    "DescribeTable": st.just({"TableName": "pie"}),
}


def _structure(value: dict[str, Any], top: bool) -> bool:
    """Whether a dict of a request is a structure (not a map, whose every entry must be valid)."""
    return top or "TableName" in value or (len(value) == 1 and set(value) <= TYPES)


def _with_noise(value: Any, draw: Any, top: bool = True) -> Any:
    """``value`` with null members and members no model has sprinkled into its structures (moto's
    parser drops both)."""
    if isinstance(value, dict):
        noisy = {name: _with_noise(member, draw, False) for name, member in value.items()}
        if _structure(value, top) and draw(st.booleans()):
            noisy[draw(st.sampled_from(["Unmodeled", "S", "TableName"]))] = None
            noisy["Unmodeled"] = draw(st.sampled_from([None, "x", 1]))
        return noisy
    if isinstance(value, list):
        return [_with_noise(member, draw, False) for member in value]
    return value


def moto_parses(operation: str, body: bytes) -> dict[str, Any]:
    parser = JSONParser(get_service_model("dynamodb").operation_model(operation))
    return parser.parse(
        {"method": "POST", "values": {}, "headers": {}, "body": body, "url_path": "/", "url_params": {}}
    )


@pytest.mark.parametrize("operation", sorted(REQUESTS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_request_reads_exactly_as_moto_reads_it(operation: str, data: Any):
    request = data.draw(REQUESTS[operation])
    for body in (request, _with_noise(request, data.draw)):
        raw = json.dumps(body).encode()
        # repr, not ==: the key order must be moto's too (structures in the model's order).
        assert repr(parsed_request(operation, raw)) == repr(moto_parses(operation, raw))


def test_blobs_are_decoded_and_structures_take_the_models_order():
    raw = json.dumps(
        {
            "Item": {"b": {"B": base64.b64encode(b"\x00\xff").decode()}, "n": {"L": [{"BS": ["AQ=="]}]}},
            "ReturnValues": "ALL_OLD",
            "TableName": "pie",
            "Unmodeled": 1,
            "ConditionExpression": None,
        }
    ).encode()

    parsed = parsed_request("PutItem", raw)

    assert list(parsed) == ["TableName", "Item", "ReturnValues"]
    assert parsed["Item"] == {"b": {"B": b"\x00\xff"}, "n": {"L": [{"BS": [b"\x01"]}]}}
    assert parsed_request("DescribeTable", b"") == moto_parses("DescribeTable", b"") == {}

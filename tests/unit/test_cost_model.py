"""The cost model turns each DynamoDB call into request units by DynamoDB's published on-demand rules:
a read is 4 KB per unit (half a unit eventually consistent), a write 1 KB per unit plus one write per
secondary index the item is in, and a transaction costs each of its items twice."""

from __future__ import annotations

from bench.cost import Measured, Workload, item_size, mlflow_monthly, pie_monthly, request_units

SMALL = {"PK": {"S": "MODEL#m"}, "SK": {"S": "MODEL"}}
INDEXED = {**SMALL, "GSI1PK": {"S": "MODELS"}, "GSI2PK": {"S": "MODELS#STATUS#active"}}


def test_item_size_counts_names_and_values() -> None:
    assert item_size(SMALL) == len("PK") + len("MODEL#m") + len("SK") + len("MODEL")
    assert item_size({"n": {"N": "12345"}}) == 1 + 3  # numbers: about half their digits, plus one
    assert item_size({"m": {"M": {"a": {"S": "xy"}}}}) == 1 + 3 + 1 + 2


def test_reads_round_up_to_4_kb_and_halve_when_eventually_consistent() -> None:
    big = {"PK": {"S": "x" * 5000}}
    assert request_units("GetItem", {}, {"Item": big}) == (1.0, 0.0)  # two 4 KB units, halved
    assert request_units("GetItem", {"ConsistentRead": True}, {"Item": big}) == (2.0, 0.0)
    assert request_units("GetItem", {}, {}) == (0.5, 0.0)  # a miss still costs a read
    # A query's units are over the whole page, not per item.
    assert request_units("Query", {}, {"Items": [SMALL] * 10}) == (0.5, 0.0)


def test_writes_cost_one_unit_per_kb_per_index_and_double_in_transactions() -> None:
    assert request_units("PutItem", {"Item": SMALL}, {}) == (0.0, 1.0)
    assert request_units("PutItem", {"Item": INDEXED}, {}) == (0.0, 3.0)
    assert request_units("PutItem", {"Item": {"PK": {"S": "x" * 2000}}}, {}) == (0.0, 2.0)
    transaction = {"TransactItems": [{"Put": {"Item": SMALL}}, {"Put": {"Item": INDEXED}}]}
    assert request_units("TransactWriteItems", transaction, {}) == (0.0, 2 * (1 + 3))


def test_the_monthly_bill_scales_with_the_workload_and_mlflow_does_not() -> None:
    measured = {
        function: Measured(function, calls=2, read_units=1, write_units=2, own_ms=5)
        for function in Workload().monthly_calls()
    }
    quiet, _ = pie_monthly(Workload(reads_per_second=0.5), measured)
    busy, rows = pie_monthly(Workload(reads_per_second=50), measured)
    assert sum(busy.values()) > 5 * sum(quiet.values())
    assert {row["function"] for row in rows} == set(Workload().monthly_calls())
    assert sum(mlflow_monthly().values()) > 20  # an always-on instance and database

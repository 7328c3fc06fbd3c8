"""The single table's definition, shared by the CDK app, the local stack and the tests.

Everything PIE stores lives in one table keyed by ``PK``/``SK`` (built in ``shared.data.keys``):

- ``LSI1`` (``PK`` + ``LSI1SK``): creation order inside a model's partition (versions, jobs).
- ``GSI1`` (``GSI1PK`` + ``GSI1SK``): every model by id; models by tag value (tag index items);
  subscriptions by target model; the job delivery log.
- ``GSI2`` (``GSI2PK`` + ``GSI2SK``): models by status; jobs by status.
- ``GSI3`` (``GSI3PK`` + ``GSI3SK``): live jobs by when they are due, for the sweeper (sparse); every
  model by name, for search (its own partition).

Idempotency records written by Powertools share the table and expire through TTL on
``expiration``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PARTITION_KEY = "PK"
SORT_KEY = "SK"
TTL_ATTRIBUTE = "expiration"


@dataclass(frozen=True)
class IndexDefinition:
    name: str
    partition_key: str
    sort_key: str
    local: bool = False


INDEXES: tuple[IndexDefinition, ...] = (
    IndexDefinition("LSI1", PARTITION_KEY, "LSI1SK", local=True),
    IndexDefinition("GSI1", "GSI1PK", "GSI1SK"),
    IndexDefinition("GSI2", "GSI2PK", "GSI2SK"),
    IndexDefinition("GSI3", "GSI3PK", "GSI3SK"),
)
LSI1, GSI1, GSI2, GSI3 = INDEXES


def create_table_request(table_name: str) -> dict[str, Any]:
    """Keyword arguments for ``DynamoDB.Client.create_table`` matching the deployed table."""
    attributes = sorted(
        {PARTITION_KEY, SORT_KEY} | {index.partition_key for index in INDEXES} | {index.sort_key for index in INDEXES}
    )

    def key_schema(partition_key: str, sort_key: str) -> list[dict[str, str]]:
        return [
            {"AttributeName": partition_key, "KeyType": "HASH"},
            {"AttributeName": sort_key, "KeyType": "RANGE"},
        ]

    def index(definition: IndexDefinition) -> dict[str, Any]:
        return {
            "IndexName": definition.name,
            "KeySchema": key_schema(definition.partition_key, definition.sort_key),
            "Projection": {"ProjectionType": "ALL"},
        }

    return {
        "TableName": table_name,
        "AttributeDefinitions": [{"AttributeName": name, "AttributeType": "S"} for name in attributes],
        "KeySchema": key_schema(PARTITION_KEY, SORT_KEY),
        "LocalSecondaryIndexes": [index(i) for i in INDEXES if i.local],
        "GlobalSecondaryIndexes": [index(i) for i in INDEXES if not i.local],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }


def create_table(client: Any, table_name: str) -> None:
    """Create the table (local stack and tests) and wait until it is usable."""
    client.create_table(**create_table_request(table_name))
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 0.1})
    client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )

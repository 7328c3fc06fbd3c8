"""The single table: the shared key definition, and settings that protect the data."""

from __future__ import annotations

from aws_cdk.assertions import Template
from stack_queries import only

from shared.data.table import TTL_ATTRIBUTE, create_table_request


def _table(template: Template) -> dict:
    _, table = only(template, "AWS::DynamoDB::Table")
    return table


def _by_name(indexes: list[dict]) -> dict[str, dict]:
    return {
        index["IndexName"]: {"KeySchema": index["KeySchema"], "Projection": index["Projection"]} for index in indexes
    }


def test_the_table_has_the_keys_and_indexes_the_local_stack_creates(template: Template):
    deployed = _table(template)["Properties"]
    local = create_table_request("any")
    assert deployed["KeySchema"] == local["KeySchema"]
    assert sorted(deployed["AttributeDefinitions"], key=str) == sorted(local["AttributeDefinitions"], key=str)
    assert _by_name(deployed.get("LocalSecondaryIndexes", [])) == _by_name(local["LocalSecondaryIndexes"])
    assert _by_name(deployed.get("GlobalSecondaryIndexes", [])) == _by_name(local["GlobalSecondaryIndexes"])


def test_the_table_is_on_demand_and_streams_new_and_old_images(template: Template):
    properties = _table(template)["Properties"]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_the_table_survives_mistakes_and_stack_deletion(template: Template):
    table = _table(template)
    properties = table["Properties"]
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"


def test_the_table_is_encrypted_with_kms(template: Template):
    assert _table(template)["Properties"]["SSESpecification"]["SSEEnabled"] is True


def test_idempotency_records_expire_through_ttl(template: Template):
    assert _table(template)["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": TTL_ATTRIBUTE,
        "Enabled": True,
    }

"""The single table, declared from ``shared.data.table`` (the definition the local stack uses too)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from shared.data import table as definition

_STRING = dynamodb.AttributeType.STRING


class RegistryTable(Construct):
    """Models, versions, subscriptions, jobs and idempotency records; its stream feeds the dispatcher.

    The data is the product, so the table outlives the stack: deletion protection, RETAIN, and
    continuous backups. Encryption uses the AWS-managed KMS key (``aws/dynamodb``), which keeps
    each function's grants to the table actions alone.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=definition.PARTITION_KEY, type=_STRING),
            sort_key=dynamodb.Attribute(name=definition.SORT_KEY, type=_STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute=definition.TTL_ATTRIBUTE,
        )
        for index in definition.INDEXES:
            sort_key = dynamodb.Attribute(name=index.sort_key, type=_STRING)
            if index.local:
                self.table.add_local_secondary_index(
                    index_name=index.name,
                    sort_key=sort_key,
                    projection_type=dynamodb.ProjectionType.ALL,
                )
            else:
                self.table.add_global_secondary_index(
                    index_name=index.name,
                    partition_key=dynamodb.Attribute(name=index.partition_key, type=_STRING),
                    sort_key=sort_key,
                    projection_type=dynamodb.ProjectionType.ALL,
                )

    def index_arns_of(self, names: tuple[str, ...] | None) -> list[str]:
        """The ARNs of the named indexes (all of them for None), so read grants name each index
        instead of ``index/*``."""
        return [
            f"{self.table.table_arn}/index/{index.name}"
            for index in definition.INDEXES
            if names is None or index.name in names
        ]

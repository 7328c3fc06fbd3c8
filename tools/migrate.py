"""``python -m tools.migrate --table NAME``: bring a deployed table written by an older PIE up to date.

    python -m tools.migrate --table pie-table [--region eu-west-1] [--endpoint http://localhost:8000]

Runs the migrations the table has not finished (``shared.data.migrations``), beside live traffic:
each is idempotent and records that it finished, so a second run does one read per migration and
nothing else, and an interrupted run is finished by running it again. Until it has run, PIE reads
the old way (a firing reads every subscription of its source model). ``pie-local`` runs the same
migrations itself when it opens a table. Credentials come from the usual AWS chain; the role needs
``dynamodb:Scan``, ``Query``, ``GetItem``, ``PutItem`` and ``TransactWriteItems`` on the table.
Exit 0 when the table is up to date, 1 when DynamoDB refused, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import sys

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from shared.data.migrations import MIGRATIONS, run_pending


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.migrate", description=__doc__.splitlines()[0])
    parser.add_argument("--table", required=True, help="the PIE table's name (the stack's TableName output)")
    parser.add_argument("--region", help="the table's region (default: the AWS configuration's)")
    parser.add_argument("--endpoint", help="a DynamoDB endpoint other than AWS's (DynamoDB Local, say)")
    arguments = parser.parse_args(argv)
    client = boto3.client("dynamodb", region_name=arguments.region, endpoint_url=arguments.endpoint)
    try:
        ran = run_pending(client, arguments.table)
    except (ClientError, BotoCoreError) as error:
        print(f"migrate: table {arguments.table}: {error}", file=sys.stderr)
        return 1
    for name, _ in MIGRATIONS:
        print(f"{name}: migrated {ran[name]} models" if name in ran else f"{name}: already done")
    return 0


if __name__ == "__main__":
    sys.exit(main())

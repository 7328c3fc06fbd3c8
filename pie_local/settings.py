"""The local stack's defaults: the environment ``pie-local`` and the tests give the route functions."""

from __future__ import annotations

import json

LOCAL_TABLE_NAME = "pie-local"
# The account of the local stack: its gateway's, its functions' and the allow-list's.
LOCAL_ACCOUNT_ID = "123456789012"

# Admits the seed documents' examples (arn:aws:lambda:us-west-2:123456789012:function:train).
LOCAL_HANDLER_ALLOW_LIST = {
    "lambda_accounts": ["123456789012"],
    "lambda_regions": ["us-east-1", "us-west-2", "eu-west-1"],
    "lambda_name_prefixes": [""],
    "ecs_clusters": ["ml-cluster", "default"],
    "ecs_task_family_prefixes": [""],
    "in_process_implementations": ["echo", "fail"],
    "step_functions_accounts": ["123456789012"],
    "step_functions_regions": ["us-east-1", "us-west-2", "eu-west-1"],
    "step_functions_name_prefixes": [""],
}


def local_environment(table_name: str = LOCAL_TABLE_NAME, dynamodb_endpoint: str | None = None) -> dict[str, str]:
    """Environment variables the route functions read, pointing at the local table."""
    environment = {
        "PIE_TABLE_NAME": table_name,
        # Signs pagination tokens locally only; deployed functions get a generated secret.
        "PIE_PAGE_TOKEN_KEY": "pie-local-page-token-signing-key",
        "PIE_HANDLER_ALLOW_LIST": json.dumps(LOCAL_HANDLER_ALLOW_LIST),
        "PIE_ACCOUNT_ID": LOCAL_ACCOUNT_ID,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "pie",
        "POWERTOOLS_METRICS_NAMESPACE": "PIE",
        # Local receivers listen on loopback, often over plain http.
        "PIE_WEBHOOKS_ALLOW_LOOPBACK": "true",
    }
    if dynamodb_endpoint:
        environment["PIE_DYNAMODB_ENDPOINT"] = dynamodb_endpoint
    return environment


# The deployed sweeper runs every minute; locally a few seconds keep a working day's timeouts prompt.
DEFAULT_SWEEP_SECONDS = 5.0
# Webhook deliveries whose retry is due are looked for this often (the first retry is due after 5 s).
DEFAULT_WEBHOOK_SWEEP_SECONDS = 1.0

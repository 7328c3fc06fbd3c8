"""PIE's one stack: table, route functions, API, job functions and monitoring, wired together.

The route functions come from the route table; the job functions (stream dispatcher, job
completion, sweeper) and the webhook delivery function (with its event bus) are deployed once their
``functions/<name>/handler.py`` exists.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import DeploymentConfig
from infra.constructs.api import RegistryApi
from infra.constructs.console import ConsoleSite
from infra.constructs.dispatcher import JobDispatcher
from infra.constructs.job_completion import JobCompletion
from infra.constructs.monitoring import Monitoring
from infra.constructs.route_functions import (
    METRICS_NAMESPACE,
    SERVICE_NAME,
    FunctionAssets,
    FunctionFactory,
    RouteFunctions,
)
from infra.constructs.sweeper import JobSweeper, allow_stopping_jobs
from infra.constructs.table import RegistryTable
from infra.constructs.webhook_delivery import WebhookDelivery
from infra.function_profiles import (
    DISPATCHER_FUNCTION,
    JOB_COMPLETION_FUNCTION,
    SWEEPER_FUNCTION,
    WEBHOOK_DELIVERY_FUNCTION,
)
from shared.routes import Route

ROOT = Path(__file__).resolve().parent.parent
CONSOLE_DIR = ROOT / "console"
OPENAPI_DOCUMENT = ROOT / "docs" / "openapi.json"


class PieStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        assets: FunctionAssets,
        routes: Sequence[Route],
        function_folders: Collection[str],
    ) -> None:
        super().__init__(scope, construct_id, description="PIE: serverless model registry (HTTP API, Lambda, DynamoDB)")
        table = RegistryTable(self, "Registry")
        factory = FunctionFactory(self, "Functions", assets=assets, table=table, config=config)
        route_functions = RouteFunctions(
            self, "RouteFunctions", factory=factory, routes=routes, function_folders=function_folders
        )
        api = RegistryApi(self, "Api", routes=routes, functions=route_functions.functions, config=config)
        console = ConsoleSite(
            self,
            "Console",
            config=config,
            api_endpoint=api.endpoint,
            site_dir=CONSOLE_DIR,
            openapi_document=OPENAPI_DOCUMENT,
        )

        dead_letter_queues: dict[str, sqs.IQueue] = {}
        asynchronous_functions: dict[str, lambda_.IFunction] = {}
        dispatcher = None
        if DISPATCHER_FUNCTION in function_folders:
            dispatcher = JobDispatcher(self, "Dispatcher", factory=factory, table=table, config=config)
            dead_letter_queues["Dispatcher"] = dispatcher.dead_letter_queue
        if JOB_COMPLETION_FUNCTION in function_folders:
            completion = JobCompletion(self, "JobCompletion", factory=factory, config=config)
            dead_letter_queues["JobCompletion"] = completion.dead_letter_queue
            asynchronous_functions["JobCompletion"] = completion.function
            CfnOutput(
                self,
                "JobCompletionFunctionArn",
                value=completion.function.function_arn,
                description="Destination for Lambda handlers that report results directly",
            )

        if SWEEPER_FUNCTION in function_folders:
            sweeper = JobSweeper(self, "JobSweeper", factory=factory)
            dead_letter_queues["JobSweeper"] = sweeper.dead_letter_queue
            asynchronous_functions["JobSweeper"] = sweeper.function
        delivery = None
        if WEBHOOK_DELIVERY_FUNCTION in function_folders:
            delivery = WebhookDelivery(self, "WebhookDelivery", factory=factory, table=table)
            dead_letter_queues["WebhookDelivery"] = delivery.dead_letter_queue
            CfnOutput(
                self,
                "EventBusName",
                value=delivery.event_bus.event_bus_name,
                description="Every PIE event is put on this EventBridge bus (source pie, detail-type its type)",
            )
        if "cancel_job" in route_functions.functions:
            allow_stopping_jobs(route_functions.functions["cancel_job"], config)

        monitoring = Monitoring(
            self,
            "Monitoring",
            api=api,
            dead_letter_queues=dead_letter_queues,
            stream_consumer=dispatcher.function if dispatcher else None,
            webhook_delivery=delivery.function if delivery else None,
            webhook_metrics={"namespace": METRICS_NAMESPACE, "service": SERVICE_NAME},
            asynchronous_functions=asynchronous_functions,
            alarm_email=config.alarm_email,
            job_metrics={"namespace": METRICS_NAMESPACE, "service": SERVICE_NAME}
            if SWEEPER_FUNCTION in function_folders
            else None,
        )
        CfnOutput(self, "ApiUrl", value=api.url, description="Base URL; routes live under /v2")
        CfnOutput(self, "ConsoleUrl", value=console.url, description="The console (register it as a redirect URL)")
        CfnOutput(self, "TableName", value=table.table.table_name, description="The single table")
        CfnOutput(self, "AlarmTopicArn", value=monitoring.topic.topic_arn, description="Subscribe to alarms")

"""The stack alone: a function shaped like PIE's routes with no PIE code in it.

It imports what every PIE route imports before any of its own code (boto3, pydantic, Powertools'
HTTP resolver with validation, and ``shared.observability``'s Logger, Tracer and Metrics, which
hold no PIE logic) and declares one route answering one pydantic model. ``bench.cold_start`` times
its import beside the floor and PIE's functions: the part of a cold start PIE cannot remove
without dropping a library.
"""

import boto3  # noqa: F401  (the floor's import: every PIE function makes DynamoDB calls)
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from pydantic import BaseModel

from shared.observability import logger, tracer


class Thing(BaseModel):
    id: str
    name: str


app = APIGatewayHttpResolver(enable_validation=True)


@app.get("/things/<thing_id>")
def get_thing(thing_id: str) -> Thing:
    return Thing(id=thing_id, name="thing")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return app.resolve(event, context)

"""GET /v2/models/{model_id}/impact?event=... — what that event on the model would fire now, as a
tree through the chain, with the versions it would cut, the errors, cycles, the depth limit and
the job budget applied. Writes nothing."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from shared.domain.entities import TriggerEvent
from shared.domain.responses import ImpactResponse
from shared.http.api import route_api
from shared.http.params import ModelIdPath
from shared.runtime import chain_queries

api = route_api(__name__)


@api.handler
def get_model_impact(
    model_id: ModelIdPath,
    event: Annotated[TriggerEvent, Query(description="The event on this model whose impact to show")],
) -> ImpactResponse:
    return chain_queries().impact(model_id, event, api.access)


lambda_handler = api.lambda_handler

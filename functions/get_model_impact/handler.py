"""GET /v2/models/{model_id}/impact?event=...[&alias=...] — what that event on the model would fire
now, as a tree through the chain, with the versions it would cut, the errors, cycles, the depth
limit and the job budget applied; ``alias_set`` names the alias that moves. Writes nothing."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from shared.domain.entities import AliasName, TriggerEvent
from shared.domain.responses.chains import ImpactResponse
from shared.http.api import route_api
from shared.http.params import ModelIdPath
from shared.runtime import chain_queries

api = route_api(__name__)


@api.handler
def get_model_impact(
    model_id: ModelIdPath,
    event: Annotated[TriggerEvent, Query(description="The event on this model whose impact to show")],
    alias: Annotated[
        AliasName | None,
        Query(description="For alias_set (required there, refused otherwise): the alias that moves"),
    ] = None,
) -> ImpactResponse:
    return chain_queries().impact(model_id, event, api.access, alias)


lambda_handler = api.lambda_handler

"""POST /v2/handlers/check — would this deployment's handler policy (its allow-list and in-process
implementations) accept these handlers? One result per pair, the reasons a create would give with a
422. Writes nothing; `pie apply --plan` asks before any write."""

from shared.domain.requests import CheckHandlersRequest
from shared.domain.responses.models import CheckHandlersResponse, HandlerCheck
from shared.http.api import route_api
from shared.runtime import handler_policy

api = route_api(__name__)


@api.handler
def check_handlers(body: CheckHandlersRequest) -> CheckHandlersResponse:
    policy = handler_policy()
    return CheckHandlersResponse(results=[HandlerCheck(problems=policy.problems(pair)) for pair in body.handlers])


lambda_handler = api.lambda_handler

"""The error answers every route publishes (``shared.http.catalogue``): apart from the resources'
responses, so that a route imports only its own."""

from typing import Literal

from pydantic import ConfigDict

from shared.domain.entities import Resource


class ErrorResponse(Resource):
    model_config = ConfigDict(json_schema_extra={"required": ["success", "message"]})

    success: Literal[False] = False
    message: str


class InternalErrorResponse(ErrorResponse):
    model_config = ConfigDict(json_schema_extra={"required": ["success", "message", "request_id"]})

    request_id: str

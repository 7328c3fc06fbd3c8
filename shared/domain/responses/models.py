"""The model and version routes' responses."""

from pydantic import Field

from shared.domain.entities import Model, Resource, TriggeredEvent, Version


class ModelResponse(Resource):
    model: Model


class ModelVersionResponse(Resource):
    version: Version
    model: Model


class ModelList(Resource):
    models: list[Model]
    next_token: str | None


class VersionList(Resource):
    versions: list[Version]
    next_token: str | None


class StatusChangeResponse(Resource):
    model: Model
    version: Version
    triggered_events: list[TriggeredEvent]


class HandlerCheck(Resource):
    problems: list[str] = Field(
        description="Why creating a model with these handlers would be refused (422); empty when it would not."
    )


class CheckHandlersResponse(Resource):
    """One result per handler pair asked about, in the same order."""

    results: list[HandlerCheck]

"""The alias routes' responses."""

from pydantic import Field

from shared.domain.entities import Alias, AliasChange, Resource


class AliasResponse(Resource):
    alias: Alias


class AliasList(Resource):
    aliases: list[Alias]


class AliasHistory(Resource):
    history: list[AliasChange] = Field(description="Newest first; an entry whose version is null is a delete.")
    next_token: str | None

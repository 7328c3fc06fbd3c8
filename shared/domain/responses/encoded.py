"""A response already in its JSON form: stored documents spliced in as they are stored.

A read that answers what it read would otherwise decode each stored document into its entity and
encode it again, to the same text (``shared.data.entities.model_document`` says when a stored text is
exactly what encoding its entity gives today). ``Encoded`` builds the response's JSON from its fields in
the response model's own order, with each ``Json`` value spliced and any other value (a page
token, ``None``) encoded as the model would encode it; the route answers with it as it would with
the model (``shared.http.api``), and the OpenAPI document still describes the model.
"""

from __future__ import annotations

import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

R = TypeVar("R", bound=BaseModel)


class Json(str):
    """JSON text, spliced into a response as it is."""


class Encoded(Generic[R]):
    """``response``'s JSON, from all of its fields by name; ``etag``: the entity version the
    route's ETag names, read from the stored item since the entity is not decoded."""

    __slots__ = ("response", "text", "etag")

    def __init__(self, response: type[R], etag: int | None = None, **fields: Any) -> None:
        if tuple(fields) != tuple(response.model_fields):
            raise TypeError(f"{response.__name__} has the fields {tuple(response.model_fields)}, not {tuple(fields)}")
        self.response = response
        self.etag = etag
        self.text = "{" + ",".join(f"{json.dumps(name)}:{_encoded(value)}" for name, value in fields.items()) + "}"

    @classmethod
    def of(cls, response: R, etag: int | None = None) -> Encoded[R]:
        """A response built as a model, encoded (a route answering ``Encoded`` on every path)."""
        encoded = cls.__new__(cls)
        encoded.response, encoded.etag, encoded.text = type(response), etag, response.model_dump_json()
        return encoded

    def decoded(self) -> R:
        """The response as its model again."""
        return self.response.model_validate_json(self.text)


def _encoded(value: Any) -> str:
    if isinstance(value, Json):
        return value
    if isinstance(value, list):
        return "[" + ",".join(map(_encoded, value)) + "]"
    if value is None or isinstance(value, (str, int, bool)):
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(
        f"an encoded response takes JSON text, lists, strings, numbers and None, not {type(value).__name__}"
    )

"""Tags: free string labels on models and versions, changed one key at a time. Pure: no I/O.

A tag never cuts a version and never marks a subscription stale (it is not a handler or a
contract); it bumps its resource's ``entity_version`` like every write.
"""

from typing import Annotated

from pydantic import Field, StringConstraints

from shared.domain.errors import TagNotFoundError, TooManyTagsError

TAG_KEY_PATTERN = r"^[A-Za-z0-9_.:/-]{1,128}$"
MAX_TAG_VALUE_LENGTH = 256
MAX_TAGS = 50

TagKey = Annotated[str, StringConstraints(pattern=TAG_KEY_PATTERN)]
TagValue = Annotated[str, StringConstraints(max_length=MAX_TAG_VALUE_LENGTH)]
Tags = Annotated[
    dict[TagKey, TagValue],
    Field(
        max_length=MAX_TAGS,
        description=f"Labels (at most {MAX_TAGS}; keys {TAG_KEY_PATTERN}, values at most "
        f"{MAX_TAG_VALUE_LENGTH} characters), searchable with filter=tags.<key> = '<value>'.",
        # A key outside the pattern is refused: the schema says so rather than only listing the pattern.
        json_schema_extra={"additionalProperties": False},
    ),
]


def with_tag(tags: dict[str, str], key: str, value: str, what: str) -> dict[str, str]:
    """``tags`` with ``key`` set to ``value``; a new key past the limit is refused (422)."""
    if key not in tags and len(tags) >= MAX_TAGS:
        raise TooManyTagsError(what, MAX_TAGS)
    return {**tags, key: value}


def without_tag(tags: dict[str, str], key: str, what: str) -> dict[str, str]:
    """``tags`` without ``key``; a key it does not hold is a 404."""
    if key not in tags:
        raise TagNotFoundError(what, key)
    return {name: value for name, value in tags.items() if name != key}

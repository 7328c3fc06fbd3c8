"""A model read answers its stored document as it is stored, when that is exactly what decoding
and encoding it again would give (``shared.data.entities.model_document``), and re-encodes it
otherwise; ``Encoded`` responses splice it into the response's JSON in the model's own shape."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.data.entities import DOCUMENT_FORMAT_ATTRIBUTE, MODEL_DOCUMENT_FORMAT, MODELS, model_document
from shared.data.items import decoded
from shared.domain.entities import Model
from shared.domain.records import ModelRecord
from shared.domain.responses.encoded import Encoded, Json
from shared.domain.responses.models import ModelList, ModelResponse
from tests.unit.entity_samples import a_model

# The serialization schema each model document format was written with (titles, descriptions and
# examples left out: they change no document). A change to what encoding a Model writes changes
# the schema: raise MODEL_DOCUMENT_FORMAT and add its schema here, so that documents stored in the
# old format are decoded and encoded again instead of answered as stored. A change the schema does
# not show (a serializer, an exclusion rule) needs the same raise, by hand; a library upgrade that
# only redraws the schema costs one raise and a re-encoding, never a wrong answer.
MODEL_FORMAT_SCHEMAS = {1: "f0b1ffa09dcfbd51e6bc772609b223309770ea5423730fcc9e3dbae8933e0bcf"}


def _shape(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _shape(v) for k, v in schema.items() if k not in ("title", "description", "examples")}
    if isinstance(schema, list):
        return [_shape(v) for v in schema]
    return schema


def model_schema_digest() -> str:
    schema = _shape(Model.model_json_schema(mode="serialization"))
    return hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()


def stored(model: Model) -> dict[str, Any]:
    return MODELS.encode(ModelRecord(model, version_sequence=3, highest_numeric_version=2))


def test_the_model_document_format_names_the_schema_its_documents_are_written_with():
    assert MODEL_FORMAT_SCHEMAS.get(MODEL_DOCUMENT_FORMAT) == model_schema_digest(), (
        "what a Model encodes to has changed: raise MODEL_DOCUMENT_FORMAT in shared/data/entities.py "
        "and pin the new schema here"
    )


def test_a_model_item_written_today_is_answered_as_stored_with_its_workspace_and_version():
    model = a_model(workspace="team-x")
    item = stored(model)
    document = model_document(item)
    assert document.text is item["doc"]["S"]  # not decoded and encoded again
    assert (document.workspace, document.entity_version) == ("team-x", model.entity_version)
    assert document.text == model.model_dump_json()


def test_a_model_item_written_before_the_format_is_decoded_and_encoded_in_todays_shape():
    item = stored(a_model())
    del item[DOCUMENT_FORMAT_ATTRIBUTE], item["workspace"]
    old = json.loads(item["doc"]["S"])
    del old["tags"]  # written before models had tags
    del old["workspace"]  # and before workspaces
    item["doc"] = {"S": json.dumps(old)}
    document = model_document(item)
    assert json.loads(document.text)["tags"] == {}
    assert document.workspace == json.loads(document.text)["workspace"] == "default"
    assert document.text == decoded(Model, item).model_dump_json()


def test_a_model_item_of_another_format_is_decoded_and_encoded_again():
    item = stored(a_model())
    item[DOCUMENT_FORMAT_ATTRIBUTE] = {"N": str(MODEL_DOCUMENT_FORMAT + 1)}
    item["doc"] = {"S": json.dumps(json.loads(item["doc"]["S"]), indent=2)}  # same model, other text
    document = model_document(item)
    assert document.text != item["doc"]["S"]
    assert document.text == a_model().model_dump_json()


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    metadata=st.dictionaries(st.text(max_size=10), _json, max_size=5),
    description=st.text(max_size=40),
    name=st.text(min_size=1, max_size=20),
    tags=st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), st.text(max_size=10), max_size=3),
    promoted=st.booleans(),
    protected=st.lists(st.sampled_from(["champion", "prod", "shadow"]), unique=True, max_size=2),
    contracts=st.booleans(),
)
def test_a_stored_document_is_exactly_what_decoding_and_encoding_it_gives(
    metadata: dict[str, Any],
    description: str,
    name: str,
    tags: dict[str, str],
    promoted: bool,
    protected: list[str],
    contracts: bool,
):
    model = a_model(
        metadata=metadata,
        description=description,
        name=name,
        tags=tags,
        promotion={"alias": "champion"} if promoted else None,
        protected_aliases=protected,
        handler_contracts={"inference": {"input_schema": {"type": "object"}}} if contracts else None,
    )
    item = stored(model)
    text = model_document(item).text
    again = decoded(Model, item)
    assert text == again.model_dump_json()
    assert Encoded(ModelResponse, etag=1, model=Json(text)).text == ModelResponse(model=again).model_dump_json()


@pytest.mark.parametrize("token", [None, "eyJrIjoiXHUwMGU5In0=", 'é/"\\\n'])
def test_an_encoded_list_is_the_json_of_the_same_list_built_as_a_model(token: str | None):
    models = [a_model(), a_model(workspace="team-x", metadata={"price": "価格", "x": [1.5, None]})]
    encoded = Encoded(ModelList, models=[Json(m.model_dump_json()) for m in models], next_token=token)
    assert encoded.text == ModelList(models=models, next_token=token).model_dump_json()
    assert encoded.decoded() == ModelList(models=models, next_token=token)
    assert Encoded(ModelList, models=[], next_token=None).text == '{"models":[],"next_token":null}'


def test_an_encoded_response_takes_exactly_its_models_fields_in_order():
    with pytest.raises(TypeError, match="next_token"):
        Encoded(ModelList, models=[])
    with pytest.raises(TypeError, match="models"):
        Encoded(ModelList, next_token=None, models=[])
    with pytest.raises(TypeError, match="not dict"):
        Encoded(ModelList, models=[{"id": "m"}], next_token=None)


def test_a_response_built_as_a_model_encodes_to_its_own_json():
    response = ModelResponse(model=a_model())
    encoded = Encoded.of(response, etag=7)
    assert (encoded.response, encoded.etag, encoded.text) == (ModelResponse, 7, response.model_dump_json())

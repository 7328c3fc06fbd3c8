"""A model read answers its stored document as it is stored, when that is exactly what decoding
and encoding it again would give (``shared.data.entities.model_document``), and re-encodes it
otherwise; ``Encoded`` responses splice it into the response's JSON in the model's own shape."""

from __future__ import annotations

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

# What encoding a Model wrote in each document format, for samples that set every field (with each
# kind) and none of the optional ones. A change to what encoding a Model writes (a field, a default,
# an exclusion, a serializer) changes one of them: raise MODEL_DOCUMENT_FORMAT and pin the new
# documents here, so that documents stored in the old format are decoded and encoded again instead
# of answered as stored. A change to what *decoding* does to a stored value (a validator that
# normalizes it) needs the same raise, by hand.
EVERY_FIELD = {
    "workspace": "team-x",
    "tags": {"team": "pricing"},
    "protected_aliases": ["champion"],
    "promotion": {"alias": "champion"},
}
SAMPLES: dict[str, dict[str, Any]] = {
    "no optional field": {},
    "every field, in-process and Lambda": {
        **EVERY_FIELD,
        "handlers": {
            "training": {"type": "in_process", "implementation": "echo", "timeout_seconds": 60},
            "inference": {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:score"},
        },
        "handler_contracts": {
            "training": {"input_schema": {"type": "object"}, "output_schema": None},
            "inference": None,
        },
    },
    "every field, ECS and Step Functions": {
        **EVERY_FIELD,
        "handlers": {
            "training": {"type": "ecs", "task": "ml-cluster/train-price-model:3", "timeout_seconds": 600},
            "inference": {
                "type": "step_functions",
                "state_machine_arn": "arn:aws:states:us-west-2:123456789012:stateMachine:score",
            },
        },
        "handler_contracts": {
            "training": None,
            "inference": {"input_schema": None, "output_schema": {"type": "object"}},
        },
    },
}
_TAIL = (
    '"status":"active","latest_version":"12","active_version":"12","entity_version":7,'
    '"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:01:00Z","created_by":"alice"}'
)
_METADATA = '"metadata":{"score":0.25,"nested":{"list":[1,2.5,null]}}'
DOCUMENTS_BY_FORMAT: dict[int, dict[str, str]] = {
    1: {
        "no optional field": (
            '{"id":"model_a","workspace":"default","name":"A","description":"","handlers":{"training":'
            '{"type":"in_process","implementation":"echo"},"inference":{"type":"lambda","arn":'
            '"arn:aws:lambda:us-west-2:123456789012:function:score"}},"handler_contracts":null,'
            f'{_METADATA},"tags":{{}},{_TAIL}'
        ),
        "every field, in-process and Lambda": (
            '{"id":"model_a","workspace":"team-x","name":"A","description":"","handlers":{"training":'
            '{"timeout_seconds":60,"type":"in_process","implementation":"echo"},"inference":{"type":"lambda",'
            '"arn":"arn:aws:lambda:us-west-2:123456789012:function:score"}},"handler_contracts":{"training":'
            '{"input_schema":{"type":"object"},"output_schema":null},"inference":null},'
            f'{_METADATA},"tags":{{"team":"pricing"}},"protected_aliases":["champion"],'
            f'"promotion":{{"alias":"champion"}},{_TAIL}'
        ),
        "every field, ECS and Step Functions": (
            '{"id":"model_a","workspace":"team-x","name":"A","description":"","handlers":{"training":'
            '{"timeout_seconds":600,"type":"ecs","task":"ml-cluster/train-price-model:3"},"inference":'
            '{"type":"step_functions","state_machine_arn":"arn:aws:states:us-west-2:123456789012:stateMachine:score"}},'
            '"handler_contracts":{"training":null,"inference":{"input_schema":null,"output_schema":{"type":"object"}}},'
            f'{_METADATA},"tags":{{"team":"pricing"}},"protected_aliases":["champion"],'
            f'"promotion":{{"alias":"champion"}},{_TAIL}'
        ),
    }
}


def stored(model: Model) -> dict[str, Any]:
    return MODELS.encode(ModelRecord(model, version_sequence=3, highest_numeric_version=2))


@pytest.mark.parametrize("sample", SAMPLES)
def test_the_model_document_format_names_what_encoding_a_model_writes(sample: str):
    written = a_model(**SAMPLES[sample]).model_dump_json()
    assert DOCUMENTS_BY_FORMAT.get(MODEL_DOCUMENT_FORMAT, {}).get(sample) == written, (
        "what a Model encodes to has changed: raise MODEL_DOCUMENT_FORMAT in shared/data/entities.py "
        "and pin the new documents here"
    )
    assert decoded(Model, {"doc": {"S": written}}).model_dump_json() == written


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

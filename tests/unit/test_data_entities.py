"""Every item type's codec: an entity survives encoding and decoding unchanged, its item carries the
keys and index attributes the table's indexes read, and a stream image decodes like a stored item."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from shared.data import keys
from shared.data.entities import (
    BOUND_JOB_ATTRIBUTE,
    FANOUTS,
    JOBS,
    MODEL_TAGS,
    MODELS,
    SUBSCRIPTIONS,
    VERSION_ATTRIBUTE,
    VERSION_TAGS,
    VERSIONS,
    EntityDescriptor,
    FanOut,
    ModelTag,
    VersionRecord,
    VersionTag,
    idempotency_record_options,
)
from shared.data.items import key
from shared.data.table import INDEXES, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE
from shared.domain import entities as entities_module
from shared.domain import json_schema
from shared.domain.entities import Job, Model, RetryPolicy
from shared.domain.records import ModelRecord
from tests.unit.entity_samples import HANDLERS, NOW, a_job, a_model, a_subscription, a_version

ROUND_TRIPS: list[tuple[EntityDescriptor[Any], Any]] = [
    (MODELS, ModelRecord(a_model(), version_sequence=14, highest_numeric_version=10**60, activation_order=("3", "12"))),
    (MODELS, ModelRecord(a_model(workspace="team-x"), version_sequence=1, highest_numeric_version=1)),
    (VERSIONS, VersionRecord(a_version(), sequence=14)),
    (VERSIONS, VersionRecord(a_version(training_job_id="2b4e28ba-2fa1-11d2-883f-0016d3cca427"), sequence=3)),
    (SUBSCRIPTIONS, a_subscription()),
    (JOBS, a_job("queued")),
    (JOBS, a_job("dispatched").model_copy(update={"deadline_at": NOW + timedelta(hours=1)})),
    (JOBS, a_job("succeeded")),
    (FANOUTS, FanOut("model_a", "model_a/1@3", 2, (a_job(), a_job(job_id="9c8b7a6e-2fa1-11d2-883f-0016d3cca427")))),
    (MODEL_TAGS, ModelTag("model_a", "team-x", "team/owner", "O'Brien # 価格")),
    (VERSION_TAGS, VersionTag("model_a", "3", 14, "stage", "x" * 256)),
]


@pytest.mark.parametrize(("descriptor", "entity"), ROUND_TRIPS, ids=lambda v: getattr(v, "name", None))
def test_every_entity_decodes_from_its_item_unchanged(descriptor: EntityDescriptor[Any], entity: Any):
    item = descriptor.encode(entity)

    assert descriptor.decode(item) == entity
    assert descriptor.holds(item)
    assert item["entity_type"] == {"S": descriptor.entity_type}
    assert {PARTITION_KEY: item[PARTITION_KEY], SORT_KEY: item[SORT_KEY]} == key(descriptor.key(entity))
    if descriptor.version_attribute is not None:
        assert item[descriptor.version_attribute] == {"N": str(entity_of(entity).entity_version)}


def test_stored_integer_settings_read_as_before_now_that_requests_take_only_integers():
    """Requests refuse "5", true and 5.0 for integer settings; what PIE stored reads unchanged."""
    handlers = {**HANDLERS, "inference": {**HANDLERS["inference"], "timeout_seconds": 600}}
    model = a_model(handlers=handlers)
    subscription = a_subscription().model_copy(update={"retry": RetryPolicy(max_attempts=5, backoff_seconds=60)})
    job = Job.model_validate({**a_job().model_dump(), "handler": handlers["inference"], "max_attempts": 3})
    stored = [
        (MODELS, ModelRecord(model, version_sequence=1, highest_numeric_version=1)),
        (SUBSCRIPTIONS, subscription),
        (JOBS, job),
        (FANOUTS, FanOut("model_a", "model_a/1@3", 1, (job,))),
    ]

    for descriptor, entity in stored:
        assert descriptor.decode(descriptor.encode(entity)) == entity
    assert MODELS.decode(MODELS.encode(stored[0][1])).model.handlers.inference.timeout_seconds == 600


@pytest.mark.parametrize(("descriptor", "entity"), ROUND_TRIPS, ids=lambda v: getattr(v, "name", None))
def test_every_item_holds_both_key_attributes_of_each_global_index_it_is_in_or_neither(
    descriptor: EntityDescriptor[Any], entity: Any
):
    item = descriptor.encode(entity)

    for index in (i for i in INDEXES if not i.local):
        assert (index.partition_key in item) == (index.sort_key in item), index.name


def test_no_two_item_types_share_an_entity_type():
    descriptors = [MODELS, VERSIONS, SUBSCRIPTIONS, JOBS, FANOUTS, MODEL_TAGS, VERSION_TAGS]
    assert len({d.entity_type for d in descriptors}) == len(descriptors)
    assert [d for d in descriptors if d.holds(JOBS.encode(a_job()))] == [JOBS]


def test_a_model_carries_its_list_keys_and_its_counters_beside_the_document():
    item = MODELS.encode(ModelRecord(a_model(), version_sequence=14, highest_numeric_version=10**60))

    assert item["GSI1PK"] == {"S": keys.all_models_partition()}
    assert item["GSI2PK"] == {"S": keys.models_by_status_partition("active")}
    # 61 digits do not fit a DynamoDB number (38): the counter is a string.
    assert item["highest_numeric_version"] == {"S": str(10**60)}


def test_a_version_in_training_names_its_job_beside_the_document_and_others_do_not():
    bound = VERSIONS.encode(VersionRecord(a_version(training_job_id="job-1"), sequence=1))
    free = VERSIONS.encode(VersionRecord(a_version(), sequence=1))

    assert bound[BOUND_JOB_ATTRIBUTE] == {"S": "job-1"}
    assert BOUND_JOB_ATTRIBUTE not in free
    assert free["LSI1SK"] == key(keys.version_order_key(1))["LSI1SK"]


def test_only_live_jobs_are_in_the_due_index():
    assert "GSI3PK" in JOBS.encode(a_job("queued"))
    assert "GSI3PK" not in JOBS.encode(a_job("succeeded"))


def test_a_stream_image_decodes_with_the_same_codec_as_a_stored_item():
    """DynamoDB Streams carry NewImage in the attribute-value format of GetItem."""
    job = a_job()
    image = JOBS.encode(job)

    assert JOBS.decode(image) == job
    assert JOBS.status(image) == "queued"
    assert MODELS.status(image) == "queued"  # the index attribute, whatever the type


def test_the_fan_out_item_is_one_json_array_of_job_documents():
    first, second = a_job(), a_job(job_id="9c8b7a6e-2fa1-11d2-883f-0016d3cca427")
    item = FANOUTS.encode(FanOut("model_a", "change#with#hashes", 7, (first, second)))

    assert item["doc"] == {"S": f"[{first.model_dump_json()},{second.model_dump_json()}]"}
    assert FANOUTS.decode(item).change == "change#with#hashes"
    assert FANOUTS.decode(item).part == 7
    assert FANOUTS.version_attribute is None


def test_idempotency_records_live_in_their_partition_and_expire_through_the_tables_ttl():
    options = idempotency_record_options()

    assert options == {
        "key_attr": PARTITION_KEY,
        "sort_key_attr": SORT_KEY,
        "static_pk_value": keys.IDEMPOTENCY_PARTITION,
        "expiry_attr": TTL_ATTRIBUTE,
    }


def test_the_version_attribute_is_entity_version():
    assert VERSION_ATTRIBUTE == "entity_version"
    assert {d.version_attribute for d in (MODELS, VERSIONS, SUBSCRIPTIONS, JOBS)} == {VERSION_ATTRIBUTE}


def entity_of(stored: Any) -> Any:
    """The API entity inside a record (the record itself for the others)."""
    if isinstance(stored, ModelRecord):
        return stored.model
    if isinstance(stored, VersionRecord):
        return stored.version
    return stored


def test_a_model_carries_its_name_key_sorted_as_its_name_then_its_list_key():
    named = [("ab", "z"), ("ab c", "a"), ("abc", "a"), ("ab", "a"), ("Ab", "q"), ("é", "e"), ("a#b", "h")]
    items = {pair: MODELS.encode(ModelRecord(a_model(id=pair[1], name=pair[0]), 1, 1)) for pair in named}

    assert {item["GSI3PK"]["S"] for item in items.values()} == {keys.models_by_name_partition()}
    by_key = sorted(named, key=lambda pair: items[pair]["GSI3SK"]["S"])
    assert by_key == sorted(named)
    assert items[("ab", "a")]["GSI3SK"]["S"].startswith(keys.exact_name_prefix("ab"))
    assert not items[("abc", "a")]["GSI3SK"]["S"].startswith(keys.exact_name_prefix("ab"))
    assert items[("abc", "a")]["GSI3SK"]["S"].startswith(keys.name_key_prefix("ab"))


def test_a_name_key_fits_a_sort_key_whatever_the_name():
    longest = a_model(workspace="w" * 64, id="m" * 128, name="価" * 256)
    item = MODELS.encode(ModelRecord(longest, 1, 1))
    assert len(item["GSI3SK"]["S"].encode()) <= 1024


def test_tag_index_items_key_a_value_by_its_digest_and_a_version_by_its_order():
    model_tag = MODEL_TAGS.encode(ModelTag("model_a", "team-x", "team", "a#b"))
    assert model_tag["GSI1PK"]["S"] == keys.models_tagged_partition("team", "a#b")
    assert model_tag["GSI1SK"]["S"] == keys.model_in_workspace("team-x", "model_a")
    assert keys.models_tagged_partition("team", "a#b") != keys.models_tagged_partition("team", "a")
    older = VERSION_TAGS.encode(VersionTag("model_a", "9", 2, "stage", "prod"))
    newer = VERSION_TAGS.encode(VersionTag("model_a", "10", 11, "stage", "prod"))
    assert older["SK"]["S"] < newer["SK"]["S"]
    assert older["SK"]["S"].startswith(keys.version_tag_prefix("stage", "prod"))
    assert len(VERSION_TAGS.encode(VersionTag("m", "1", 1, "k" * 128, "価" * 256))["SK"]["S"].encode()) <= 1024


# Stored documents are read back without the input checks (shared.domain.stored) --------------

CONTRACTS = {"training": {"input_schema": {"type": "object", "properties": {"rows": {"type": "integer"}}}}}


def test_a_stored_model_is_read_without_checking_its_contracts_or_metadata_again(monkeypatch: pytest.MonkeyPatch):
    record = ModelRecord(a_model(handler_contracts=CONTRACTS), version_sequence=1, highest_numeric_version=1)
    item = MODELS.encode(record)
    checked: list[str] = []
    monkeypatch.setattr(json_schema, "check_schema", lambda schema: checked.append("schema"))
    monkeypatch.setattr(entities_module, "json", _CountingJson(checked))

    assert MODELS.decode(item) == record
    assert checked == []

    Model.model_validate_json(item["doc"]["S"])  # the same document as input is checked in full
    assert "schema" in checked
    assert "metadata" in checked


def test_a_stored_job_is_read_without_walking_its_input_again(monkeypatch: pytest.MonkeyPatch):
    job = a_job("queued")
    item = JOBS.encode(job)
    checked: list[str] = []
    monkeypatch.setattr(entities_module, "json", _CountingJson(checked))

    assert JOBS.decode(item) == job
    assert FANOUTS.decode(FANOUTS.encode(FanOut("model_a", "model_a/1@3", 1, (job,)))).jobs == (job,)
    assert checked == []


def test_input_is_still_refused_what_a_stored_document_is_not_checked_for():
    with pytest.raises(ValidationError, match="NaN and Infinity"):
        a_model(metadata={"score": float("nan")})
    with pytest.raises(ValidationError):
        a_model(handler_contracts={"training": {"input_schema": {"type": "no such type"}}})


class _CountingJson:
    """Stands in for ``json`` in ``shared.domain.entities``: notes each metadata walk."""

    def __init__(self, checked: list[str]):
        self._checked = checked

    def dumps(self, value: Any, **options: Any) -> str:
        self._checked.append("metadata")
        return json.dumps(value, **options)


def test_the_activation_order_is_one_string_and_an_item_written_as_a_list_still_reads():
    record = ModelRecord(a_model(), version_sequence=3, highest_numeric_version=3, activation_order=("1", "v-2", "3"))
    item = MODELS.encode(record)

    assert item["activation_order"] == {"S": '["1","v-2","3"]'}
    written_before = {**item, "activation_order": {"L": [{"S": "1"}, {"S": "v-2"}, {"S": "3"}]}}
    assert MODELS.decode(written_before) == MODELS.decode(item) == record
    assert MODELS.decode({k: v for k, v in item.items() if k != "activation_order"}).activation_order == ()

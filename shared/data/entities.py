"""One descriptor per item type of the single table: its key, its codec and its version attribute.

Each item stores its entity as a JSON document (``doc``) next to its key, index and condition
attributes (``shared.data.items``). The stores, the outbox and the stream dispatcher encode and
decode items only through these descriptors: a stream image has the attribute-value format of a
stored item, so one codec reads both.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from shared.data import keys
from shared.data.items import decoded, doc_text, document, key, n, s
from shared.data.table import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE
from shared.domain import job_events
from shared.domain.entities import Alias, AliasChange, Job, Model, Subscription, Version
from shared.domain.events import Event
from shared.domain.records import AliasChangeRecord, Document, ModelRecord
from shared.domain.stored import STORED
from shared.domain.supervision import due_at

if TYPE_CHECKING:  # their item types live in shared.data.webhook_entities
    from shared.domain.webhooks import Delivery, Webhook

Item = dict[str, Any]
E = TypeVar("E")

# The attribute every conditional replace compares (``shared.data.save``).
VERSION_ATTRIBUTE = "entity_version"
# A version in training names its job here too (``Version.training_job_id``).
BOUND_JOB_ATTRIBUTE = "training_job_id"
# A job's completion token: an attribute of its item, never in its document (which the API returns).
COMPLETION_TOKEN_ATTRIBUTE = "completion_token"


@dataclass(frozen=True)
class VersionRecord:
    """A version with its place in its model's creation order (LSI1; never part of the API)."""

    version: Version
    sequence: int


@dataclass(frozen=True)
class FanOut:
    """Outbox overflow: part ``part`` of the jobs ``change`` fired that did not fit in its
    transaction (``shared.data.outbox``)."""

    source_model_id: str
    change: str
    part: int
    jobs: tuple[Job, ...]


@dataclass(frozen=True)
class EntityDescriptor(Generic[E]):
    """An item type: ``name`` is what errors about its items call it (``StaleEntityError.entity``),
    ``entity_type`` the attribute that tells its items apart, ``version_attribute`` what a
    conditional replace compares (None: its items are only ever created)."""

    name: str
    entity_type: str
    key: Callable[[E], dict[str, str]]
    encode: Callable[[E], Item]
    decode: Callable[[Item], E]
    version_attribute: str | None = VERSION_ATTRIBUTE

    def holds(self, item: Item) -> bool:
        """Whether ``item`` (a stored item or a stream image) is one of this type's."""
        return item.get("entity_type", {}).get("S") == self.entity_type

    def status(self, item: Item) -> str | None:
        """The item's ``status`` index attribute, read without decoding the document."""
        return item.get("status", {}).get("S")


def entity_attributes(entity_type: str, entity: Model | Version | Subscription | Job | Webhook | Delivery) -> Item:
    """What every versioned item carries beside its keys: its type, version, status, timestamps
    and document."""
    return {
        "entity_type": s(entity_type),
        VERSION_ATTRIBUTE: n(entity.entity_version),
        "status": s(entity.status),
        "created_at": s(entity.created_at.isoformat()),
        "updated_at": s(entity.updated_at.isoformat()),
        "doc": document(entity),
    }


# Models ---------------------------------------------------------------------------------------


def _model_key(record: ModelRecord) -> dict[str, str]:
    return keys.model_key(record.model.id)


# The format of a model item's document: what encoding a ``Model`` gives today. Raise it with any
# change to what that encoding writes (a field, a default, an exclusion, a serializer) or to what
# decoding makes of a stored value: tests/unit/test_stored_documents.py pins each format's documents.
MODEL_DOCUMENT_FORMAT = 1
DOCUMENT_FORMAT_ATTRIBUTE = "doc_format"


def model_document(item: Item) -> Document:
    """The model item's document: as stored when it is in today's format (``MODEL_DOCUMENT_FORMAT``),
    else decoded and encoded again (an item written before, or by code of another format)."""
    stamp = item.get(DOCUMENT_FORMAT_ATTRIBUTE)
    if stamp is not None and stamp.get("N") == _MODEL_FORMAT and "workspace" in item:
        return Document(doc_text(item), item["workspace"]["S"], int(item[VERSION_ATTRIBUTE]["N"]))
    model = decoded(Model, item)
    return Document(model.model_dump_json(), model.workspace, model.entity_version)


_MODEL_FORMAT = str(MODEL_DOCUMENT_FORMAT)


def _encode_model(record: ModelRecord) -> Item:
    model = record.model
    return {
        **key(_model_key(record)),
        **key(keys.model_index_keys(model.id, model.status, model.workspace)),
        **key(keys.model_name_keys(model.name, model.workspace, model.id)),
        **entity_attributes(keys.MODEL_ENTITY, model),
        "version_sequence": n(record.version_sequence),
        # A string: numeric versions may have up to 64 digits, DynamoDB numbers hold 38.
        "highest_numeric_version": s(str(record.highest_numeric_version)),
        # One string (a JSON list), not a list of strings: a model with many active versions
        # would otherwise carry one value per version through every write of the model.
        "activation_order": s(json.dumps(record.activation_order, separators=(",", ":"))),
        # Beside the document, which a read may answer as stored (``model_document``).
        "workspace": s(model.workspace),
        DOCUMENT_FORMAT_ATTRIBUTE: n(MODEL_DOCUMENT_FORMAT),
    }


def _decode_model(item: Item) -> ModelRecord:
    return ModelRecord(
        model=decoded(Model, item),
        version_sequence=int(item["version_sequence"]["N"]),
        highest_numeric_version=int(item["highest_numeric_version"]["S"]),
        activation_order=_activation_order(item.get("activation_order")),
    )


def _activation_order(value: Any) -> tuple[str, ...]:
    """The stored activation order: a JSON list in one string, or (written before) a list of strings."""
    if value is None:
        return ()
    if "S" in value:
        return tuple(json.loads(value["S"]))
    return tuple(version["S"] for version in value["L"])


MODELS: EntityDescriptor[ModelRecord] = EntityDescriptor(
    "model", keys.MODEL_ENTITY, _model_key, _encode_model, _decode_model
)


# Versions -------------------------------------------------------------------------------------


def _version_key(record: VersionRecord) -> dict[str, str]:
    return keys.version_key(record.version.model_id, record.version.version)


def _encode_version(record: VersionRecord) -> Item:
    return {
        **key(_version_key(record)),
        **key(keys.version_order_key(record.sequence)),
        **version_attributes(record.version),
    }


def version_attributes(version: Version) -> Item:
    """A version item's attributes beside its keys: what an in-place update of the version sets
    (its creation order key never changes, and the version alone does not know it)."""
    attributes = entity_attributes(keys.VERSION_ENTITY, version)
    if version.training_job_id is not None:
        # Beside the document too, so that a completion's condition can name the job it expects.
        attributes[BOUND_JOB_ATTRIBUTE] = s(version.training_job_id)
    return attributes


def _decode_version(item: Item) -> VersionRecord:
    return VersionRecord(
        version=decoded(Version, item),
        sequence=keys.version_sequence(item["LSI1SK"]["S"]),
    )


VERSIONS: EntityDescriptor[VersionRecord] = EntityDescriptor(
    "version", keys.VERSION_ENTITY, _version_key, _encode_version, _decode_version
)


# Subscriptions --------------------------------------------------------------------------------


def _subscription_key(subscription: Subscription) -> dict[str, str]:
    return keys.subscription_key(subscription.source_model_id, subscription.id)


def _encode_subscription(subscription: Subscription) -> Item:
    return {
        **key(_subscription_key(subscription)),
        **key(keys.subscription_target_keys(subscription.target_model_id, subscription.id)),
        **entity_attributes(keys.SUBSCRIPTION_ENTITY, subscription),
        "trigger_event": s(subscription.trigger_event),
    }


def _decode_subscription(item: Item) -> Subscription:
    return decoded(Subscription, item)


SUBSCRIPTIONS: EntityDescriptor[Subscription] = EntityDescriptor(
    "subscription", keys.SUBSCRIPTION_ENTITY, _subscription_key, _encode_subscription, _decode_subscription
)


# The firing index (``shared.data.keys``): an active subscription's copy under its event, written in
# the same transaction as every change of the subscription, and one marker per (model, event).


def _active_subscription_key(subscription: Subscription) -> dict[str, str]:
    return keys.active_subscription_key(subscription.source_model_id, subscription.trigger_event, subscription.id)


def _encode_active_subscription(subscription: Subscription) -> Item:
    # No index keys: the target index (GSI1) lists each subscription once, by its own item.
    return {
        **key(_active_subscription_key(subscription)),
        "entity_type": s(keys.ACTIVE_SUBSCRIPTION_ENTITY),
        VERSION_ATTRIBUTE: n(subscription.entity_version),
        "doc": document(subscription),
    }


ACTIVE_SUBSCRIPTIONS: EntityDescriptor[Subscription] = EntityDescriptor(
    "active subscription",
    keys.ACTIVE_SUBSCRIPTION_ENTITY,
    _active_subscription_key,
    _encode_active_subscription,
    _decode_subscription,
    version_attribute=None,
)


@dataclass(frozen=True)
class FiringIndex:
    """The marker saying a model's active subscriptions of ``event`` are all indexed."""

    model_id: str
    event: str


def _firing_index_key(marker: FiringIndex) -> dict[str, str]:
    return keys.firing_index_key(marker.model_id, marker.event)


def _encode_firing_index(marker: FiringIndex) -> Item:
    return {**key(_firing_index_key(marker)), "entity_type": s(keys.FIRING_INDEX_ENTITY)}


def _decode_firing_index(item: Item) -> FiringIndex:
    prefix = item["SK"]["S"]
    return FiringIndex(item["PK"]["S"].removeprefix(keys.model_partition("")), prefix.split("#")[1])


FIRING_INDEXES: EntityDescriptor[FiringIndex] = EntityDescriptor(
    "firing index",
    keys.FIRING_INDEX_ENTITY,
    _firing_index_key,
    _encode_firing_index,
    _decode_firing_index,
    version_attribute=None,
)


def subscription_items(subscription: Subscription) -> list[Item]:
    """The items a stored subscription has: its own and, while it is active, its index entry."""
    entry = [_encode_active_subscription(subscription)] if subscription.status == "active" else []
    return [_encode_subscription(subscription), *entry]


def firing_indexes(model_id: str) -> list[FiringIndex]:
    """The markers a new model is created with: it has no subscriptions, so each index is complete."""
    return [FiringIndex(model_id, event) for event in job_events.EVENT_NAMES]


# Aliases --------------------------------------------------------------------------------------


def _alias_key(alias: Alias) -> dict[str, str]:
    return keys.alias_key(alias.model_id, alias.name)


def _encode_alias(alias: Alias) -> Item:
    return {
        **key(_alias_key(alias)),
        "entity_type": s(keys.ALIAS_ENTITY),
        VERSION_ATTRIBUTE: n(alias.entity_version),
        "target_version": s(alias.version),
        "doc": document(alias),
    }


def _decode_alias(item: Item) -> Alias:
    return decoded(Alias, item)


ALIASES: EntityDescriptor[Alias] = EntityDescriptor(
    "alias", keys.ALIAS_ENTITY, _alias_key, _encode_alias, _decode_alias
)


def _alias_change_key(record: AliasChangeRecord) -> dict[str, str]:
    return keys.alias_change_key(record.model_id, record.name, record.change.at, record.entity_version)


def _encode_alias_change(record: AliasChangeRecord) -> Item:
    return {
        **key(_alias_change_key(record)),
        "entity_type": s(keys.ALIAS_CHANGE_ENTITY),
        "alias": s(record.name),
        VERSION_ATTRIBUTE: n(record.entity_version),
        "doc": document(record.change),
    }


def _decode_alias_change(item: Item) -> AliasChangeRecord:
    return AliasChangeRecord(
        model_id=item["PK"]["S"].removeprefix(keys.model_partition("")),
        name=item["alias"]["S"],
        change=decoded(AliasChange, item),
        entity_version=int(item[VERSION_ATTRIBUTE]["N"]),
    )


ALIAS_CHANGES: EntityDescriptor[AliasChangeRecord] = EntityDescriptor(
    "alias history entry",
    keys.ALIAS_CHANGE_ENTITY,
    _alias_change_key,
    _encode_alias_change,
    _decode_alias_change,
    version_attribute=None,
)


# Tag index items ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelTag:
    """One tag of a model, as its own item: what makes ``tags.<key> = '<value>'`` a Query. The
    model's document holds the tags too; these items only index them, written in the same
    transaction as every change of the model's tags."""

    model_id: str
    workspace: str
    key: str
    value: str


@dataclass(frozen=True)
class VersionTag:
    """One tag of a version, as its own item in its model's partition (see ``ModelTag``)."""

    model_id: str
    version: str
    sequence: int
    key: str
    value: str


def _model_tag_key(tag: ModelTag) -> dict[str, str]:
    return keys.model_tag_key(tag.model_id, tag.key)


def _encode_model_tag(tag: ModelTag) -> Item:
    return {
        **key(_model_tag_key(tag)),
        **key(keys.model_tag_index_keys(tag.key, tag.value, tag.workspace, tag.model_id)),
        "entity_type": s(keys.MODEL_TAG_ENTITY),
        "model_id": s(tag.model_id),
        "workspace": s(tag.workspace),
        "tag_key": s(tag.key),
        "tag_value": s(tag.value),
    }


def _decode_model_tag(item: Item) -> ModelTag:
    return ModelTag(item["model_id"]["S"], item["workspace"]["S"], item["tag_key"]["S"], item["tag_value"]["S"])


MODEL_TAGS: EntityDescriptor[ModelTag] = EntityDescriptor(
    "model tag", keys.MODEL_TAG_ENTITY, _model_tag_key, _encode_model_tag, _decode_model_tag, version_attribute=None
)


def _version_tag_key(tag: VersionTag) -> dict[str, str]:
    return keys.version_tag_key(tag.model_id, tag.key, tag.value, tag.sequence)


def _encode_version_tag(tag: VersionTag) -> Item:
    return {
        **key(_version_tag_key(tag)),
        "entity_type": s(keys.VERSION_TAG_ENTITY),
        "model_id": s(tag.model_id),
        "version": s(tag.version),
        "sequence": n(tag.sequence),
        "tag_key": s(tag.key),
        "tag_value": s(tag.value),
    }


def _decode_version_tag(item: Item) -> VersionTag:
    return VersionTag(
        item["model_id"]["S"],
        item["version"]["S"],
        int(item["sequence"]["N"]),
        item["tag_key"]["S"],
        item["tag_value"]["S"],
    )


VERSION_TAGS: EntityDescriptor[VersionTag] = EntityDescriptor(
    "version tag",
    keys.VERSION_TAG_ENTITY,
    _version_tag_key,
    _encode_version_tag,
    _decode_version_tag,
    version_attribute=None,
)


def model_tags(model: Model) -> list[ModelTag]:
    return [ModelTag(model.id, model.workspace, name, value) for name, value in model.tags.items()]


def version_tags(record: VersionRecord) -> list[VersionTag]:
    version = record.version
    return [
        VersionTag(version.model_id, version.version, record.sequence, name, value)
        for name, value in version.tags.items()
    ]


# Jobs -----------------------------------------------------------------------------------------


def _job_key(job: Job) -> dict[str, str]:
    return keys.job_key(job.model_id, job.id)


def _encode_job(job: Job) -> Item:
    due = due_at(job)
    return {
        **key(_job_key(job)),
        **key(keys.job_index_keys(job.model_id, job.id, job.status, job.created_at.isoformat())),
        **(key(keys.job_due_keys(job.model_id, job.id, due.isoformat())) if due is not None else {}),
        **key(keys.job_log_keys(job.model_id, job.id, job.updated_at.isoformat())),
        **entity_attributes(keys.JOB_ENTITY, job),
        **({COMPLETION_TOKEN_ATTRIBUTE: s(job.completion_token)} if job.completion_token is not None else {}),
    }


def _decode_job(item: Item) -> Job:
    job = decoded(Job, item)
    token = item.get(COMPLETION_TOKEN_ATTRIBUTE, {}).get("S")
    return job.with_completion_token(token) if token is not None else job


JOBS: EntityDescriptor[Job] = EntityDescriptor("job", keys.JOB_ENTITY, _job_key, _encode_job, _decode_job)


# Fan-out items (outbox overflow) ----------------------------------------------------------------


def _fanout_key(fanout: FanOut) -> dict[str, str]:
    return keys.fanout_key(fanout.source_model_id, fanout.change, fanout.part)


def _encode_fanout(fanout: FanOut) -> Item:
    """The jobs are one JSON array of job documents (sized by the outbox to fit one item)."""
    return {
        **key(_fanout_key(fanout)),
        "entity_type": s(keys.FANOUT_ENTITY),
        "change": s(fanout.change),
        "doc": s("[" + ",".join(job.model_dump_json() for job in fanout.jobs) + "]"),
    }


def _decode_fanout(item: Item) -> FanOut:
    source_model_id, part = keys.fanout_source_and_part({"PK": item["PK"]["S"], "SK": item["SK"]["S"]})
    return FanOut(
        source_model_id=source_model_id,
        change=item["change"]["S"],
        part=part,
        jobs=tuple(Job.model_validate(data, context=STORED) for data in json.loads(doc_text(item))),
    )


FANOUTS: EntityDescriptor[FanOut] = EntityDescriptor(
    "fan-out", keys.FANOUT_ENTITY, _fanout_key, _encode_fanout, _decode_fanout, version_attribute=None
)


# Outbound events, webhooks and their deliveries --------------------------------------------------

# An event item is only read from the stream (its deliveries carry its payload), so it expires.
EVENT_DAYS_KEPT = 7


def _event_key(event: Event) -> dict[str, str]:
    return keys.event_key(event.id)


def _encode_event(event: Event) -> Item:
    return {
        **key(_event_key(event)),
        "entity_type": s(keys.EVENT_ENTITY),
        "event_type": s(event.type),
        "doc": s(event.model_dump_json()),
        TTL_ATTRIBUTE: n(int(event.timestamp.timestamp()) + EVENT_DAYS_KEPT * 86_400),
    }


def _decode_event(item: Item) -> Event:
    return decoded(Event, item)


EVENTS: EntityDescriptor[Event] = EntityDescriptor(
    "event", keys.EVENT_ENTITY, _event_key, _encode_event, _decode_event, version_attribute=None
)


# Idempotency records ----------------------------------------------------------------------------


def idempotency_record_options() -> dict[str, str]:
    """Where Powertools keeps its idempotency records in the single table: one partition, expiring
    through the table's TTL attribute. Powertools encodes and decodes these items itself, so this is
    their whole descriptor (keyword arguments of its ``DynamoDBPersistenceLayer``)."""
    return {
        "key_attr": PARTITION_KEY,
        "sort_key_attr": SORT_KEY,
        "static_pk_value": keys.IDEMPOTENCY_PARTITION,
        "expiry_attr": TTL_ATTRIBUTE,
    }

"""Every key of the single table is built here, and nowhere else.

Identifiers cannot contain ``#`` (their patterns forbid it), so ``#`` safely separates key parts.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from shared.domain.entities import DEFAULT_WORKSPACE

MODEL_ENTITY = "MODEL"
VERSION_ENTITY = "VERSION"

_MODEL_SK = "MODEL"
# Powertools keeps idempotency records under this partition, the hash of each request as the SK.
IDEMPOTENCY_PARTITION = "IDEMPOTENCY"
_VERSION_PREFIX = "VERSION#"
_ALL_MODELS = "MODELS"
_WORKSPACE_MARK = "#"
_FIRST_ID_CHARACTER = "0"


def model_partition(model_id: str) -> str:
    return f"MODEL#{model_id}"


def model_key(model_id: str) -> dict[str, str]:
    return {"PK": model_partition(model_id), "SK": _MODEL_SK}


def model_index_keys(model_id: str, status: str, workspace: str) -> dict[str, str]:
    """GSI1 lists every model; GSI2 lists the models of one status. In both, a model sorts by
    workspace, then id (``model_in_workspace``), so one workspace's models are one key range."""
    sort_key = model_in_workspace(workspace, model_id)
    return {
        "GSI1PK": _ALL_MODELS,
        "GSI1SK": sort_key,
        "GSI2PK": models_by_status_partition(status),
        "GSI2SK": sort_key,
    }


def model_in_workspace(workspace: str, model_id: str) -> str:
    """A model's sort key in the model lists.

    Models of ``default`` keep the bare id, the key every model had before workspaces existed, so
    old items are in ``default``'s range without being rewritten. Every other workspace's models
    sort before them under ``#<workspace>#``: ``#`` sorts below every character an id may start
    with and cannot occur in a workspace name, so each workspace is one contiguous range.
    """
    return model_id if workspace == DEFAULT_WORKSPACE else f"{_WORKSPACE_MARK}{workspace}{_WORKSPACE_MARK}{model_id}"


def workspace_range(workspace: str) -> tuple[str, str]:
    """The key condition operator and operand selecting one workspace's models:
    ``("begins_with", "#w#")``, or for ``default`` ``(">=", "0")`` (every bare id sorts from "0",
    every marked key below it)."""
    if workspace == DEFAULT_WORKSPACE:
        return ">=", _FIRST_ID_CHARACTER
    return "begins_with", f"{_WORKSPACE_MARK}{workspace}{_WORKSPACE_MARK}"


def workspace_order(workspace: str) -> tuple[bool, str]:
    """Sorts workspaces in the order their ranges appear in the model lists."""
    return workspace == DEFAULT_WORKSPACE, workspace_range(workspace)[1]


def all_models_partition() -> str:
    return _ALL_MODELS


def models_by_status_partition(status: str) -> str:
    return f"MODELS#STATUS#{status}"


def version_key(model_id: str, version: str) -> dict[str, str]:
    return {"PK": model_partition(model_id), "SK": f"{_VERSION_PREFIX}{version}"}


def version_order_key(sequence: int) -> dict[str, str]:
    """LSI1 orders a model's versions by creation: zero-padded so text order is numeric order."""
    return {"LSI1SK": f"{_VERSION_PREFIX}{sequence:012d}"}


def version_order_prefix() -> str:
    return _VERSION_PREFIX


def version_sequence(order_key: str) -> int:
    """The creation sequence a ``version_order_key`` holds."""
    return int(order_key.removeprefix(_VERSION_PREFIX))


SUBSCRIPTION_ENTITY = "SUBSCRIPTION"
JOB_ENTITY = "JOB"
FANOUT_ENTITY = "FANOUT"

_SUBSCRIPTION_PREFIX = "SUB#"
_JOB_PREFIX = "JOB#"
_FANOUT_PREFIX = "FANOUT#"


def subscription_key(source_model_id: str, subscription_id: str) -> dict[str, str]:
    """A subscription lives in its source model's partition."""
    return {"PK": model_partition(source_model_id), "SK": f"{_SUBSCRIPTION_PREFIX}{subscription_id}"}


def subscription_prefix() -> str:
    return _SUBSCRIPTION_PREFIX


def subscription_target_keys(target_model_id: str, subscription_id: str) -> dict[str, str]:
    """GSI1 finds the subscriptions that target a model (staleness), without a scan."""
    return {
        "GSI1PK": subscriptions_by_target_partition(target_model_id),
        "GSI1SK": f"{_SUBSCRIPTION_PREFIX}{subscription_id}",
    }


def subscriptions_by_target_partition(target_model_id: str) -> str:
    return f"TARGET#{target_model_id}"


# The firing index: beside each active subscription, a copy under its event, so a firing reads the
# active subscriptions of one event (strongly consistent, in the source's partition) and not every
# subscription the model has. The index of an event is complete where its marker exists: the
# marker's SK is the event's prefix itself, so the firing's one Query finds it first.
ACTIVE_SUBSCRIPTION_ENTITY = "ACTIVE_SUBSCRIPTION"
FIRING_INDEX_ENTITY = "FIRING_INDEX"
_FIRES_PREFIX = "FIRES#"


def active_subscriptions_prefix(event: str) -> str:
    return f"{_FIRES_PREFIX}{event}#"


def active_subscription_key(source_model_id: str, event: str, subscription_id: str) -> dict[str, str]:
    return {"PK": model_partition(source_model_id), "SK": f"{active_subscriptions_prefix(event)}{subscription_id}"}


def firing_index_key(model_id: str, event: str) -> dict[str, str]:
    return {"PK": model_partition(model_id), "SK": active_subscriptions_prefix(event)}


# Table-wide migrations record that they finished under this partition, one item each.
_MIGRATIONS_PARTITION = "PIE#MIGRATIONS"


def migration_key(name: str) -> dict[str, str]:
    return {"PK": _MIGRATIONS_PARTITION, "SK": name}


def job_key(model_id: str, job_id: str) -> dict[str, str]:
    """A job lives in the partition of the model it runs."""
    return {"PK": model_partition(model_id), "SK": f"{_JOB_PREFIX}{job_id}"}


def job_index_keys(model_id: str, job_id: str, status: str, created_at: str) -> dict[str, str]:
    """LSI1 orders a model's jobs by creation; GSI2 lists one model's jobs of one status."""
    return {
        "LSI1SK": f"{_JOB_PREFIX}{created_at}#{job_id}",
        "GSI2PK": jobs_by_status_partition(model_id, status),
        "GSI2SK": f"{created_at}#{job_id}",
    }


def job_order_prefix() -> str:
    return _JOB_PREFIX


def jobs_by_status_partition(model_id: str, status: str) -> str:
    return f"JOBS#{model_id}#{status}"


# Live jobs are spread over this many partitions of GSI3 by a hash of their id, so a burst of job
# writes never lands on one index partition; the sweeper reads each shard's overdue head.
DUE_SHARDS = 4
_DUE_PREFIX = "DUE#"


def due_shard(job_id: str) -> int:
    """Stable across processes (unlike ``hash``): the sum of the id's bytes."""
    return sum(job_id.encode()) % DUE_SHARDS


def job_due_keys(model_id: str, job_id: str, due_at: str) -> dict[str, str]:
    """GSI3 (sparse: live jobs only) orders live jobs by when the sweeper must look at them."""
    return {"GSI3PK": jobs_due_partition(due_shard(job_id)), "GSI3SK": f"{due_at}#{model_id}#{job_id}"}


def jobs_due_partition(shard: int) -> str:
    return f"{_DUE_PREFIX}{shard}"


# The delivery log (every job, newest change first) is GSI1 over this many write shards, picked by
# the job id like the due shards: one page reads each shard once (LOG_SHARDS queries per page).
LOG_SHARDS = 4
_LOG_PREFIX = "JOBLOG#"


def job_log_keys(model_id: str, job_id: str, updated_at: str) -> dict[str, str]:
    return {
        "GSI1PK": job_log_partition(sum(job_id.encode()) % LOG_SHARDS),
        "GSI1SK": f"{updated_at}#{model_id}#{job_id}",
    }


def job_log_partition(shard: int) -> str:
    return f"{_LOG_PREFIX}{shard}"


def fanout_key(source_model_id: str, transition: str, part: int) -> dict[str, str]:
    """Outbox overflow: the fired jobs a transition could not fit in its own transaction."""
    return {"PK": model_partition(source_model_id), "SK": f"{_FANOUT_PREFIX}{transition}#{part:04d}"}


def fanout_source_and_part(table_key: dict[str, str]) -> tuple[str, int]:
    """The source model and part number a ``fanout_key`` holds (a transition may contain ``#``, a
    model id may not, and the part is the last ``#``-separated field)."""
    return table_key["PK"].removeprefix(model_partition("")), int(table_key["SK"].rsplit("#", 1)[1])


CHAIN_BUDGET_ENTITY = "CHAIN_BUDGET"


def chain_budget_key(root_job_id: str) -> dict[str, str]:
    """The count of jobs a chain's root has caused: one small item per root, in its own partition."""
    return {"PK": f"CHAIN#{root_job_id}", "SK": "BUDGET"}


ALIAS_ENTITY = "ALIAS"
ALIAS_CHANGE_ENTITY = "ALIAS_CHANGE"
ALIAS_GUARD_ENTITY = "ALIAS_GUARD"

_ALIAS_PREFIX = "ALIAS#"
_ALIAS_HISTORY_PREFIX = "ALIASHIST#"
# After every digit of a history key's sequence: the upper bound of the entries at one instant.
_AFTER_SEQUENCE = "~"


def alias_key(model_id: str, name: str) -> dict[str, str]:
    """An alias lives in its model's partition (deleting the model deletes it)."""
    return {"PK": model_partition(model_id), "SK": f"{_ALIAS_PREFIX}{name}"}


def alias_guard_key(model_id: str) -> dict[str, str]:
    """The count of a model's alias moves: what a withdrawal checks that no alias moved since it
    read them. Not under the alias prefix, so listing the aliases never meets it."""
    return {"PK": model_partition(model_id), "SK": "ALIASGUARD"}


def alias_prefix() -> str:
    return _ALIAS_PREFIX


def alias_instant(at: datetime) -> str:
    """A fixed-width UTC instant, so that text order is time order (``isoformat`` drops zero
    microseconds, which would not sort)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def alias_change_key(model_id: str, name: str, at: datetime, entity_version: int) -> dict[str, str]:
    """One history entry of an alias: ordered by when, then by the alias's entity_version, so the
    entry in force at an instant is the last key at or before it (one Query)."""
    return {
        "PK": model_partition(model_id),
        "SK": f"{alias_history_prefix(name)}{alias_instant(at)}#{entity_version:012d}",
    }


def alias_history_prefix(name: str) -> str:
    # Alias names cannot contain '#': "a#" never prefixes the keys of "a-b".
    return f"{_ALIAS_HISTORY_PREFIX}{name}#"


def alias_history_until(name: str, at: datetime) -> str:
    """The last key an entry made at or before ``at`` can have."""
    return f"{alias_history_prefix(name)}{alias_instant(at)}#{_AFTER_SEQUENCE}"


# Search ---------------------------------------------------------------------------------------
# Tag index items make ``tags.<key> = '<value>'`` an equality Query; the name key of a model item
# makes ``name = `` and ``name LIKE 'prefix%'`` a range Query. See docs/decisions.md, "Tags and search".

MODEL_TAG_ENTITY = "MODEL_TAG"
VERSION_TAG_ENTITY = "VERSION_TAG"

_MODEL_TAG_PREFIX = "TAG#"
_VERSION_TAG_PREFIX = "VTAG#"
_MODELS_TAGGED = "MODELS#TAG#"
_MODEL_NAMES = "MODELS#NAME"
# A name's key holds at most this many bytes of it (hex doubles them; a sort key holds 1,024 bytes).
NAME_KEY_BYTES = 400
_NAME_END = "#"


def tag_value_digest(value: str) -> str:
    """A fixed-width stand-in for a tag value in keys (a value may be 1 KB of UTF-8 and hold ``#``);
    a search compares the values themselves, so a collision could only cost a read."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def model_tag_key(model_id: str, key: str) -> dict[str, str]:
    """One tag of a model, in the model's partition (deleting the model deletes it)."""
    return {"PK": model_partition(model_id), "SK": f"{_MODEL_TAG_PREFIX}{key}"}


def model_tag_index_keys(key: str, value: str, workspace: str, model_id: str) -> dict[str, str]:
    """GSI1 lists the models with one tag value, sorted as the model list is (workspace, then id),
    so one workspace's tagged models are one key range as in ``workspace_range``."""
    return {"GSI1PK": models_tagged_partition(key, value), "GSI1SK": model_in_workspace(workspace, model_id)}


def models_tagged_partition(key: str, value: str) -> str:
    # Tag keys cannot contain '#': the key ends at the next one.
    return f"{_MODELS_TAGGED}{key}#{tag_value_digest(value)}"


def version_tag_key(model_id: str, key: str, value: str, sequence: int) -> dict[str, str]:
    """One tag of a version, in its model's partition, sorted by the version's creation order
    under its (key, value): one Query lists a model's versions with that tag, newest first."""
    return {"PK": model_partition(model_id), "SK": f"{version_tag_prefix(key, value)}{sequence:012d}"}


def version_tag_prefix(key: str, value: str) -> str:
    return f"{_VERSION_TAG_PREFIX}{key}#{tag_value_digest(value)}#"


def model_name_keys(name: str, workspace: str, model_id: str) -> dict[str, str]:
    """GSI3 (beside the sweeper's due jobs, in a partition of its own) sorts every model by name,
    then by its list key: hex keeps UTF-8 byte order (code point order) and needs no separator
    that a name could hold; ``#`` sorts below every hex digit, so a name sorts before its
    extensions."""
    return {
        "GSI3PK": _MODEL_NAMES,
        "GSI3SK": f"{name_key_prefix(name)}{_NAME_END}{model_in_workspace(workspace, model_id)}",
    }


def models_by_name_partition() -> str:
    return _MODEL_NAMES


def name_key_prefix(name: str) -> str:
    """What every name key of the names starting with ``name`` starts with."""
    return name.encode()[:NAME_KEY_BYTES].hex()


def exact_name_prefix(name: str) -> str:
    """What every name key of the models named ``name`` starts with (names past
    ``NAME_KEY_BYTES`` share it with their siblings: the search compares the names)."""
    return f"{name_key_prefix(name)}{_NAME_END}"


EVENT_ENTITY = "EVENT"
WEBHOOK_ENTITY = "WEBHOOK"
DELIVERY_ENTITY = "DELIVERY"

_WEBHOOK_SK = "WEBHOOK"
_ALL_WEBHOOKS = "WEBHOOKS"
_DELIVERY_PREFIX = "DELIVERY#"
# Pending webhook deliveries are spread over this many partitions of GSI3 (beside the jobs' DUE#
# shards), ordered by when their next attempt is due.
DELIVERY_DUE_SHARDS = 4
_DELIVERY_DUE_PREFIX = "HOOKDUE#"


def event_key(event_id: str) -> dict[str, str]:
    """An outbound event: its own partition (a model's delete never takes its events with it)."""
    return {"PK": f"EVENT#{event_id}", "SK": "EVENT"}


def webhook_key(webhook_id: str) -> dict[str, str]:
    return {"PK": webhook_partition(webhook_id), "SK": _WEBHOOK_SK}


def webhook_partition(webhook_id: str) -> str:
    return f"WEBHOOK#{webhook_id}"


def webhook_index_keys(workspace: str, webhook_id: str) -> dict[str, str]:
    """GSI1 lists every webhook by workspace, then id (few per deployment: the fan-out reads them)."""
    return {"GSI1PK": _ALL_WEBHOOKS, "GSI1SK": f"{workspace}#{webhook_id}"}


def all_webhooks_partition() -> str:
    return _ALL_WEBHOOKS


def delivery_key(webhook_id: str, delivery_id: str) -> dict[str, str]:
    """A delivery lives in its webhook's partition; delivery ids sort by their event's time."""
    return {"PK": webhook_partition(webhook_id), "SK": f"{_DELIVERY_PREFIX}{delivery_id}"}


def delivery_prefix() -> str:
    return _DELIVERY_PREFIX


def delivery_due_keys(webhook_id: str, delivery_id: str, due_at: str) -> dict[str, str]:
    """GSI3 (sparse: pending deliveries only) orders them by when their next attempt is due."""
    shard = sum(delivery_id.encode()) % DELIVERY_DUE_SHARDS
    return {"GSI3PK": deliveries_due_partition(shard), "GSI3SK": f"{due_at}#{webhook_id}#{delivery_id}"}


def deliveries_due_partition(shard: int) -> str:
    return f"{_DELIVERY_DUE_PREFIX}{shard}"

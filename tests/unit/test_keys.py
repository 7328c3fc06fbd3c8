"""The single table's key layout, as shared.data.keys documents it."""

from __future__ import annotations

import random

from shared.data import keys
from shared.domain.job_events import EVENT_NAMES


def test_a_model_lives_in_its_own_partition_under_the_model_sort_key():
    assert keys.model_partition("model_price_reco_v1") == "MODEL#model_price_reco_v1"
    assert keys.model_key("model_price_reco_v1") == {"PK": "MODEL#model_price_reco_v1", "SK": "MODEL"}


def test_a_default_workspace_model_is_indexed_by_bare_id_in_gsi1_and_by_status_then_id_in_gsi2():
    assert keys.model_index_keys("model_a", "active", "default") == {
        "GSI1PK": "MODELS",
        "GSI1SK": "model_a",
        "GSI2PK": "MODELS#STATUS#active",
        "GSI2SK": "model_a",
    }
    assert keys.all_models_partition() == "MODELS"
    assert keys.models_by_status_partition("pending") == "MODELS#STATUS#pending"


def test_the_index_partitions_are_the_ones_list_models_queries():
    index_keys = keys.model_index_keys("model_a", "pending", "team-a")
    assert index_keys["GSI1PK"] == keys.all_models_partition()
    assert index_keys["GSI2PK"] == keys.models_by_status_partition("pending")


def test_another_workspace_model_sorts_under_its_workspace_mark():
    index_keys = keys.model_index_keys("model_a", "active", "team-a")
    assert index_keys["GSI1SK"] == index_keys["GSI2SK"] == "#team-a#model_a"


def test_each_workspace_is_one_contiguous_range_in_workspace_order():
    """Models created before workspaces (bare ids) are exactly ``default``'s range."""
    rng = random.Random(3)
    workspaces = ["default", "a", "a.b", "a-b", "a_b", "A", "0", "zz", "a.", "b"]
    alphabet = "abAB09_.-"
    ids = [rng.choice("aZ09") + "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 6))) for _ in range(300)]
    entries = sorted((keys.model_in_workspace(w, i), w) for w in workspaces for i in ids)
    seen: list[str] = []
    for sort_key, workspace in entries:
        operator, operand = keys.workspace_range(workspace)
        assert sort_key.startswith(operand) if operator == "begins_with" else sort_key >= operand
        if not seen or seen[-1] != workspace:
            assert workspace not in seen, f"{workspace} is split into two ranges"
            seen.append(workspace)
    assert seen == sorted(workspaces, key=keys.workspace_order)


def test_a_version_lives_in_its_models_partition():
    assert keys.version_key("model_a", "2") == {"PK": "MODEL#model_a", "SK": "VERSION#2"}
    assert keys.version_key("model_a", "2")["PK"] == keys.model_key("model_a")["PK"]


def test_the_version_order_key_is_zero_padded_to_twelve_digits():
    assert keys.version_order_key(7) == {"LSI1SK": "VERSION#000000000007"}
    assert keys.version_order_key(123_456_789_012) == {"LSI1SK": "VERSION#123456789012"}


def test_version_order_keys_sort_as_text_in_numeric_order():
    sequences = list(range(1, 1200)) + [99_999, 100_000, 10**11]
    shuffled = random.Random(7).sample(sequences, len(sequences))

    by_text = sorted(shuffled, key=lambda sequence: keys.version_order_key(sequence)["LSI1SK"])

    assert by_text == sorted(sequences)


def test_version_order_keys_start_with_the_prefix_list_versions_queries():
    assert keys.version_order_prefix() == "VERSION#"
    assert keys.version_order_key(1)["LSI1SK"].startswith(keys.version_order_prefix())


def test_model_and_version_items_do_not_collide():
    """A version named ``MODEL`` still sorts apart from the model item itself."""
    assert keys.version_key("model_a", "MODEL") != keys.model_key("model_a")


def test_entity_types_are_distinct():
    entities = [
        keys.MODEL_ENTITY,
        keys.VERSION_ENTITY,
        keys.SUBSCRIPTION_ENTITY,
        keys.JOB_ENTITY,
        keys.FANOUT_ENTITY,
    ]
    assert len(set(entities)) == len(entities)


def test_a_subscription_lives_in_its_source_models_partition_and_is_indexed_by_target():
    assert keys.subscription_key("model_a", "sub-1") == {"PK": "MODEL#model_a", "SK": "SUB#sub-1"}
    assert keys.subscription_key("model_a", "sub-1")["SK"].startswith(keys.subscription_prefix())
    assert keys.subscription_target_keys("model_b", "sub-1") == {
        "GSI1PK": "TARGET#model_b",
        "GSI1SK": "SUB#sub-1",
    }
    assert keys.subscriptions_by_target_partition("model_b") == "TARGET#model_b"


def test_subscriptions_by_target_never_share_the_all_models_partition():
    assert keys.subscriptions_by_target_partition("MODELS") != keys.all_models_partition()


def test_a_job_lives_in_its_models_partition_and_is_ordered_by_creation():
    created_at = "2026-01-01T00:01:40+00:00"
    assert keys.job_key("model_a", "job-1") == {"PK": "MODEL#model_a", "SK": "JOB#job-1"}
    assert keys.job_index_keys("model_a", "job-1", "queued", created_at) == {
        "LSI1SK": f"JOB#{created_at}#job-1",
        "GSI2PK": "JOBS#model_a#queued",
        "GSI2SK": f"{created_at}#job-1",
    }
    assert keys.jobs_by_status_partition("model_a", "queued") == "JOBS#model_a#queued"
    order_key = keys.job_index_keys("model_a", "job-1", "queued", created_at)["LSI1SK"]
    assert order_key.startswith(keys.job_order_prefix())


def test_versions_and_jobs_share_lsi1_without_mixing():
    job_order = keys.job_index_keys("model_a", "job-1", "queued", "2026-01-01T00:00:00+00:00")["LSI1SK"]
    version_order = keys.version_order_key(1)["LSI1SK"]
    assert not job_order.startswith(keys.version_order_prefix())
    assert not version_order.startswith(keys.job_order_prefix())


def test_jobs_by_status_never_share_a_models_by_status_partition():
    assert not keys.jobs_by_status_partition("model_a", "active").startswith("MODELS#")


def test_fanout_parts_are_zero_padded_in_the_source_models_partition():
    assert keys.fanout_key("model_a", "t-1", 3) == {"PK": "MODEL#model_a", "SK": "FANOUT#t-1#0003"}
    parts = [keys.fanout_key("model_a", "t-1", part)["SK"] for part in (10, 2, 100, 1)]
    assert sorted(parts) == [keys.fanout_key("model_a", "t-1", part)["SK"] for part in (1, 2, 10, 100)]


def test_a_firing_index_range_holds_one_event_and_nothing_any_other_range_reads():
    prefixes = {event: keys.active_subscriptions_prefix(event) for event in EVENT_NAMES}
    entry = keys.active_subscription_key("m", "training_complete", "s-1")["SK"]
    marker = keys.firing_index_key("m", "training_complete")["SK"]
    others = [
        keys.subscription_prefix(),
        keys.version_key("m", "1")["SK"],
        keys.job_key("m", "j")["SK"],
        keys.model_key("m")["SK"],
    ]

    for event, prefix in prefixes.items():
        assert [e for e, p in prefixes.items() if p.startswith(prefix) or prefix.startswith(p)] == [event]
    assert entry.startswith(prefixes["training_complete"]) and marker == prefixes["training_complete"]
    assert marker < entry  # the marker comes first in the firing's Query
    assert not any(entry.startswith(o) or o.startswith(prefixes["training_complete"]) for o in others)
    assert keys.active_subscription_key("m", "alias_set", "s")["PK"] == keys.model_key("m")["PK"]

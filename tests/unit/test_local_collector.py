"""``pie-local serve`` keeps what it holds out of the collector's full walks: everything alive at
start, and again everything alive after each full collection, so a full collection walks only what
was created since the previous one (``pie_local.collector``; figures in docs/performance.md)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from pie_local.collector import keep_collections_short, stop_keeping_collections_short

LONG_LIVED = 20_000


@pytest.fixture
def kept_short() -> Iterator[None]:
    keep_collections_short()
    try:
        yield
    finally:
        stop_keeping_collections_short()


def _walked_by_a_full_collection() -> int:
    return len(gc.get_objects(generation=2))


def test_what_the_server_holds_at_start_is_out_of_the_full_walks():
    held = [[number] for number in range(LONG_LIVED)]  # lists: the collector tracks them
    keep_collections_short()
    try:
        assert _walked_by_a_full_collection() < LONG_LIVED / 10
        assert gc.get_freeze_count() >= LONG_LIVED
    finally:
        stop_keeping_collections_short()
    del held


def test_what_survives_a_full_collection_is_frozen_after_it(kept_short: None):
    frozen = gc.get_freeze_count()
    grown = [[number] for number in range(LONG_LIVED)]  # the table grows
    gc.collect()

    assert gc.get_freeze_count() >= frozen + LONG_LIVED
    assert _walked_by_a_full_collection() < LONG_LIVED / 10
    del grown


def test_cyclic_garbage_is_still_collected(kept_short: None):
    class Node:
        pass

    gc.disable()  # so that no young collection takes them first
    try:
        for _ in range(1_000):
            first, second = Node(), Node()
            first.other, second.other = second, first
        del first, second
    finally:
        gc.enable()
    assert gc.collect() >= 2_000

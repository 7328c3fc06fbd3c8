"""Keeping the garbage collector's full collections short, so they stay out of the request path.

A full (generation-2) collection walks every container object the process holds. ``pie-local
serve`` holds a lot of them for its whole life: the modules it imports (botocore's service models,
moto, pydantic, Powertools: about 110,000 objects, a 170 ms walk on a busy laptop) and the
embedded table's items, which only grow. Measured with ``bench/gc_pauses.py`` (docs/performance.md),
those walks were the slowest writes of 3,000 (134 ms of CPU each), and they grew with the table.

Nothing long-lived needs walking: it is not cyclic garbage. So once the server is loaded its
objects are moved out of the collector's reach (``gc.freeze``), and again after every full
collection, when everything left has just been found alive: each full collection then walks only
what was created since the previous one, however large the table has grown. An object frozen and
later dropped is still freed by its reference count; only one caught in a reference cycle would
stay, and the table's items are not: replacing, updating and deleting frozen items left none.

The collector's thresholds are left as they are: a larger first threshold made fewer young
collections but longer ones (9 ms instead of under 2 ms), for no shorter longest pause.
"""

from __future__ import annotations

import gc
from typing import Any


def _freeze_after_full_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


def keep_collections_short() -> None:
    """Freeze what the loaded server holds, and freeze again after each full collection."""
    gc.collect()
    gc.freeze()
    if _freeze_after_full_collection not in gc.callbacks:
        gc.callbacks.append(_freeze_after_full_collection)


def stop_keeping_collections_short() -> None:
    """Undo ``keep_collections_short`` (the server stopped; a test process goes on)."""
    if _freeze_after_full_collection in gc.callbacks:
        gc.callbacks.remove(_freeze_after_full_collection)
    gc.unfreeze()

"""SnapStart: every execution environment resumed from one snapshot gets its own random state and
rebuilds what it uses (shared.runtime.after_restore, registered as a runtime hook)."""

from __future__ import annotations

import random
import sys

import pytest
import snapshot_restore_py

from shared import runtime


@pytest.fixture(autouse=True)
def _keep_random_state():
    state = random.getstate()
    yield
    random.setstate(state)


def _resume_from(snapshot_state: object, hook) -> float:
    """One environment resumed from the snapshot: its random state as the snapshot left it, the
    restore hook run, then the jitter of its first retry."""
    random.setstate(snapshot_state)
    hook()
    return random.uniform(0, 1)


def test_the_restore_hook_is_registered_when_the_function_is_imported():
    assert (runtime.after_restore, (), {}) in snapshot_restore_py.get_after_restore()


def test_environments_resumed_from_one_snapshot_draw_different_retry_jitter():
    snapshot_state = random.getstate()
    without_hook = {_resume_from(snapshot_state, lambda: None) for _ in range(3)}
    assert len(without_hook) == 1, "the problem the hook solves: one snapshot, one random sequence"
    with_hook = {_resume_from(snapshot_state, runtime.after_restore) for _ in range(3)}
    assert len(with_hook) == 3


def test_services_built_before_the_snapshot_are_rebuilt_after_a_restore():
    before = runtime.dispatcher_settings()
    runtime.after_restore()
    assert runtime.dispatcher_settings() is not before


def test_without_the_snapshot_library_registering_the_hooks_does_nothing(monkeypatch):
    registered = list(snapshot_restore_py.get_after_restore())
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # as outside Lambda, not installed
    runtime._register_snapshot_hooks()
    assert snapshot_restore_py.get_after_restore() == registered

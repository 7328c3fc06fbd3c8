"""Starting and stopping a claimed job with what its kind registers (``shared.kinds``).

The dispatcher builds one starter per registered kind; the cancel route stops a job through its
kind's stopper. The starters' shared vocabulary (``StartContext``, ``Backoff``, ``DispatchFailed``)
is ``shared.kinds.starting``: the kinds never import the dispatcher.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.domain.entities import Job
from shared.kinds import KINDS
from shared.kinds.base import load
from shared.kinds.starting import StartContext, Starter


def build_starters(context: StartContext) -> dict[str, Starter]:
    """One starter per registered kind."""
    return {kind.type: load(kind.starter)(context) for kind in KINDS.values()}


class TaskStopper:
    """Stops what a cancelled job's start recorded, through its kind's ``stopper`` facet; kinds
    without one (a Lambda invocation cannot be stopped) have their later completion refused instead."""

    def __init__(self, client: Callable[[str], Any]) -> None:
        self._client = client
        self._stoppers = {kind.type: load(kind.stopper) for kind in KINDS.values() if kind.stopper}

    def stop(self, job: Job) -> bool:
        stop = self._stoppers.get(job.handler.type)
        if stop is None or job.task_arn is None:
            return False
        return bool(stop(self._client, job))

"""The throw-away ``webhook`` kind's starter and stopper (see ``webhook.py`` beside it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.domain.entities import Job
from shared.kinds.starting import StartContext, Started

CALLS: list[tuple[str, str, str]] = []


class WebhookStarter:
    def __init__(self, context: StartContext) -> None:
        self._header = context.kind_settings["webhook"].secret_header

    def start(self, job: Job) -> Started:
        CALLS.append(("start", job.handler.host, self._header))
        return Started(task_arn=f"call/{job.id}")


def stop(_client: Callable[[str], Any], job: Job) -> bool:
    CALLS.append(("stop", job.handler.host, str(job.task_arn)))
    return True

"""In-process handler implementations: Python code the dispatcher runs itself.

A handler ``{"type": "in_process", "implementation": NAME}`` may only name a key of
``IMPLEMENTATIONS``. Each takes the job's input and returns its output, or raises
``ImplementationFailed`` with the reason the job failed.
"""

from __future__ import annotations

from collections.abc import Callable

from shared.kinds.in_process import ImplementationFailed, JsonObject


def echo(job_input: JsonObject) -> JsonObject:
    """Succeeds with its input as output: the identity link of a chain."""
    return job_input


def fail(job_input: JsonObject) -> JsonObject:
    """Always fails, with the input's ``message`` as the reason."""
    raise ImplementationFailed(str(job_input.get("message", "failed on purpose")))


IMPLEMENTATIONS: dict[str, Callable[[JsonObject], JsonObject]] = {
    "echo": echo,
    "fail": fail,
}

"""Runs ``in_process`` jobs inside the dispatcher: the job's result is known when ``start`` returns."""

from __future__ import annotations

from shared.domain.entities import Job
from shared.domain.requests import CompleteJobRequest
from shared.kinds.in_process import ImplementationFailed
from shared.kinds.starting import StartContext


class InProcessStarter:
    def __init__(self, context: StartContext) -> None:
        self._implementations = context.implementations

    def start(self, job: Job) -> CompleteJobRequest:
        name = job.handler.implementation
        implementation = self._implementations.get(name)
        if implementation is None:
            return CompleteJobRequest(status="failed", error=f"no in-process implementation named '{name}'")
        try:
            output = implementation(job.input)
        except ImplementationFailed as failure:
            return CompleteJobRequest(status="failed", error=str(failure))
        except Exception as error:  # the implementation's own bug fails its job, not the batch
            return CompleteJobRequest(
                status="failed", error=f"implementation '{name}' raised {type(error).__name__}: {error}"
            )
        if not isinstance(output, dict):
            output = {"result": output}
        return CompleteJobRequest(status="succeeded", output=output)

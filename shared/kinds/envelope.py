"""The job envelope: what a handler receives when PIE starts a job on it.

A Lambda handler gets it as its event; an ECS task gets it as JSON in the ``PIE_JOB`` environment
variable of its first container. The handler reports back by calling ``completion`` (or, without a
callback, by its Lambda destination or the ECS task's stop — see the complete_job_events function).

``completion_token`` is the attempt's proof of origin (``shared.domain.completion_tokens``): AWS's
reports carry the envelope back, token included, and a report without the attempt's token is
refused. A handler completing through the route may send it as ``completion_token``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from shared.domain.entities import Action, Job, JobTrigger

ENVELOPE_VERSION = "1"


class Completion(BaseModel):
    method: str = "POST"
    path: str
    scope: str = "jobs:write"
    body: str = (
        '{"status": "succeeded" | "failed", "output": {...}, "error": "...", "attempt": <attempt>, '
        '"completion_token": "<completion_token>"}'
    )


class JobEnvelope(BaseModel):
    envelope_version: str = ENVELOPE_VERSION
    job_id: str
    model_id: str
    version: str
    action: Action
    attempt: int
    input: dict[str, Any]
    trigger: JobTrigger | None
    completion: Completion
    completion_token: str | None = None

    @classmethod
    def of(cls, job: Job) -> JobEnvelope:
        return cls(
            job_id=job.id,
            model_id=job.model_id,
            version=job.version,
            action=job.action,
            attempt=job.attempt,
            input=job.input,
            trigger=job.trigger,
            completion=Completion(path=f"/v2/models/{job.model_id}/jobs/{job.id}/complete"),
            completion_token=job.completion_token,
        )

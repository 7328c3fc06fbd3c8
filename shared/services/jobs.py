"""Jobs: direct inference and training, their dispatch, and their reading.

A training binds its version (``training``, ``training_job_id``) in the transaction that queues it,
or, for one a subscription fired without binding it, in its claim. How jobs end (completion, the
sweeper, cancel, redrive) is ``shared.services.job_endings``, the other half of ``JobService``.
What a claim or a start does to a job is the domain's (``shared.domain.job_rules``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.data.errors import StaleEntityError
from shared.data.save import RETRY, Retry, retry_on_stale
from shared.domain import contracts, job_rules
from shared.domain.access import Access
from shared.domain.entities import LATEST, Job, Model, RetryPolicy, Version
from shared.domain.errors import (
    ConcurrentUpdateError,
    ContractViolationError,
    NoActiveVersionError,
    ResourceNotFoundError,
    VersionBusyError,
    VersionNumbersExhaustedError,
)
from shared.domain.lifecycle import check_transition
from shared.domain.records import ModelRecord
from shared.domain.requests import StartJobRequest
from shared.domain.responses.jobs import JobList, JobResponse
from shared.domain.supervision import DEFAULT_BACKOFF_SECONDS, DEFAULT_DIRECT_ATTEMPTS
from shared.domain.triggers import training_slot
from shared.domain.versions import moved_version
from shared.services.aliases import AliasEffects
from shared.services.firing import Firing, VersionSlots, lineage_of, target_state
from shared.services.job_endings import JobEndings
from shared.services.ports import Clock, IdGenerator, JobReader, ModelReader, Outbox, random_id
from shared.services.transitions import VersionLifecycle


@dataclass(frozen=True)
class Claim:
    """A job taken for dispatch; ``refusal`` says why it must fail instead of starting."""

    job: Job
    refusal: str | None = None


DISPATCHER_ACTOR = "pie-dispatcher"


class JobService(JobEndings):
    def __init__(
        self,
        registry: ModelReader,
        jobs: JobReader,
        lifecycle: VersionLifecycle,
        firing: Firing,
        outbox: Outbox,
        clock: Clock,
        rng: Callable[[], float] | None = None,
        new_id: IdGenerator = random_id,
        aliases: AliasEffects | None = None,
    ) -> None:
        """``rng`` draws the jitter of retry backoffs and ``new_id`` names direct jobs (tests pass
        fixed ones)."""
        self._rng = rng or random.random
        self._new_id = new_id
        self._registry = registry
        self._jobs = jobs
        self._lifecycle = lifecycle
        self._firing = firing
        self._outbox = outbox
        self._clock = clock
        self._aliases = aliases

    # Starting ---------------------------------------------------------------------------------

    def start_inference(self, model_id: str, request: StartJobRequest, access: Access) -> JobResponse:
        """Queue an inference of the active (or the named) version, its input checked first."""
        if request.version is None:
            model = self._registry.get_model(model_id).model
            access.require_write(model.workspace, model_id)
            version = model.active_version
            if version is None:
                raise NoActiveVersionError(model_id)
        else:
            record, found = self._registry.get_model_and_version(model_id, request.version)
            model, version = record.model, found.version
            access.require_write(model.workspace, model_id)
        self._check_input(model, "inference", request.input)
        job = self._new_job(model, version, "inference", request.input, request.retry)
        self._outbox.commit([], [job], model_id, f"job:{job.id}")
        return JobResponse(job=job)

    def start_training(self, model_id: str, request: StartJobRequest, actor: str, access: Access) -> JobResponse:
        """Queue a training, which binds its version (``training``) in the same transaction.

        Without ``version`` it trains the newest version if that can be trained now, else cuts the
        next one for it, as a chain's training does; a named version must be able to train."""

        def attempt() -> JobResponse:
            if request.version is None:
                record = self._registry.get_model(model_id)
                access.require_write(record.model.workspace, model_id)
                self._check_input(record.model, "training", request.input)
                latest = self._registry.get_version(model_id, record.model.latest_version or LATEST)
                job = self._new_job(record.model, latest.version, "training", request.input, request.retry)
                guarded, job = self._give_version(job, record, latest, self._clock())
                self._outbox.commit(guarded, [job], model_id, f"job:{job.id}")
                return JobResponse(job=job)
            record, version = self._lifecycle.read(model_id, request.version)
            access.require_write(record.model.workspace, model_id)
            self._check_input(record.model, "training", request.input)
            if version.status == "training":
                raise VersionBusyError(model_id, version.version)
            check_transition(version.status, "training")
            job = self._new_job(record.model, version.version, "training", request.input, request.retry)
            now = self._clock()
            moved = moved_version(
                version,
                "training",
                f"training job {job.id}",
                actor,
                now,
                training_job_id=job.id,
                lineage=lineage_of(job),
            )
            self._outbox.commit([self._outbox.version_update(moved, version)], [job], model_id, f"job:{job.id}")
            return JobResponse(job=job)

        return retry_on_stale(attempt, ConcurrentUpdateError(f"model '{model_id}'"))

    def _give_version(self, job: Job, record: ModelRecord, latest: Version, now: datetime) -> tuple[list, Job]:
        """The writes that give a training ``job`` of ``record``'s model its version, by the
        chain's rule (the newest if trainable now, else a new one), and the job naming it."""
        state = target_state(record, latest)
        slot = training_slot(state)
        if isinstance(slot, str):
            raise VersionNumbersExhaustedError(record.model.id, record.highest_numeric_version)
        job = job.model_copy(update={"version": slot.version})
        slots = VersionSlots(self._outbox, now)
        slots.know(record, record.model.entity_version)
        slots.give(job, slot, latest)
        guarded = slots.writes + [self._outbox.model_put(r, read) for r, read in slots.changed_records().values()]
        return guarded, job

    # Reading ----------------------------------------------------------------------------------

    def get(self, model_id: str, job_id: str, access: Access) -> JobResponse:
        job = self._jobs.get(model_id, job_id)
        access.require_read(job.workspace, model_id)
        return JobResponse(job=job)

    def list(self, model_id: str, limit: int, page_token: str | None, status: str | None, access: Access) -> JobList:
        if not access.reads_everything:
            model = self._registry.get_model(model_id).model
            access.require_read(model.workspace, model_id)
        page = self._jobs.list_page(model_id, limit, page_token, status)
        if not page.items and page_token is None:
            self._registry.get_model(model_id)  # 404 for a model that does not exist
        return JobList(jobs=page.items, next_token=page.next_token)

    def log(
        self,
        limit: int,
        page_token: str | None,
        status: str | None,
        model_id: str | None,
        since: datetime | None,
        access: Access,
        workspace: str | None = None,
    ) -> JobList:
        """The delivery log: jobs across models, newest change first, of the workspaces the caller
        may read (or the one named). Job items carry no workspace key, so that is a filter on the
        page as read: a filtered page may be short, its token goes on.

        A page the filters leave empty is read on, a few pages at most, so that a caller whose
        jobs are few among others' gets them rather than a run of empty pages; an empty page with
        a token is then left only after many changes the caller does not see, and its token is
        sealed and bound to the caller's workspaces (``JobReader.log_page``): it names none of them.
        """
        read_ahead = 4  # more pages read for an empty one: at most (1 + 4) x LOG_SHARDS queries
        workspaces = access.listed_workspaces(workspace)
        if workspaces == ():
            return JobList(jobs=[], next_token=None)
        if since is not None:
            since = since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC)
        start = since.isoformat() if since else None
        page = self._jobs.log_page(limit, page_token, status, model_id, start, workspaces)
        for _ in range(read_ahead):
            if page.items or page.next_token is None:
                break
            page = self._jobs.log_page(limit, page.next_token, status, model_id, start, workspaces)
        return JobList(jobs=page.items, next_token=page.next_token)

    # Dispatching --------------------------------------------------------------------------------

    def claim(self, job: Job) -> Claim | None:
        """Take a queued job for dispatch (``queued → dispatched``); None when it was not queued
        any more (a redelivered stream record is a no-op) or its retry is not due yet.

        The claim gives the attempt a short start deadline: if nothing starts it (the dispatcher
        died), the sweeper ends it as ``not_started``. ``started`` sets the handler's deadline.

        A training job fired by a subscription is normally bound to its version when it fires. One
        that is not (its firing overflowed one transaction, or it was queued before versions were
        bound at firing) gets its version here, in the claim's write, by the chain's rule: its
        version if that can be trained now, else the newest if it can, else a new one. Only a model
        that no longer exists refuses it: the dispatcher then fails the job instead of starting it.
        """

        def attempt() -> Claim | None:
            now = self._clock()
            if not job_rules.claimable(job, now):
                return None
            claimed = job_rules.claimed(job, now)
            refusal = None
            guarded = []
            if job_rules.binds_its_version_when_claimed(job):
                try:
                    guarded, claimed = self._claim_version(claimed, now)
                except ResourceNotFoundError as gone:
                    refusal = gone.message
            guarded.insert(0, self._outbox.job_put(claimed, job))
            self._outbox.commit(guarded, [], job.model_id, f"claim:{job.id}")
            return Claim(claimed, refusal)

        def on_stale(stale: StaleEntityError) -> Claim | None | Retry:
            if stale.entity == "job":
                return None  # claimed by another delivery, or changed: not this one's to start
            return RETRY  # the version moved meanwhile: decide again on fresh state

        return retry_on_stale(attempt, ConcurrentUpdateError(f"job '{job.id}'"), on_stale)

    def _claim_version(self, job: Job, now: datetime) -> tuple[list, Job]:
        """The writes that bind a triggered training's version as it is claimed (none when it is
        bound already), and the job naming the version it trains."""
        named = self._registry.get_versions({(job.model_id, job.version)}).get((job.model_id, job.version))
        binding = job_rules.claim_binding(job, named)
        if binding == "bound":
            return [], job  # bound when it fired, or a retry of the job the version is bound to
        if binding == "bind":
            assert named is not None
            bound = moved_version(
                named, "training", f"training job {job.id}", DISPATCHER_ACTOR, now, job.id, lineage_of(job)
            )
            return [self._outbox.version_update(bound, named)], job
        record = self._registry.get_model(job.model_id)
        latest = self._registry.get_version(job.model_id, record.model.latest_version or LATEST)
        return self._give_version(job, record, latest, now)

    def started(self, job: Job, task_arn: str | None = None) -> Job | None:
        """Record that the handler accepted the claimed attempt: its deadline is now the handler's
        timeout. None when the job moved on meanwhile (a fast handler already completed it)."""
        running = job_rules.started(job, self._clock(), task_arn)
        try:
            self._outbox.commit([self._outbox.job_put(running, job)], [], job.model_id, f"start:{job.id}")
        except StaleEntityError:
            return None
        return running

    # Helpers ----------------------------------------------------------------------------------

    @staticmethod
    def _check_input(model: Model, action: str, job_input: dict[str, Any]) -> None:
        violations = contracts.schema_violations(job_input, contracts.input_schema(model, action))
        if violations:
            raise ContractViolationError(f"the {action} input", violations)

    def _new_job(
        self, model: Model, version: str, action: str, job_input: dict[str, Any], retry: RetryPolicy | None
    ) -> Job:
        now = self._clock()
        return Job(
            max_attempts=retry.max_attempts if retry else DEFAULT_DIRECT_ATTEMPTS,
            backoff_seconds=retry.backoff_seconds if retry else DEFAULT_BACKOFF_SECONDS,
            id=self._new_id(),
            model_id=model.id,
            workspace=model.workspace,
            version=version,
            action=action,
            status="queued",
            input=job_input,
            handler=getattr(model.handlers, action),
            trigger=None,
            created_at=now,
            updated_at=now,
        )

"""Jobs: direct inference and training, their completion, and what completion fires.

Completing a job is one outbox commit: the job's own conditional update (``queued|dispatched →
succeeded|failed``, so a finished job stays finished), the version's transition for training jobs,
and the jobs its subscriptions fire. A succeeded training job moves its version training→active; a
failed one moves it to ``failed`` with the error as its message. A succeeded job fires the event
its action produces, as the job-event table (``shared/domain/job_events.py``) says.

A version in ``training`` is bound to the job training it (``training_job_id``): only that job's
completion moves it. A job whose version was moved meanwhile (failed by hand, trained again by
another job) still completes, with a warning, but leaves the version alone and fires nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.data.errors import StaleEntityError
from shared.data.items import MAX_DOCUMENT_BYTES, TRANSACTION_ITEM_LIMIT, document_bytes
from shared.data.outbox import Guarded
from shared.data.save import RETRY, Retry, retry_on_stale
from shared.domain import completion_tokens, contracts
from shared.domain.access import Access
from shared.domain.entities import LATEST, AttemptRecord, Job, Model, RetryPolicy, Version
from shared.domain.errors import (
    ConcurrentUpdateError,
    ContractViolationError,
    EntityVersionMismatchError,
    IllegalTransitionError,
    ItemNotStorableError,
    JobAlreadyFinishedError,
    JobNotFailedError,
    JobNotFoundError,
    JobOutputTooLargeError,
    NoActiveVersionError,
    ResourceNotFoundError,
    StaleAttemptError,
    VersionBusyError,
    VersionNotFoundError,
    VersionNotTrainableError,
    VersionNumbersExhaustedError,
)
from shared.domain.lifecycle import check_transition
from shared.domain.records import ModelRecord
from shared.domain.requests import CompleteJobRequest, StartJobRequest
from shared.domain.responses import CompletionResponse, JobList, JobResponse
from shared.domain.supervision import (
    DEFAULT_BACKOFF_SECONDS,
    DEFAULT_DIRECT_ATTEMPTS,
    MAX_REQUEUES,
    START_DEADLINE_SECONDS,
    backoff,
    due_at,
    timeout_of,
)
from shared.domain.triggers import TRAINABLE, FiringPlan, next_source, training_slot
from shared.domain.versions import moved_version
from shared.observability import logger
from shared.services.firing import Firing, VersionSlots, lineage_of, target_state
from shared.services.ports import Clock, IdGenerator, JobReader, ModelReader, Outbox, random_id
from shared.services.transitions import VersionLifecycle, model_after

FINISHED = ("succeeded", "failed")


@dataclass(frozen=True)
class Claim:
    """A job taken for dispatch; ``refusal`` says why it must fail instead of starting."""

    job: Job
    refusal: str | None = None


DISPATCHER_ACTOR = "pie-dispatcher"
SWEEPER_ACTOR = "pie-sweeper"
# What the sweeper answers for a training job that ended without its version's move.
VERSION_LEFT = "version left as it is"
STATUS_MESSAGE_MAX = 1000  # a version's status_message; a job's error may be longer
ERROR_MAX = 4096  # a job's error, as CompleteJobRequest bounds it


def _status_message(error: str | None) -> str | None:
    """A failed job's error as its version's status_message, shortened to fit."""
    if error is None or len(error) <= STATUS_MESSAGE_MAX:
        return error
    return error[: STATUS_MESSAGE_MAX - 1] + "…"


def _warn_version_left(job: Job, reason: str) -> None:
    logger.warning(
        "job ended alone: its version is left as it is",
        extra={
            "job_id": job.id,
            "model_id": job.model_id,
            "workspace": job.workspace,
            "version": job.version,
            "reason": reason,
        },
    )


def _warn_not_fired(response: CompletionResponse) -> None:
    for event in response.triggered_events:
        if event.error is not None:
            logger.warning(
                "subscription not fired",
                extra={
                    "job_id": response.job.id,
                    "model_id": response.job.model_id,
                    "subscription_id": event.subscription_id,
                    "reason": event.error,
                },
            )


class JobService:
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
            if job.not_before is not None and job.not_before > now:
                return None
            claimed = job.model_copy(
                update={
                    "status": "dispatched",
                    "entity_version": job.entity_version + 1,
                    "updated_at": now,
                    "dispatched_at": now,
                    "deadline_at": now + timedelta(seconds=START_DEADLINE_SECONDS),
                    "not_before": None,
                    "started_at": None,
                    "task_arn": None,
                }
            )
            claimed = completion_tokens.issued(claimed)
            refusal = None
            guarded = []
            if job.action == "training" and job.trigger is not None:
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
        if named is not None and named.status == "training" and named.training_job_id == job.id:
            return [], job  # bound when it fired, or a retry of the job the version is bound to
        if named is not None and named.status in TRAINABLE:
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
        now = self._clock()
        running = job.model_copy(
            update={
                "started_at": now,
                "deadline_at": now + timeout_of(job),
                "task_arn": task_arn,
                "entity_version": job.entity_version + 1,
                "updated_at": now,
            }
        )
        try:
            self._outbox.commit([self._outbox.job_put(running, job)], [], job.model_id, f"start:{job.id}")
        except StaleEntityError:
            return None
        return running

    def refuse(self, job: Job, reason: str) -> Job:
        """Fail a claimed job that must not start: only the job changes (its version is not its to
        move), and nothing fires. Returns the job as it is stored now."""
        now = self._clock()
        failed = self._after_attempt(job, "failed", reason, now, retryable=False)
        try:
            self._outbox.commit([self._outbox.job_put(failed, job)], [], job.model_id, f"refuse:{job.id}")
        except StaleEntityError:
            logger.warning("refused job changed meanwhile; left as it is", extra={"job_id": job.id})
            return self._jobs.get(job.model_id, job.id)
        return failed

    # Completing -------------------------------------------------------------------------------

    def complete(
        self,
        model_id: str,
        job_id: str,
        request: CompleteJobRequest,
        actor: str,
        access: Access,
        known: Job | None = None,
    ) -> CompletionResponse:
        """``known`` is the job as the caller just read or wrote it, which saves reading it again;
        a conflict re-reads it. The caller must be able to write the job's workspace."""

        def attempt() -> CompletionResponse:
            nonlocal known
            job = known if known is not None else self._jobs.get(model_id, job_id)
            known = None
            access.require_write(job.workspace, model_id)
            self._check_in_flight(job, request.attempt)
            completion_tokens.check(job, request.completion_token)
            now = self._clock()
            if request.status == "succeeded":
                finished = self._after_attempt(job, "succeeded", None, now)
            else:
                finished = self._after_attempt(job, "failed", request.error, now, retryable=request.retryable)
            if finished.status in FINISHED:
                finished = finished.model_copy(update={"output": request.output})
            size = document_bytes(finished)
            if size > MAX_DOCUMENT_BYTES:
                raise JobOutputTooLargeError(size, MAX_DOCUMENT_BYTES)
            guarded = [self._outbox.job_put(finished, job)]
            warnings: list[str] = []
            plan = FiringPlan()
            if finished.status in FINISHED:
                plan = self._completion_effects(finished, actor, now, guarded, warnings)
            self._outbox.commit(guarded, plan.jobs, model_id, f"job:{job.id}")
            return CompletionResponse(job=finished, warnings=warnings, triggered_events=plan.events)

        def on_stale(stale: StaleEntityError) -> Retry:
            if stale.entity == "job" and stale.current is None:
                raise JobNotFoundError(model_id, job_id)
            return RETRY

        return retry_on_stale(attempt, ConcurrentUpdateError(f"job '{job_id}'"), on_stale)

    def finish(self, job: Job, result: CompleteJobRequest, actor: str) -> CompletionResponse:
        """Complete a job from what its handler reported with nobody to answer (the dispatcher, AWS
        events): a result that cannot be stored fails the job with the reason instead, in the same
        call, so the job is never left ``dispatched`` (a caller of the route gets a 400 and can
        retry with a smaller output instead). Firings it reports as not fired (the depth limit,
        the root's job budget, a missing target) are logged: nobody else reads its answer."""
        try:
            response = self.complete(job.model_id, job.id, result, actor=actor, access=Access.service(actor), known=job)
            _warn_not_fired(response)
            return response
        except ItemNotStorableError as refused:
            reason = refused.message[:ERROR_MAX]
            logger.warning("job result cannot be stored; the job fails", extra={"job_id": job.id, "reason": reason})
        failed = CompleteJobRequest(
            status="failed", error=reason, attempt=result.attempt, completion_token=result.completion_token
        )
        try:
            return self.complete(job.model_id, job.id, failed, actor=actor, access=Access.service(actor), known=job)
        except ItemNotStorableError:
            # Not even its version's move can be stored: the job alone records why it failed, the
            # handler's own error first.
            _warn_version_left(job, reason)
            if result.status == "failed" and result.error:
                reason = f"{result.error} (its version was not moved: {reason})"[:ERROR_MAX]
            return CompletionResponse(job=self.refuse(job, reason), triggered_events=[])

    # Supervision ------------------------------------------------------------------------------

    def supervise(self, job: Job, alone: bool = False) -> str:
        """What the sweeper does with a job the due index says is due (as the index read it).

        Every write is conditional on the job's entity_version, so of two sweepers racing on the
        same job one acts and the other finds it changed; returns what was done. ``alone`` ends
        the job without moving its version (the sweeper's way out when ending it normally failed).
        """
        now = self._clock()
        due = due_at(job)
        if due is None or due > now:
            return "not due"
        if job.status == "dispatched":
            if job.started_at is None:
                outcome = "not_started"
                error = f"attempt {job.attempt} was claimed for dispatch but never started (the dispatcher stopped)"
            else:
                outcome = "timed_out"
                seconds = int(timeout_of(job).total_seconds())
                error = f"attempt {job.attempt} timed out: its handler did not complete it within {seconds} s"
            return self._end(job, outcome, error, now, actor=SWEEPER_ACTOR, alone=alone)
        if job.not_before is not None or job.requeues < MAX_REQUEUES:
            # Re-put the queued job: its stream record (a MODIFY of a queued job) dispatches it.
            update: dict[str, Any] = {"not_before": None, "entity_version": job.entity_version + 1, "updated_at": now}
            label = "released"
            if job.not_before is None:
                update["requeues"] = job.requeues + 1
                label = "requeued"
            try:
                self._outbox.commit(
                    [self._outbox.job_put(job.model_copy(update=update), job)], [], job.model_id, f"sweep:{job.id}"
                )
            except StaleEntityError:
                return "changed meanwhile"
            return label
        error = f"never dispatched: still queued after {MAX_REQUEUES} re-queues (are the dispatcher and its stream running?)"
        return self._end(job, "not_started", error, now, actor=SWEEPER_ACTOR, retryable=False, alone=alone)

    def cancel(self, model_id: str, job_id: str, actor: str, access: Access, if_match: int | None = None) -> Job:
        """End a queued or dispatched job as failed, outcome ``cancelled``; returns it as stored."""

        def attempt() -> Job:
            job = self._jobs.get(model_id, job_id)
            access.require_write(job.workspace, model_id)
            if if_match is not None and if_match != job.entity_version:
                raise EntityVersionMismatchError("job", if_match, job.entity_version)
            if job.status in FINISHED:
                raise JobAlreadyFinishedError(job_id, job.status)
            now = self._clock()
            cancelled = self._after_attempt(job, "cancelled", f"cancelled by {actor}", now, retryable=False)
            guarded = [self._outbox.job_put(cancelled, job)]
            self._version_after_failure(cancelled, actor, now, guarded)
            self._commit_ending(cancelled, guarded, f"cancel:{job.id}")
            return cancelled

        return retry_on_stale(attempt, ConcurrentUpdateError(f"job '{job_id}'"))

    def redrive(self, model_id: str, job_id: str, actor: str, access: Access, if_match: int | None = None) -> Job:
        """Put a failed job back in ``queued`` as its next attempt (same id); a training job's
        version goes ``training`` with it, bound to it again."""

        def attempt() -> Job:
            job = self._jobs.get(model_id, job_id)
            access.require_write(job.workspace, model_id)
            if if_match is not None and if_match != job.entity_version:
                raise EntityVersionMismatchError("job", if_match, job.entity_version)
            if job.status != "failed":
                raise JobNotFailedError(job_id, job.status)
            now = self._clock()
            again = job.model_copy(
                update={
                    "status": "queued",
                    "attempt": job.attempt + 1,
                    "max_attempts": max(job.max_attempts, job.attempt + 1),
                    "error": None,
                    "output": None,
                    "not_before": None,
                    "requeues": 0,
                    "deadline_at": None,
                    "dispatched_at": None,
                    "started_at": None,
                    "completed_at": None,
                    "entity_version": job.entity_version + 1,
                    "updated_at": now,
                }
            )
            guarded = [self._outbox.job_put(again, job)]
            if job.action == "training":
                version = self._registry.get_version(model_id, job.version)
                try:
                    trainable = check_transition(version.status, "training")
                except IllegalTransitionError:
                    trainable = False
                if not trainable:
                    raise VersionNotTrainableError(model_id, version.version, version.status)
                moved = moved_version(
                    version, "training", f"training job {job.id} retried", actor, now, training_job_id=job.id
                )
                guarded.append(self._outbox.version_update(moved, version))
            self._outbox.commit(guarded, [], model_id, f"redrive:{job.id}:{again.attempt}")
            return again

        return retry_on_stale(attempt, ConcurrentUpdateError(f"job '{job_id}'"))

    def _end(
        self, job: Job, outcome: str, error: str, now: datetime, actor: str, retryable: bool = True, alone: bool = False
    ) -> str:
        """End the attempt in flight (or a queued job); a final ending moves a training job's
        version, unless ``alone`` or that move cannot be stored: then the job ends by itself."""
        ended = self._after_attempt(job, outcome, error, now, retryable=retryable)
        guarded = [self._outbox.job_put(ended, job)]
        moved = True
        if ended.status in FINISHED and alone and job.action == "training":
            _warn_version_left(ended, "the sweeper could not end the job normally")
            moved = False
        elif ended.status in FINISHED:
            moved = self._version_after_failure(ended, actor, now, guarded)
        try:
            moved = self._commit_ending(ended, guarded, f"end:{job.id}:{job.attempt}") and moved
        except StaleEntityError:
            return "changed meanwhile"
        if ended.status not in FINISHED:
            return f"{outcome}, retried"
        return outcome if moved else f"{outcome}, {VERSION_LEFT}"

    def _version_after_failure(self, job: Job, actor: str, now: datetime, guarded: list[Guarded]) -> bool:
        """A training job that ended for good moves its version to ``failed``; a failure fires
        nothing, and a job whose model was deleted meanwhile still ends. False when the version's
        move cannot be stored: the job then ends alone, its version left as it is."""
        if job.action != "training":
            return True
        kept = len(guarded)
        try:
            self._completion_effects(job, actor, now, guarded, [])
        except ResourceNotFoundError:
            logger.info("the ended job's model no longer exists", extra={"job_id": job.id})
        except ItemNotStorableError as refused:
            del guarded[kept:]  # none of the version's change, or all of it
            _warn_version_left(job, refused.message)
            return False
        return True

    def _commit_ending(self, ended: Job, guarded: list[Guarded], change: str) -> bool:
        """Commit a job's ending with its version's move; when DynamoDB refuses to store the
        version, commit the job's ending alone (returns False)."""
        try:
            self._outbox.commit(guarded, [], ended.model_id, change)
        except ItemNotStorableError as refused:
            if len(guarded) == 1:
                raise  # the job itself cannot be stored
            _warn_version_left(ended, refused.message)
            self._outbox.commit(guarded[:1], [], ended.model_id, change)
            return False
        return True

    def _after_attempt(self, job: Job, outcome: str, error: str | None, now: datetime, retryable: bool = True) -> Job:
        """The job once its attempt ended: queued for the next one after a backoff while it has
        attempts left (and the ending allows it), else finished."""
        record = AttemptRecord(
            attempt=job.attempt, dispatched_at=job.dispatched_at, ended_at=now, outcome=outcome, error=error
        )
        common: dict[str, Any] = {
            "attempt_history": [*job.attempt_history, record],
            "error": error,
            "deadline_at": None,
            "entity_version": job.entity_version + 1,
            "updated_at": now,
        }
        if outcome == "succeeded":
            return job.model_copy(update={**common, "status": "succeeded", "not_before": None, "completed_at": now})
        if retryable and outcome != "cancelled" and job.attempt < job.max_attempts:
            return job.model_copy(
                update={
                    **common,
                    "status": "queued",
                    "attempt": job.attempt + 1,
                    "not_before": now + backoff(job, self._rng),
                    "requeues": 0,
                    "dispatched_at": None,
                    "started_at": None,
                }
            )
        return job.model_copy(update={**common, "status": "failed", "not_before": None, "completed_at": now})

    def _check_in_flight(self, job: Job, attempt: int | None) -> None:
        """A result counts only for the attempt in flight: a finished job, another attempt's
        number, or a job waiting for its next attempt (the last one ended) is a 409."""
        if job.status in FINISHED:
            raise JobAlreadyFinishedError(job.id, job.status)
        waiting = job.status == "queued" and bool(job.attempt_history)
        if waiting or (attempt is not None and attempt != job.attempt):
            raise StaleAttemptError(job.id, attempt, None if waiting else job.attempt)

    def _completion_effects(
        self, job: Job, actor: str, now: datetime, guarded: list[Guarded], warnings: list[str]
    ) -> FiringPlan:
        """Adds the version's transition to ``guarded``, fills ``warnings``, returns what fires."""
        succeeded = job.status == "succeeded"
        moved: Version | None = None
        if job.action == "training":
            try:
                record, version = self._registry.get_model_and_version(job.model_id, job.version)
            except VersionNotFoundError:
                warnings.append(f"version '{job.version}' no longer exists: nothing else changed")
                return FiringPlan()
        else:
            record, version = self._registry.get_model(job.model_id), None
        read = record.model.entity_version
        if succeeded and job.output is not None:
            schema = contracts.output_schema(record.model, job.action)
            for reason in contracts.schema_violations(job.output, schema):
                warnings.append(f"output does not match the {job.action} output_schema: {reason}")
            if warnings:
                logger.warning("job output breaks its contract", extra={"job_id": job.id, "warnings": warnings})
        source_put: Guarded | None = None
        if version is not None:
            if version.status != "training":
                warnings.append(
                    f"version '{version.version}' is '{version.status}', not 'training' by this job: "
                    "the version was not changed"
                )
                return FiringPlan()
            if version.training_job_id not in (None, job.id):
                warnings.append(
                    f"version '{version.version}' is now trained by job '{version.training_job_id}', no longer by "
                    "this job: the version was not changed"
                )
                return FiringPlan()
            moved = moved_version(version, "active" if succeeded else "failed", _status_message(job.error), actor, now)
            new_record = model_after(record, version, moved, now)
            guarded.append(self._outbox.version_update(moved, version, completing_job=job.id))
            if new_record is not None:
                source_put = self._outbox.model_put(new_record, read)
                guarded.append(source_put)
                record = new_record
        if not succeeded:
            return FiringPlan()
        # The job's own write, the version's and the model's share the transaction with the chain.
        chain = self._firing.plan(
            record, read, next_source(job, job.output), now, moved, room=TRANSACTION_ITEM_LIMIT - 3
        )
        guarded += chain.writes
        if chain.source_record is not None:
            if source_put is not None:
                guarded.remove(source_put)
            guarded.append(self._outbox.model_put(chain.source_record, read))
        return chain.plan

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

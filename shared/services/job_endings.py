"""How jobs end: completion, refusal, the sweeper's timeouts, cancel, and redrive after a failure.

Completing a job is one outbox commit: the job's own conditional update (``queued|dispatched →
succeeded|failed``, so a finished job stays finished), the version's transition for training jobs,
and the jobs its subscriptions fire. What each ending does to the job and its version is the
domain's (``shared.domain.job_rules``); this reads, asks it, and writes the answer.

A version in ``training`` is bound to the job training it (``training_job_id``): only that job's
completion moves it. A job whose version was moved meanwhile (failed by hand, trained again by
another job) still completes, with a warning, but leaves the version alone and fires nothing.

``JobEndings`` is the half of ``JobService`` (``shared.services.jobs``) that ends attempts; the
other half starts, reads and dispatches jobs. They share one constructor and one set of ports.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shared.data.errors import StaleEntityError
from shared.data.items import MAX_DOCUMENT_BYTES, TRANSACTION_ITEM_LIMIT, document_bytes
from shared.data.outbox import Guarded
from shared.data.save import RETRY, Retry, retry_on_stale
from shared.domain import completion_tokens, job_rules
from shared.domain.access import Access
from shared.domain.entities import Job, Version
from shared.domain.errors import (
    ConcurrentUpdateError,
    EntityVersionMismatchError,
    ItemNotStorableError,
    JobNotFoundError,
    JobOutputTooLargeError,
    ResourceNotFoundError,
    VersionNotFoundError,
)
from shared.domain.job_rules import ERROR_MAX, FINISHED
from shared.domain.requests import CompleteJobRequest
from shared.domain.responses.jobs import CompletionResponse
from shared.domain.triggers import FiringPlan, next_source
from shared.domain.versions import model_after
from shared.observability import logger
from shared.services.aliases import AliasEffect, AliasEffects
from shared.services.firing import Firing
from shared.services.ports import Clock, JobReader, ModelReader, Outbox

SWEEPER_ACTOR = "pie-sweeper"
# What the sweeper answers for a training job that ended without its version's move.
VERSION_LEFT = "version left as it is"


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


class JobEndings:
    _rng: Callable[[], float]
    _registry: ModelReader
    _jobs: JobReader
    _firing: Firing
    _outbox: Outbox
    _clock: Clock
    # What a version's transition does to its model's aliases (the promotion policy); None: nothing.
    _aliases: AliasEffects | None = None

    def refuse(self, job: Job, reason: str) -> Job:
        """Fail a claimed job that must not start: only the job changes (its version is not its to
        move), and nothing fires. Returns the job as it is stored now."""
        failed = job_rules.after_attempt(job, "failed", reason, self._clock(), retryable=False, rng=self._rng)
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
            job_rules.check_in_flight(job, request.attempt)
            completion_tokens.check(job, request.completion_token)
            now = self._clock()
            finished = job_rules.completed(job, request, now, rng=self._rng)
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

    def _completion_effects(
        self, job: Job, actor: str, now: datetime, guarded: list[Guarded], warnings: list[str]
    ) -> FiringPlan:
        """Adds the version's transition to ``guarded``, fills ``warnings``, returns what fires."""
        moved: Version | None = None
        if job_rules.moves_a_version(job):
            try:
                record, version = self._registry.get_model_and_version(job.model_id, job.version)
            except VersionNotFoundError:
                warnings.append(f"version '{job.version}' no longer exists: nothing else changed")
                return FiringPlan()
        else:
            record, version = self._registry.get_model(job.model_id), None
        read = record.model.entity_version
        broken = job_rules.output_warnings(record.model, job)
        if broken:
            warnings += broken
            logger.warning("job output breaks its contract", extra={"job_id": job.id, "warnings": warnings})
        source_put: Guarded | None = None
        aliased = AliasEffect()
        if version is not None:
            left = job_rules.version_left_by(job, version)
            if left is not None:
                warnings.append(left)
                return FiringPlan()
            moved = job_rules.version_after(job, version, actor, now)
            new_record = model_after(record, version, moved, now)
            guarded.append(self._outbox.version_update(moved, version, completing_job=job.id))
            if self._aliases is not None:
                aliased = self._aliases.of_transition(record.model, version, moved, now)
                guarded += aliased.writes
            if new_record is not None:
                source_put = self._outbox.model_put(new_record, read)
                guarded.append(source_put)
                record = new_record
        if job.status != "succeeded":
            return FiringPlan()
        # The job's own write, the version's, the model's and the promoted alias's share the
        # transaction with the chain: the alias's move fires at the job's next link, as its event does.
        source = next_source(job, job.output)
        alias_moved = aliased.source(within=source)
        triggers = [source] if alias_moved is None else [source, alias_moved]
        room = TRANSACTION_ITEM_LIMIT - 3 - len(aliased.writes)
        chain = self._firing.plan(record, read, triggers, now, moved, room=room)
        guarded += chain.writes
        if chain.source_record is not None:
            if source_put is not None:
                guarded.remove(source_put)
            guarded.append(self._outbox.model_put(chain.source_record, read))
        return chain.plan

    # Supervision ------------------------------------------------------------------------------

    def supervise(self, job: Job, alone: bool = False) -> str:
        """What the sweeper does with a job the due index says is due (as the index read it).

        Every write is conditional on the job's entity_version, so of two sweepers racing on the
        same job one acts and the other finds it changed; returns what was done. ``alone`` ends
        the job without moving its version (the sweeper's way out when ending it normally failed).
        """
        now = self._clock()
        decision = job_rules.sweep(job, now)
        if decision.action == "wait":
            return "not due"
        if decision.action == "end":
            return self._end(
                job, decision.outcome, decision.error, now, SWEEPER_ACTOR, retryable=decision.retryable, alone=alone
            )
        # Re-put the queued job: its stream record (a MODIFY of a queued job) dispatches it.
        try:
            self._outbox.commit(
                [self._outbox.job_put(job_rules.requeued(job, now), job)], [], job.model_id, f"sweep:{job.id}"
            )
        except StaleEntityError:
            return "changed meanwhile"
        return decision.outcome

    def cancel(self, model_id: str, job_id: str, actor: str, access: Access, if_match: int | None = None) -> Job:
        """End a queued or dispatched job as failed, outcome ``cancelled``; returns it as stored."""

        def attempt() -> Job:
            job = self._jobs.get(model_id, job_id)
            access.require_write(job.workspace, model_id)
            if if_match is not None and if_match != job.entity_version:
                raise EntityVersionMismatchError("job", if_match, job.entity_version)
            now = self._clock()
            cancelled = job_rules.cancelled(job, actor, now)
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
            now = self._clock()
            again = job_rules.redriven(job, now)
            guarded = [self._outbox.job_put(again, job)]
            if job_rules.moves_a_version(job):
                version = self._registry.get_version(model_id, job.version)
                guarded.append(self._outbox.version_update(job_rules.retrained(job, version, actor, now), version))
            self._outbox.commit(guarded, [], model_id, f"redrive:{job.id}:{again.attempt}")
            return again

        return retry_on_stale(attempt, ConcurrentUpdateError(f"job '{job_id}'"))

    def _end(
        self, job: Job, outcome: str, error: str, now: datetime, actor: str, retryable: bool = True, alone: bool = False
    ) -> str:
        """End the attempt in flight (or a queued job); a final ending moves a training job's
        version, unless ``alone`` or that move cannot be stored: then the job ends by itself."""
        ended = job_rules.after_attempt(job, outcome, error, now, retryable=retryable, rng=self._rng)
        guarded = [self._outbox.job_put(ended, job)]
        moved = True
        if ended.status in FINISHED and alone and job_rules.moves_a_version(job):
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
        if not job_rules.moves_a_version(job):
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

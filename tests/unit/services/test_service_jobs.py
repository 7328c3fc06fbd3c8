"""Jobs on in-memory stores: starting, claiming, completing (and what completion moves and fires),
attempts and their backoff, supervision, cancel and redrive."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.domain.access import Access
from shared.domain.entities import Job
from shared.domain.errors import (
    ContractViolationError,
    EntityVersionMismatchError,
    IllegalTransitionError,
    JobAlreadyFinishedError,
    JobNotFailedError,
    NoActiveVersionError,
    PageTokenInvalidError,
    StaleAttemptError,
    VersionBusyError,
    WorkspaceAccessDeniedError,
)
from shared.domain.requests import CompleteJobRequest, StartJobRequest
from shared.domain.supervision import MAX_REQUEUES, QUEUE_GRACE_SECONDS, START_DEADLINE_SECONDS, timeout_of
from shared.services.jobs import DISPATCHER_ACTOR
from tests.unit.services.conftest import ADMIN, World

SCHEMA = {"type": "object", "required": ["x"], "properties": {"x": {"type": "number"}}}


def train(world: World, model_id: str = "m", **fields) -> Job:
    return world.jobs.start_training(
        model_id, StartJobRequest.model_validate({"input": {}, **fields}), "bob", ADMIN
    ).job


def infer(world: World, model_id: str = "m", **fields) -> Job:
    return world.jobs.start_inference(model_id, StartJobRequest.model_validate({"input": {}, **fields}), ADMIN).job


def complete(world: World, job: Job, status: str = "succeeded", **fields):
    request = CompleteJobRequest.model_validate({"status": status, **fields})
    return world.jobs.complete(job.model_id, job.id, request, "handler", ADMIN)


def running(world: World, job: Job) -> Job:
    """The job claimed by the dispatcher and accepted by its handler."""
    claim = world.jobs.claim(world.table.job(job.model_id, job.id))
    assert claim is not None and claim.refusal is None
    started = world.jobs.started(claim.job)
    assert started is not None
    return started


# Starting ---------------------------------------------------------------------------------------


def test_an_inference_runs_the_active_version_once_by_default(world: World):
    world.create()
    with pytest.raises(NoActiveVersionError):
        infer(world)
    world.activate("m")
    job = infer(world, input={"features": [1]})
    assert (job.id, job.version, job.action, job.status) == (world.ids.issued[-1], "1", "inference", "queued")
    assert (job.max_attempts, job.input, job.trigger) == (1, {"features": [1]}, None)
    assert world.table.job("m", job.id) == job


def test_an_input_that_breaks_the_contract_starts_nothing(world: World):
    world.create(handler_contracts={"inference": {"input_schema": SCHEMA}})
    world.activate("m")
    with pytest.raises(ContractViolationError):
        infer(world, input={"x": "not a number"})
    assert world.table.jobs == {}
    assert infer(world, input={"x": 1}).status == "queued"


def test_a_training_binds_the_version_to_its_job_and_a_second_one_on_it_is_busy(world: World):
    world.create()
    job = train(world, retry={"max_attempts": 3, "backoff_seconds": 10})
    version = world.table.version("m", "1")
    assert (version.status, version.training_job_id) == ("training", job.id)
    assert version.lineage is not None and (version.lineage.job_id, version.lineage.trigger) == (job.id, None)
    assert (job.max_attempts, job.backoff_seconds) == (3, 10)
    with pytest.raises(VersionBusyError):
        train(world, version="1")
    assert len(world.table.jobs) == 1


def test_a_training_without_a_version_cuts_the_next_one_while_the_newest_is_busy(world: World):
    world.create()
    first = train(world)
    second = train(world)
    assert (first.version, second.version) == ("1", "2")
    version = world.table.version("m", "2")
    assert (version.status, version.training_job_id, version.created_by) == ("training", second.id, "pie")
    assert [change.status for change in version.status_history] == ["pending", "training"]
    assert world.table.model("m").latest_version == "2"


def test_a_named_active_version_cannot_be_trained_but_the_model_can(world: World):
    world.create()
    world.activate("m")
    with pytest.raises(IllegalTransitionError):
        train(world, version="1")
    assert world.table.jobs == {}
    assert train(world).version == "2"
    assert world.table.version("m", "1").status == "active"


def test_starting_a_job_needs_write_access(world: World):
    world.create()
    with pytest.raises(WorkspaceAccessDeniedError):
        world.jobs.start_training("m", StartJobRequest(input={}), "eve", Access("eve", frozenset({"eve"})))
    assert world.table.version("m", "1").status == "pending"


# Dispatching ------------------------------------------------------------------------------------


def test_a_claim_dispatches_with_a_start_deadline_and_a_second_claim_finds_nothing(world: World):
    world.create()
    world.activate("m")
    queued = infer(world)
    claim = world.jobs.claim(queued)
    assert claim is not None
    assert (claim.job.status, claim.job.deadline_at) == (
        "dispatched",
        world.clock.now + timedelta(seconds=START_DEADLINE_SECONDS),
    )
    assert world.jobs.claim(queued) is None  # a redelivered stream record
    started = world.jobs.started(claim.job, task_arn="arn:task")
    assert started is not None and started.deadline_at == world.clock.now + timeout_of(started)
    assert world.table.job("m", queued.id).task_arn == "arn:task"


def test_a_triggered_training_whose_version_was_moved_by_hand_gets_a_new_one_at_claim(chain_world: World):
    job = chain_world.table.all_jobs()[0]
    chain_world.activate("target")  # by hand, while the job waited to be claimed
    claim = chain_world.jobs.claim(job)
    assert claim is not None and claim.refusal is None
    assert claim.job.version == "2"
    assert chain_world.table.job("target", job.id).version == "2"
    version = chain_world.table.version("target", "2")
    assert (version.status, version.training_job_id) == ("training", job.id)
    assert version.lineage is not None and version.lineage.trigger == job.trigger


def test_a_triggered_training_binds_its_pending_version_when_it_fires(chain_world: World):
    job = chain_world.table.all_jobs()[0]
    version = chain_world.table.version("target", "1")
    assert (version.status, version.training_job_id) == ("training", job.id)
    assert version.lineage is not None and version.lineage.job_id == job.id
    claim = chain_world.jobs.claim(job)
    assert claim is not None and claim.refusal is None and claim.job.version == "1"
    assert chain_world.table.version("target", "1").entity_version == version.entity_version


@pytest.fixture
def chain_world(world: World) -> World:
    """``source`` finished training, which queued a training of ``target`` (pending)."""
    world.create("source")
    world.create("target")
    world.subscribe("source", "target", target_action="training")
    world.activate("source")
    return world


# Completing -------------------------------------------------------------------------------------


def test_a_succeeded_training_activates_its_version_and_fires_training_complete(world: World):
    world.create("source")
    world.create("target")
    world.activate("target")
    subscription = world.subscribe("source", "target")
    job = running(world, train(world, "source"))
    done = complete(world, job, output={"auc": 0.9})
    assert (done.job.status, done.job.output, done.warnings) == ("succeeded", {"auc": 0.9}, [])
    version = world.table.version("source", "1")
    assert (version.status, version.training_job_id) == ("active", None)
    assert world.table.model("source").active_version == "1"
    [event] = done.triggered_events
    fired = world.table.job("target", event.job_id)
    assert (event.subscription_id, fired.input) == (subscription.id, {"auc": 0.9})
    assert (fired.trigger.source_job_id, fired.trigger.depth) == (job.id, 1)


def test_a_failed_training_fails_its_version_with_the_error_and_fires_nothing(world: World):
    world.create("source")
    world.create("target")
    world.activate("target")
    world.subscribe("source", "target")
    job = running(world, train(world, "source"))
    done = complete(world, job, "failed", error="out of memory")
    assert (done.job.status, done.triggered_events) == ("failed", [])
    version = world.table.version("source", "1")
    assert (version.status, version.status_message) == ("failed", "out of memory")
    assert [j.model_id for j in world.table.all_jobs()] == ["source"]


def test_a_succeeded_inference_fires_inference_complete(world: World):
    world.create()
    world.activate("m")
    world.create("next")
    world.activate("next")
    world.subscribe("m", "next", trigger_event="inference_complete")
    done = complete(world, running(world, infer(world)), output={"y": 1})
    [event] = done.triggered_events
    assert world.table.job("next", event.job_id).input == {"y": 1}


def test_an_output_that_breaks_the_contract_is_kept_with_a_warning(world: World):
    world.create(handler_contracts={"inference": {"output_schema": SCHEMA}})
    world.activate("m")
    done = complete(world, running(world, infer(world)), output={"x": "text"})
    assert done.job.status == "succeeded"
    assert len(done.warnings) == 1 and "output_schema" in done.warnings[0]


def test_a_result_counts_only_for_the_attempt_in_flight(world: World):
    world.create()
    world.activate("m")
    job = running(world, infer(world))
    with pytest.raises(StaleAttemptError):
        complete(world, job, attempt=2)
    complete(world, job, attempt=1)
    with pytest.raises(JobAlreadyFinishedError):
        complete(world, job)
    assert world.table.job("m", job.id).status == "succeeded"


def test_a_completion_that_loses_to_another_rereads_and_finds_the_job_finished(world: World):
    world.create()
    world.activate("m")
    job = running(world, infer(world))
    world.concurrently(lambda: complete(world, job, "failed", error="first"))
    with pytest.raises(JobAlreadyFinishedError):
        complete(world, job)
    assert world.table.job("m", job.id).error == "first"


def test_a_failure_with_attempts_left_queues_the_next_attempt_after_a_backoff(world: World):
    world.create()
    job = running(world, train(world, retry={"max_attempts": 2, "backoff_seconds": 40}))
    world.clock.advance(10)
    retried = complete(world, job, "failed", error="flaky").job
    assert (retried.status, retried.attempt, retried.error) == ("queued", 2, "flaky")
    assert retried.not_before == world.clock.now + timedelta(seconds=30)  # 40 s, half of it jittered by 0.5
    assert [(a.attempt, a.outcome, a.error) for a in retried.attempt_history] == [(1, "failed", "flaky")]
    assert world.table.version("m", "1").status == "training"  # still this job's
    assert world.jobs.claim(retried) is None  # not due yet
    world.clock.advance(30)
    final = complete(world, running(world, retried), "failed", error="again").job
    assert (final.status, final.attempt, len(final.attempt_history)) == ("failed", 2, 2)
    assert world.table.version("m", "1").status == "failed"


def test_a_non_retryable_failure_ends_the_job_whatever_attempts_are_left(world: World):
    world.create()
    job = running(world, train(world, retry={"max_attempts": 3}))
    assert complete(world, job, "failed", error="bad input", retryable=False).job.status == "failed"


def test_a_job_whose_version_was_moved_by_hand_completes_with_a_warning_and_moves_nothing(world: World):
    world.create()
    job = running(world, train(world))
    world.move("m", "failed")
    done = complete(world, job)
    assert done.job.status == "succeeded"
    assert "not 'training'" in done.warnings[0]
    assert world.table.version("m", "1").status == "failed"


def test_a_job_whose_version_another_job_now_trains_leaves_it_to_that_job(world: World):
    world.create()
    first = running(world, train(world))
    world.move("m", "failed")
    second = train(world)
    done = complete(world, first)
    assert done.job.status == "succeeded"
    assert f"now trained by job '{second.id}'" in done.warnings[0]
    version = world.table.version("m", "1")
    assert (version.status, version.training_job_id) == ("training", second.id)


# Supervision, cancel, redrive -------------------------------------------------------------------


def test_an_attempt_never_started_is_ended_by_the_sweeper_and_retried(world: World):
    world.create()
    world.activate("m")
    queued = infer(world, retry={"max_attempts": 2})
    claim = world.jobs.claim(queued)
    assert world.jobs.supervise(claim.job) == "not due"
    world.clock.advance(START_DEADLINE_SECONDS)
    assert world.jobs.supervise(claim.job) == "not_started, retried"
    stored = world.table.job("m", queued.id)
    assert (stored.status, stored.attempt, stored.attempt_history[0].outcome) == ("queued", 2, "not_started")


def test_a_started_attempt_past_its_timeout_fails_its_training(world: World):
    world.create()
    job = running(world, train(world))
    world.clock.advance(timeout_of(job).total_seconds())
    assert world.jobs.supervise(job) == "timed_out"
    assert world.table.job("m", job.id).status == "failed"
    assert world.table.version("m", "1").status == "failed"
    assert world.jobs.supervise(job) == "changed meanwhile"  # a second sweeper


def test_a_queued_job_nothing_dispatched_is_requeued_a_few_times_then_failed(world: World):
    world.create()
    world.activate("m")
    job = infer(world)
    for expected in range(1, MAX_REQUEUES + 1):
        world.clock.advance(QUEUE_GRACE_SECONDS)
        assert world.jobs.supervise(world.table.job("m", job.id)) == "requeued"
        assert world.table.job("m", job.id).requeues == expected
    world.clock.advance(QUEUE_GRACE_SECONDS)
    assert world.jobs.supervise(world.table.job("m", job.id)) == "not_started"
    ended = world.table.job("m", job.id)
    assert (ended.status, ended.attempt_history[-1].outcome) == ("failed", "not_started")
    assert "never dispatched" in ended.error


def test_a_retry_whose_backoff_is_over_is_released_for_dispatch(world: World):
    world.create()
    world.activate("m")
    retried = complete(world, running(world, infer(world, retry={"max_attempts": 2})), "failed", error="x").job
    world.clock.advance(3600)
    assert world.jobs.supervise(retried) == "released"
    released = world.table.job("m", retried.id)
    assert (released.status, released.not_before, released.attempt) == ("queued", None, 2)


def test_cancelling_a_training_fails_it_and_its_version(world: World):
    world.create()
    job = train(world)
    with pytest.raises(EntityVersionMismatchError):
        world.jobs.cancel("m", job.id, "bob", ADMIN, if_match=9)
    cancelled = world.jobs.cancel("m", job.id, "bob", ADMIN)
    assert (cancelled.status, cancelled.attempt_history[-1].outcome) == ("failed", "cancelled")
    assert world.table.version("m", "1").status == "failed"
    with pytest.raises(JobAlreadyFinishedError):
        world.jobs.cancel("m", job.id, "bob", ADMIN)


def test_a_redriven_training_is_its_next_attempt_and_binds_its_version_again(world: World):
    world.create()
    job = running(world, train(world))
    with pytest.raises(JobNotFailedError):
        world.jobs.redrive("m", job.id, "bob", ADMIN)
    complete(world, job, "failed", error="x")
    again = world.jobs.redrive("m", job.id, "bob", ADMIN)
    assert (again.status, again.attempt, again.max_attempts, again.error) == ("queued", 2, 2, None)
    version = world.table.version("m", "1")
    assert (version.status, version.training_job_id) == ("training", job.id)


def test_the_dispatcher_finishes_a_job_whose_output_cannot_be_stored_as_failed(world: World):
    world.create()
    world.activate("m")
    job = running(world, infer(world))
    huge = CompleteJobRequest(status="succeeded", output={"blob": "x" * 400_000})
    done = world.jobs.finish(job, huge, DISPATCHER_ACTOR)
    assert done.job.status == "failed" and "bytes" in done.job.error


def test_a_private_delivery_log_reads_on_past_hidden_jobs_instead_of_answering_an_empty_page(world: World):
    world.create("mine", workspace="alice")
    world.create("theirs", workspace="bob")
    world.activate("mine")
    world.activate("theirs")
    mine = infer(world, "mine")
    for _ in range(3):  # newer than alice's job, and hidden from her
        infer(world, "theirs")
    private = Access("alice", frozenset({"alice"}), private_reads=True)

    page = world.jobs.log(1, None, None, None, None, private)

    assert [job.id for job in page.jobs] == [mine.id]


def test_a_delivery_log_token_serves_only_a_caller_who_reads_the_same_workspaces(world: World):
    world.create("mine", workspace="alice")
    world.activate("mine")
    for _ in range(2):
        infer(world, "mine")
    alice = Access("alice", frozenset({"alice"}), private_reads=True)
    bob = Access("bob", frozenset({"bob"}), private_reads=True)
    token = world.jobs.log(1, None, None, None, None, alice).next_token
    assert token is not None

    with pytest.raises(PageTokenInvalidError):
        world.jobs.log(1, token, None, None, None, bob)
    assert len(world.jobs.log(1, token, None, None, None, alice).jobs) == 1


def test_the_delivery_log_shows_only_readable_workspaces(world: World):
    world.create("mine", workspace="alice")
    world.create("theirs", workspace="bob")
    for model_id in ("mine", "theirs"):
        world.activate(model_id)
        infer(world, model_id)
    private = Access("alice", frozenset({"alice"}), private_reads=True)
    assert [j.model_id for j in world.jobs.log(10, None, None, None, None, private).jobs] == ["mine"]
    assert len(world.jobs.log(10, None, None, None, None, ADMIN).jobs) == 2

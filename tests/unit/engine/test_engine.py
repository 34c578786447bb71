"""The job engine against the simulator, in virtual time: states, quota, fairness, budget, restarts."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from bot.dashscope import DashScopeClient, DashScopeError
from bot.domain.errors import QuotaExceeded
from bot.domain.jobs import Job, JobState, Requester
from bot.domain.requests import GenerationRequest
from bot.engine.runner import Engine, EngineConfig, QueueFull
from bot.engine.timing import SURE_SAMPLES
from bot.engine.virtual import drive
from bot.i18n import Text
from bot.simulator import Simulator, SimulatorConfig
from storage.connect import open_database
from storage.jobs import JobStore
from storage.quotas import QuotaStore
from tests.support.engine_rig import ALICE, BOB, Crash, RecordingNotifier, Rig, video_request


async def test_a_job_goes_through_every_state_and_is_charged_once(rig: Rig) -> None:
    job = await rig.engine.enqueue(video_request(duration=4), ALICE)
    assert job.state is JobState.QUEUED
    assert (await rig.quotas.allowance(guild_id=10, user_id=1)).held_seconds == 4

    await rig.finish(job.id)

    done = await rig.job(job.id)
    assert done.state is JobState.DELIVERED
    assert await rig.states(job.id) == [
        JobState.QUEUED,
        JobState.SUBMITTING,
        JobState.PENDING,
        JobState.RUNNING,
        JobState.DOWNLOADING,
        JobState.DELIVERING,
        JobState.DELIVERED,
    ]
    assert rig.notifier.posted == {job.id: [done.delivered_message_id]}
    assert done.billed_seconds == 4 and done.task_id and done.result_url
    assert await rig.ledger_kinds(job.id) == ["reserve", "commit"]
    allowance = await rig.quotas.allowance(guild_id=10, user_id=1)
    assert (allowance.used_seconds, allowance.held_seconds) == (4, 0)
    calls = [r["call"] for r in await rig.jobs.responses(job.id)]
    assert calls[0] == "submit" and calls[-1] == "query" and len(calls) >= 3
    assert not list(rig.config.spool_dir.glob("*")), "the spool is emptied after delivery"
    seen = [u.state for jid, u in rig.notifier.updates if jid == job.id]
    assert seen[0] is JobState.QUEUED and seen[-1] is JobState.DELIVERED


async def test_a_refused_video_is_refunded_with_a_human_reason(rig: Rig) -> None:
    rig.simulator.config.failure_rate = 1.0
    job = await rig.engine.enqueue(video_request(), ALICE)
    await rig.finish(job.id)
    done = await rig.job(job.id)
    assert done.state is JobState.FAILED
    assert done.error_code == "DataInspectionFailed"
    assert "content moderation" in rig.notifier.failed[job.id]
    assert await rig.ledger_kinds(job.id) == ["reserve", "refund"]
    assert (await rig.quotas.allowance(guild_id=10, user_id=1)).used_seconds == 0


async def test_quota_is_checked_before_anything_is_queued(rig: Rig) -> None:
    await rig.quotas.set_guild_default(10, seconds=5)
    await rig.engine.enqueue(video_request(duration=5), ALICE)
    with pytest.raises(QuotaExceeded, match="0 s left"):
        await rig.engine.enqueue(video_request(duration=2), ALICE)
    assert len(await rig.jobs.for_user(10, 1)) == 1  # the refused one left no row


async def test_the_waiting_line_per_user_is_capped(rig: Rig) -> None:
    rig.engine.config = replace(rig.config, max_waiting_per_user=2)
    await rig.engine.enqueue(video_request(), ALICE)
    await rig.engine.enqueue(video_request(), ALICE)
    with pytest.raises(QueueFull) as refused:
        await rig.engine.enqueue(video_request(), ALICE)
    assert str(refused.value) == (
        "You already have 2 videos waiting; wait for one to start before asking for more."
    )
    assert isinstance(refused.value.text, Text) and refused.value.text.count == 2
    await rig.engine.enqueue(video_request(), BOB)  # others are not affected


async def test_one_video_waiting_is_said_in_the_singular(rig: Rig) -> None:
    rig.engine.config = replace(rig.config, max_waiting_per_user=1)
    await rig.engine.enqueue(video_request(), ALICE)
    with pytest.raises(QueueFull) as refused:
        await rig.engine.enqueue(video_request(), ALICE)
    assert str(refused.value) == (
        "You already have 1 video waiting; wait for it to start before asking for more."
    )


async def test_admissible_refuses_what_enqueue_would_and_holds_nothing(rig: Rig) -> None:
    # Admission asks before any download; the answer is enqueue's own, read-only.
    rig.engine.config = replace(rig.config, max_waiting_per_user=1)
    await rig.quotas.set_guild_default(10, seconds=5)
    await rig.engine.admissible(video_request(duration=5), ALICE)
    assert (await rig.quotas.allowance(guild_id=10, user_id=1)).held_seconds == 0
    assert await rig.jobs.for_user(10, 1) == []
    with pytest.raises(QuotaExceeded, match="5 s left"):
        await rig.engine.admissible(video_request(duration=10), ALICE)
    await rig.engine.enqueue(video_request(duration=2), ALICE)
    with pytest.raises(QueueFull):
        await rig.engine.admissible(video_request(duration=2), ALICE)
    await rig.engine.admissible(video_request(duration=10), ALICE, exempt=True)


async def test_cancel_while_queued_pending_and_running(rig: Rig) -> None:
    queued = await rig.engine.enqueue(video_request(), ALICE)
    outcome = await rig.engine.cancel(queued.id)
    assert outcome.canceled and "Nothing was charged" in str(outcome.message)
    assert (await rig.job(queued.id)).state is JobState.CANCELED
    assert await rig.ledger_kinds(queued.id) == ["reserve", "refund"]

    pending = await rig.engine.enqueue(video_request(), ALICE)
    await rig.engine.step()
    assert (await rig.job(pending.id)).state is JobState.PENDING
    outcome = await rig.engine.cancel(pending.id)
    assert outcome.canceled
    assert (
        rig.simulator.tasks[(await rig.job(pending.id)).task_id].status(rig.clock()) == "CANCELED"
    )
    assert await rig.ledger_kinds(pending.id) == ["reserve", "refund"]

    running = await rig.engine.enqueue(video_request(), ALICE)

    async def is_running() -> bool:
        return (await rig.job(running.id)).state is JobState.RUNNING

    await drive(rig.engine, rig.clock, until=is_running)
    assert (await rig.job(running.id)).state is JobState.RUNNING
    outcome = await rig.engine.cancel(running.id)
    assert not outcome.canceled and "cannot stop it" in str(outcome.message)
    await rig.finish(running.id)
    assert (await rig.job(running.id)).state is JobState.DELIVERED
    assert await rig.ledger_kinds(running.id) == ["reserve", "commit"]


async def test_cancel_of_a_task_canceled_elsewhere_ends_it_canceled_and_refunded(
    rig: Rig,
) -> None:
    """The provider refuses (the task is no longer PENDING): the task is asked how it stands."""
    job = await rig.engine.enqueue(video_request(), ALICE)
    await rig.engine.step()
    task_id = (await rig.job(job.id)).task_id
    assert task_id and (await rig.job(job.id)).state is JobState.PENDING
    rig.simulator.tasks[task_id].canceled_at = rig.clock()  # e.g. from the provider's console

    outcome = await rig.engine.cancel(job.id)
    assert outcome.canceled
    assert str(outcome.message) == f"Video #{job.id} was already canceled. Nothing was charged."
    assert (await rig.job(job.id)).state is JobState.CANCELED
    assert await rig.ledger_kinds(job.id) == ["reserve", "refund"]
    assert "canceled" in rig.notifier.failed[job.id].lower()


async def test_cancel_of_a_pending_job_whose_task_already_started_says_it_comes(
    rig: Rig,
) -> None:
    job = await rig.engine.enqueue(video_request(), ALICE)
    await rig.engine.step()
    rig.clock.advance(6)  # the task is RUNNING at the provider; no poll has seen it yet
    assert (await rig.job(job.id)).state is JobState.PENDING

    outcome = await rig.engine.cancel(job.id)
    assert not outcome.canceled and "It will be delivered" in str(outcome.message)
    await rig.finish(job.id)
    assert (await rig.job(job.id)).state is JobState.DELIVERED


async def test_a_burst_of_429s_requeues_without_failing(rig: Rig) -> None:
    rig.simulator.script("429", "429", "429")
    job = await rig.engine.enqueue(video_request(), ALICE)
    await rig.finish(job.id)
    states = await rig.states(job.id)
    assert states.count(JobState.SUBMITTING) == 4
    assert states.count(JobState.QUEUED) == 4  # created, then back three times
    assert states[-1] is JobState.DELIVERED
    assert (await rig.job(job.id)).attempts == 4
    assert await rig.ledger_kinds(job.id) == ["reserve", "commit"]
    assert any(u.note and "busy" in str(u.note) for _, u in rig.notifier.updates)


async def test_concurrency_is_respected_and_the_query_budget_is_never_exceeded(rig: Rig) -> None:
    rig.simulator.config.concurrency["wan2.6-i2v-flash"] = 40
    rig.simulator.config.submit_per_second["wan2.6-i2v-flash"] = 40
    rig.engine.config = replace(
        rig.config, concurrency={"wan2.6-i2v-flash": 40}, submit_per_second={"wan2.6-i2v-flash": 40}
    )
    users = [Requester(user_id=u, guild_id=10) for u in range(60)]
    jobs = [await rig.engine.enqueue(video_request("wan2.6-i2v-flash"), user) for user in users]
    peak_busy = 0

    async def done() -> bool:
        nonlocal peak_busy
        states = [(await rig.job(j.id)).state for j in jobs]
        peak_busy = max(peak_busy, sum(s in (JobState.PENDING, JobState.RUNNING) for s in states))
        return all(s.is_final for s in states)

    await drive(rig.engine, rig.clock, until=done)
    assert all([(await rig.job(j.id)).state is JobState.DELIVERED for j in jobs])
    assert peak_busy == 40
    assert rig.simulator.peak_queries_per_second() <= 20
    assert not [r for r in rig.simulator.requests if r.path.startswith("/api/v1/tasks") and r.json]


async def test_one_users_backlog_does_not_delay_another_user_by_more_than_one_slot_turn(
    rig: Rig,
) -> None:
    rig.engine.config = replace(rig.config, concurrency={"wan2.2-kf2v-flash": 2})
    backlog = [  # fifty different videos (equal prompts would be sent one at a time)
        await rig.engine.enqueue(video_request("wan2.2-kf2v-flash", prompt=f"video {n}"), ALICE)
        for n in range(50)
    ]
    await rig.engine.step()  # two of Alice's jobs take both slots
    assert sum([(await rig.job(j.id)).state is JobState.PENDING for j in backlog]) == 2

    single = await rig.engine.enqueue(video_request("wan2.2-kf2v-flash"), BOB)

    async def bob_submitted() -> bool:
        return (await rig.job(single.id)).state is not JobState.QUEUED

    await drive(rig.engine, rig.clock, until=bob_submitted)
    # Bob took the first slot that freed: only Alice's two running jobs started before him.
    bob_started = (await rig.job(single.id)).submit_started_at
    assert bob_started is not None
    alice_started = [(await rig.job(j.id)).submit_started_at for j in backlog]
    assert sum(1 for t in alice_started if t is not None and t < bob_started) == 2


async def test_an_identical_fixed_seed_request_reuses_the_earlier_result(rig: Rig) -> None:
    rig.engine.config = replace(rig.config, reuse_results=True)
    first = await rig.engine.enqueue(video_request(seed=7), ALICE, dedup_key="same-inputs")
    await rig.finish(first.id)
    submits = sum(r.path.endswith("video-synthesis") for r in rig.simulator.requests)

    again = await rig.engine.enqueue(video_request(seed=7), ALICE, dedup_key="same-inputs")
    await rig.finish(again.id)
    reused = await rig.job(again.id)
    assert reused.state is JobState.DELIVERED and reused.reused_job_id == first.id
    assert sum(r.path.endswith("video-synthesis") for r in rig.simulator.requests) == submits
    assert await rig.ledger_kinds(again.id) == []
    assert (await rig.quotas.allowance(guild_id=10, user_id=1)).used_seconds == 5


async def test_a_task_the_provider_forgot_expires_and_is_refunded(rig: Rig) -> None:
    rig.simulator.config.task_ttl_seconds = 30
    job = await rig.engine.enqueue(video_request(), ALICE)
    await rig.engine.step()
    rig.clock.advance(120)  # the engine was away past the task's lifetime
    await rig.finish(job.id)
    assert (await rig.job(job.id)).state is JobState.EXPIRED
    assert "expire" in rig.notifier.failed[job.id]
    assert await rig.ledger_kinds(job.id) == ["reserve", "refund"]


async def test_polls_are_sparse_early_and_dense_near_the_expected_end(rig: Rig) -> None:
    def query_times(task_id: str) -> list[float]:
        return [r.time for r in rig.simulator.requests if r.path == f"/api/v1/tasks/{task_id}"]

    for _ in range(SURE_SAMPLES + 1):  # the last one runs on a sure estimate
        job = await rig.engine.enqueue(video_request(), ALICE)
        await rig.finish(job.id)
    done = await rig.job(job.id)
    assert rig.engine.durations.estimate(done.kind).median == pytest.approx(65, abs=1)
    times = [t - (done.submitted_at or 0) for t in query_times(done.task_id or "")]
    assert times[0] >= 40, "no poll in the first part of a task expected to take 65 s"
    assert len(times) <= 6
    assert (done.updated_at - (done.provider_finished_at or 0)) <= 4.5, (
        "found within a dense interval"
    )


# -- restarts ---------------------------------------------------------------------------------


class CrashBeforePost(DashScopeClient):
    crashes = 1

    async def submit(self, request: GenerationRequest):  # type: ignore[override]
        if CrashBeforePost.crashes:
            CrashBeforePost.crashes -= 1
            raise Crash
        return await super().submit(request)


class CrashAfterPost(DashScopeClient):
    crashes = 1

    async def submit(self, request: GenerationRequest):  # type: ignore[override]
        response = await super().submit(request)
        if CrashAfterPost.crashes:
            CrashAfterPost.crashes -= 1
            raise Crash
        return response


class CrashInDownload(DashScopeClient):
    async def download(self, url: str, destination: Path, **kwargs: object) -> int:
        raise Crash


async def _run_until_crash_or_state(rig: Rig, job_id: int, state: JobState | None) -> None:
    async def reached() -> bool:
        return state is not None and (await rig.job(job_id)).state is state

    with contextlib.suppress(Crash):
        await drive(rig.engine, rig.clock, until=reached, max_steps=200)
    await rig.engine.stop()


@pytest.mark.parametrize(
    ("crash_client", "stop_at", "crash_in_post", "state_at_crash"),
    [
        pytest.param(None, JobState.QUEUED, False, JobState.QUEUED, id="queued"),
        pytest.param(
            CrashBeforePost, None, False, JobState.SUBMITTING, id="submitting, before the POST"
        ),
        pytest.param(
            CrashAfterPost, None, False, JobState.SUBMITTING, id="submitting, after the POST"
        ),
        pytest.param(None, JobState.PENDING, False, JobState.PENDING, id="pending"),
        pytest.param(None, JobState.RUNNING, False, JobState.RUNNING, id="running"),
        pytest.param(
            CrashInDownload, JobState.DOWNLOADING, False, JobState.DOWNLOADING, id="downloading"
        ),
        pytest.param(
            None, JobState.DELIVERING, True, JobState.DELIVERING, id="delivering, after posting"
        ),
    ],
)
async def test_a_crash_in_any_state_then_a_restart_delivers_once_and_charges_once(
    rig: Rig,
    crash_client: type[DashScopeClient] | None,
    stop_at: JobState | None,
    crash_in_post: bool,
    state_at_crash: JobState,
) -> None:
    CrashBeforePost.crashes = CrashAfterPost.crashes = 1
    await rig.engine.stop()
    rig.engine = rig.new_engine(rig.client(crash_client) if crash_client else None)
    rig.notifier.crash_after_post = crash_in_post
    job = await rig.engine.enqueue(video_request(), ALICE)
    if stop_at is not JobState.QUEUED:
        await _run_until_crash_or_state(rig, job.id, stop_at)
    assert (await rig.job(job.id)).state is state_at_crash

    restarted = rig.new_engine()
    rig.engine = restarted
    await restarted.recover()
    await rig.finish(job.id, engine=restarted)

    done = await rig.job(job.id)
    assert done.state is JobState.DELIVERED
    assert len(rig.notifier.posted[job.id]) == 1, "delivered exactly once"
    assert await rig.ledger_kinds(job.id) == ["reserve", "commit"]
    submits = [r for r in rig.simulator.requests if r.path.endswith("video-synthesis")]
    assert len(submits) == 1, "submitted exactly once"


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param("drop", id="the connection dies before the task is made"),
        pytest.param("unreadable", id="a proxy's HTML error page, and no task made"),
    ],
)
async def test_an_unclear_submit_that_never_landed_is_submitted_again(rig: Rig, fault: str) -> None:
    rig.simulator.script(fault)
    job = await rig.engine.enqueue(video_request(), ALICE)
    await rig.finish(job.id)
    states = await rig.states(job.id)
    assert states[:4] == [
        JobState.QUEUED,
        JobState.SUBMITTING,
        JobState.QUEUED,
        JobState.SUBMITTING,
    ]
    assert states[-1] is JobState.DELIVERED
    assert len(rig.simulator.tasks) == 1


async def test_an_unclear_submit_that_landed_is_found_not_repeated(rig: Rig) -> None:
    CrashAfterPost.crashes = 0

    class LostAnswer(DashScopeClient):
        lost = 1

        async def submit(self, request: GenerationRequest):  # type: ignore[override]
            response = await super().submit(request)
            if LostAnswer.lost:
                LostAnswer.lost -= 1
                raise DashScopeError(None, "ServerDisconnectedError", "connection lost")
            return response

    await rig.engine.stop()
    rig.engine = rig.new_engine(rig.client(LostAnswer))
    job = await rig.engine.enqueue(video_request(), ALICE)
    await rig.finish(job.id)
    assert (await rig.job(job.id)).state is JobState.DELIVERED
    assert len(rig.simulator.tasks) == 1
    assert "found by listing tasks" in [e.detail for e in await rig.jobs.events(job.id)]


async def test_the_loop_runs_by_itself_in_real_time(tmp_path: Path) -> None:
    """start() and stop(): the background loop takes a job to delivery without being stepped."""
    simulator = Simulator(SimulatorConfig(pending_seconds=0.05, running_seconds=0.05))
    await simulator.start()
    try:
        async with (
            await open_database(tmp_path / "db.sqlite3") as db,
            aiohttp.ClientSession() as session,
        ):
            assert simulator.base_url
            notifier = RecordingNotifier()
            delivered = asyncio.Event()
            original = notifier.deliver

            async def deliver(job: Job, video: Path) -> int | None:
                result = await original(job, video)
                delivered.set()
                return result

            notifier.deliver = deliver  # type: ignore[method-assign]
            engine = Engine(
                db=db,
                jobs=JobStore(db),
                quotas=QuotaStore(db),
                client=DashScopeClient(
                    session, api_key=SecretStr("k"), base_url=simulator.base_url
                ),
                notifier=notifier,
                config=EngineConfig(
                    spool_dir=tmp_path / "spool",
                    planner=replace(
                        EngineConfig(spool_dir=tmp_path).planner,
                        dense_interval=0.02,
                        longest_interval=0.05,
                    ),
                ),
            )
            await engine.start()
            try:
                await engine.enqueue(video_request(duration=2), ALICE)
                await asyncio.wait_for(delivered.wait(), 10)
            finally:
                await engine.stop()
    finally:
        await simulator.close()


async def test_places_in_line_are_updated_as_the_line_moves(rig: Rig) -> None:
    rig.engine.config = replace(rig.config, concurrency={"wan2.2-kf2v-flash": 1})
    jobs = [await rig.engine.enqueue(video_request("wan2.2-kf2v-flash"), ALICE) for _ in range(3)]
    last = jobs[-1].id

    def places() -> list[int | None]:
        return [
            u.queue_position
            for jid, u in rig.notifier.updates
            if jid == last and u.state is JobState.QUEUED
        ]

    assert places() == [2]
    await rig.engine.step()  # the first job takes the only slot
    assert places() == [2, 1]
    await rig.finish(jobs[0].id)
    assert places() == [2, 1, 0]


async def test_variations_are_admitted_all_or_none(rig: Rig) -> None:
    # Four five-second variations on a quota of fifteen: refused as a whole, nothing held.
    await rig.quotas.set_guild_default(10, seconds=15)
    await rig.engine.admissible(video_request(duration=5), ALICE, count=3)
    with pytest.raises(QuotaExceeded, match="needs 20 s"):
        await rig.engine.admissible(video_request(duration=5), ALICE, count=4)
    assert (await rig.quotas.allowance(guild_id=10, user_id=1)).held_seconds == 0
    # The waiting line counts each of them.
    rig.engine.config = replace(rig.config, max_waiting_per_user=3)
    await rig.engine.enqueue(video_request(duration=2), ALICE)
    with pytest.raises(QueueFull) as refused:
        await rig.engine.admissible(video_request(duration=2), ALICE, count=3)
    assert str(refused.value) == (
        "You asked for 3 variations, but only 2 more of your videos can wait in line now "
        "(at most 3); ask for fewer."
    )
    await rig.engine.admissible(video_request(duration=2), ALICE, count=2)


async def test_four_variations_do_not_hold_up_another_members_single_video(rig: Rig) -> None:
    rig.engine.config = replace(rig.config, concurrency={"wan2.2-kf2v-flash": 1})
    variations = [
        await rig.engine.enqueue(video_request("wan2.2-kf2v-flash", seed=seed), ALICE)
        for seed in (7, 8, 9, 10)
    ]
    single = await rig.engine.enqueue(video_request("wan2.2-kf2v-flash", prompt="mine"), BOB)

    async def bob_submitted() -> bool:
        return (await rig.job(single.id)).state is not JobState.QUEUED

    await drive(rig.engine, rig.clock, until=bob_submitted)
    # One slot: Alice's first variation took it, and Bob's video went next, before her other three.
    bob_started = (await rig.job(single.id)).submit_started_at
    assert bob_started is not None
    alice_started = [(await rig.job(j.id)).submit_started_at for j in variations]
    assert sum(1 for t in alice_started if t is not None and t < bob_started) == 1
    await rig.finish(single.id, *(j.id for j in variations))
    assert all([(await rig.job(j.id)).state is JobState.DELIVERED for j in variations])

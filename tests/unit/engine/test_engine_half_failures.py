"""One engine when things half-fail: a write that fails once, two unclear submits that only a
shared prompt could tell apart, rows an upgrade left behind, a post whose answer was lost.

Each test runs on SQLite and PostgreSQL in virtual time against the simulator (the `rig` fixture,
tests/support/engine_rig.py). Failed writes are injected where the job store writes, as the database would raise them: a
connection reset in the middle of one transaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.domain.jobs import Job, JobState
from bot.domain.requests import GenerationRequest
from bot.engine import failures
from bot.engine.virtual import drive
from tests.support.engine_rig import ALICE, BOB, Rig, video_request

STEPS = 400  # enough for any of these jobs; a job the engine lost never ends within it


async def finish(rig: Rig, *job_ids: int) -> None:
    """Drive the engine until every job has ended; fail if one never does."""

    async def done() -> bool:
        return all([(await rig.job(j)).state.is_final for j in job_ids])

    await drive(rig.engine, rig.clock, until=done, max_steps=STEPS)


def fail_once(rig: Rig, when: Callable[[JobState], bool]) -> list[JobState]:
    """Make the job store's next transition that `when` picks raise a connection reset (the
    transaction rolls back); return the list the failed ones are noted in."""
    failed: list[JobState] = []
    transition = rig.jobs.transition

    async def flaky(tx: Any, job_id: int, to: JobState, **changes: Any) -> Job:
        if not failed and when(to):
            failed.append(to)
            raise ConnectionResetError("the database connection was reset")
        return await transition(tx, job_id, to, **changes)

    rig.jobs.transition = flaky  # type: ignore[method-assign]
    return failed


async def test_a_task_whose_row_could_not_be_written_after_its_submit_is_followed_not_lost(
    rig: Rig,
) -> None:
    failed = fail_once(rig, lambda to: to is JobState.PENDING)
    job = await rig.engine.enqueue(video_request(), ALICE)

    await finish(rig, job.id)

    assert failed == [JobState.PENDING]
    done = await rig.job(job.id)
    assert done.state is JobState.DELIVERED
    assert rig.simulator.tasks.keys() == {done.task_id}  # adopted, never sent again
    assert rig.notifier.posted[job.id] and len(rig.notifier.posted[job.id]) == 1
    assert await rig.ledger_kinds(job.id) == ["reserve", "commit"]


async def test_a_success_whose_row_could_not_be_written_is_seen_again_at_the_next_poll(
    rig: Rig,
) -> None:
    failed = fail_once(rig, lambda to: to is JobState.DOWNLOADING)
    job = await rig.engine.enqueue(video_request(), ALICE)

    await finish(rig, job.id)

    assert failed == [JobState.DOWNLOADING]
    assert (await rig.job(job.id)).state is JobState.DELIVERED
    assert len(rig.notifier.posted[job.id]) == 1
    assert await rig.ledger_kinds(job.id) == ["reserve", "commit"]
    assert len(await rig.jobs.durations()) == 1  # learned once, from the write that landed


async def test_two_unclear_submits_never_hand_one_member_anothers_video(rig: Rig) -> None:
    # Alice and Bob ask for the same prompt (Retry keeps it; "no prompt" is common) with
    # different lengths. The provider's incident: the first submit gets a 500 and makes no
    # task, the second makes its task but its answer is lost. Both are unclear; only a prompt
    # could tell their tasks apart.
    rig.simulator.script("500", "lost")
    alice = await rig.engine.enqueue(video_request(prompt="A cat", duration=5), ALICE)
    bob = await rig.engine.enqueue(video_request(prompt="A cat", duration=4), BOB)

    await finish(rig, alice.id, bob.id)

    for job in (alice, bob):
        done = await rig.job(job.id)
        assert done.state is JobState.DELIVERED, done
        assert done.task_id is not None
        made = rig.simulator.tasks[done.task_id]
        assert made.duration == job.duration, "a member got a video made for someone else"
    assert {(await rig.job(j.id)).task_id for j in (alice, bob)} == set(rig.simulator.tasks)


async def test_equal_prompts_are_sent_one_at_a_time(rig: Rig) -> None:
    jobs = [await rig.engine.enqueue(video_request(), user) for user in (ALICE, BOB)]
    await rig.engine.step()
    assert [(await rig.job(j.id)).state for j in jobs] == [JobState.PENDING, JobState.QUEUED]
    await rig.engine.step()  # the first one's answer was clear: the next may go
    assert [(await rig.job(j.id)).state for j in jobs] == [JobState.PENDING, JobState.PENDING]


async def retire(rig: Rig, job: Job, **request: Any) -> None:
    """Rewrite a queued job's row as an older version could have left it."""
    fields = {**GenerationRequest.model_validate_json(job.request_json).model_dump(), **request}
    async with rig.db.transaction() as tx:
        await tx.execute(
            "UPDATE jobs SET model = ?, request_json = ? WHERE id = ?",
            (fields["model"], json.dumps(fields), job.id),
        )


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"model": "wan9-retired"}, id="model-left-the-catalogue"),
        pytest.param({"duration": 99}, id="request-no-longer-valid"),
    ],
)
async def test_a_row_this_version_cannot_make_ends_alone_refunded(
    rig: Rig, change: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    old = await rig.engine.enqueue(video_request(prompt="before the upgrade"), ALICE)
    await retire(rig, old, **change)
    await rig.engine.stop()
    rig.engine = rig.new_engine()  # the upgraded bot starts
    await rig.engine.recover()
    other = await rig.engine.enqueue(video_request("wan2.2-kf2v-flash"), BOB)

    with caplog.at_level(logging.ERROR):
        await finish(rig, old.id, other.id)

    ended = await rig.job(old.id)
    assert ended.state is JobState.FAILED and ended.error_code == "NotUnderstood"
    assert rig.notifier.failed[old.id] == str(failures.NOT_UNDERSTOOD)
    assert await rig.ledger_kinds(old.id) == ["reserve", "refund"]
    assert any(f"Job {old.id}" in record.getMessage() for record in caplog.records)
    assert (await rig.job(other.id)).state is JobState.DELIVERED
    assert len(rig.simulator.tasks) == 1  # the old row was never sent


async def test_a_post_whose_answer_was_lost_is_found_and_charged_not_refunded(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    notifier = rig.notifier
    deliver = notifier.deliver

    async def posted_then_cut_off(job: Job, video: Path) -> int | None:
        await deliver(job, video)  # Discord made the message...
        raise ConnectionResetError("connection reset while reading Discord's answer")

    monkeypatch.setattr(notifier, "deliver", posted_then_cut_off)
    job = await rig.engine.enqueue(video_request(), ALICE)

    await finish(rig, job.id)

    done = await rig.job(job.id)
    assert done.state is JobState.DELIVERED
    assert done.delivered_message_id == notifier.posted[job.id][-1]
    assert len(notifier.posted[job.id]) == 1
    assert job.id not in notifier.failed
    assert await rig.ledger_kinds(job.id) == ["reserve", "commit"]


async def test_a_sweep_finds_a_job_memory_lost(rig: Rig) -> None:
    rig.engine.config = replace(rig.config, sweep_seconds=15.0)
    job = await rig.engine.enqueue(video_request(), ALICE)
    await rig.engine.step()
    assert (await rig.job(job.id)).state is JobState.PENDING
    rig.engine._ctx.tracked.clear()  # a bug, say: memory no longer follows the task

    await finish(rig, job.id)

    assert (await rig.job(job.id)).state is JobState.DELIVERED
    assert len(rig.simulator.tasks) == 1


async def test_the_operators_own_runs_are_never_held_to_the_members_waiting_cap(rig: Rig) -> None:
    # `generate` and the demo queue their jobs exempt: recorded, never limited.
    cap = rig.config.max_waiting_per_user
    jobs = [
        await rig.engine.enqueue(video_request(prompt=f"run {n}"), ALICE, exempt=True)
        for n in range(cap + 2)
    ]
    assert len(jobs) == cap + 2

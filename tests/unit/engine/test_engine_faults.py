"""The engine under provider faults: unreadable answers, unclear submits beside other clients, cancels."""

from __future__ import annotations

import asyncio
import logging
from typing import ClassVar

import pytest
from pydantic import SecretStr

from bot.dashscope import DashScopeClient, RetryPolicy, TaskResponse
from bot.dashscope.models import ACCOUNT_FIELDS
from bot.domain.jobs import JobState
from bot.engine import failures
from tests.support.engine_rig import ALICE, BOB, Rig, video_request

STRANGER_KEY = "sk-another-client"


class GarbledPolls(DashScopeClient):
    """Answers about one task come back in a shape nobody documented."""

    garbled: ClassVar[set[str]] = set()

    async def _api(self, method: str, path: str, **kwargs: object) -> dict:  # type: ignore[override]
        if method == "GET" and path.removeprefix("/tasks/") in GarbledPolls.garbled:
            return {"output": {"task_id": path.removeprefix("/tasks/"), "task_status": "PAUSED"}}
        return await super()._api(method, path, **kwargs)  # type: ignore[arg-type]


async def test_an_unreadable_answer_about_one_job_never_stalls_the_others(rig: Rig) -> None:
    await rig.engine.stop()
    rig.engine = rig.new_engine(rig.client(GarbledPolls))
    stuck = await rig.engine.enqueue(video_request(), ALICE)
    await rig.engine.step()
    task_id = (await rig.job(stuck.id)).task_id
    assert task_id
    GarbledPolls.garbled = {task_id}
    other = await rig.engine.enqueue(video_request("wan2.2-kf2v-flash"), BOB)

    await rig.finish(stuck.id, other.id)

    assert (await rig.job(other.id)).state is JobState.DELIVERED
    ended = await rig.job(stuck.id)
    assert ended.state is JobState.FAILED and ended.error_code == "Unreadable"
    assert rig.notifier.failed[stuck.id] == str(failures.UNREADABLE)
    assert await rig.ledger_kinds(stuck.id) == ["reserve", "refund"]
    given_up_after = ended.finished_at - (ended.submitted_at or 0)  # type: ignore[operator]
    limit = rig.config.unreadable_give_up_seconds
    assert limit <= given_up_after <= limit + 2 * rig.config.planner.longest_interval


def stranger(rig: Rig, key: str = "sk-engine-test") -> DashScopeClient:
    """Another client on the bot's account: `python -m bot generate` run by the operator, say."""
    assert rig.simulator.base_url
    return DashScopeClient(
        rig.session, api_key=SecretStr(key), base_url=rig.simulator.base_url,
        retry=RetryPolicy(attempts=1),
    )  # fmt: skip


async def lost_submit_beside(
    rig: Rig, strangers: list[tuple[DashScopeClient, str]], prompt: str = "A cat"
) -> tuple[int, list[TaskResponse]]:
    """Queue a job whose submit makes a task but loses its answer, just after other clients
    made theirs; return the job id and the others' tasks."""
    theirs = [
        await client.submit(video_request(prompt=their_prompt))
        for client, their_prompt in strangers
    ]
    rig.clock.advance(1)
    rig.simulator.script("lost")
    job = await rig.engine.enqueue(video_request(prompt=prompt), ALICE)
    return job.id, theirs


def our_task(rig: Rig, job_prompt: str, theirs: list[TaskResponse]) -> str:
    mine = {t for t in rig.simulator.tasks} - {t.task_id for t in theirs}
    [task_id] = mine
    assert rig.simulator.tasks[task_id].prompt == job_prompt
    return task_id


async def test_an_unclear_submit_is_matched_by_prompt_never_to_a_strangers_task(rig: Rig) -> None:
    job_id, theirs = await lost_submit_beside(rig, [(stranger(rig), "A dog on a skateboard")])
    await rig.finish(job_id)

    done = await rig.job(job_id)
    assert done.state is JobState.DELIVERED
    assert done.task_id == our_task(rig, "A cat", theirs), "the member got their own video"
    assert len(rig.simulator.tasks) == 2, "and it was not submitted twice"
    assert await rig.ledger_kinds(job_id) == ["reserve", "commit"]


async def test_two_tasks_that_could_be_ours_end_the_job_refunded_not_guessed(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    job_id, _ = await lost_submit_beside(rig, [(stranger(rig), "A cat")])
    with caplog.at_level(logging.ERROR, logger="bot.engine.submit"):
        await rig.finish(job_id)

    done = await rig.job(job_id)
    assert done.state is JobState.FAILED and done.error_code == "SubmitUnclear"
    assert rig.notifier.failed[job_id] == str(failures.SUBMIT_UNCLEAR)
    assert await rig.ledger_kinds(job_id) == ["reserve", "refund"]
    assert len(rig.simulator.tasks) == 2, "nothing was submitted again"
    logged = caplog.text
    assert all(task_id in logged for task_id in rig.simulator.tasks), "the operator can look"


async def test_the_keys_id_learned_from_our_own_tasks_rules_out_another_keys_task(
    rig: Rig,
) -> None:
    rig.simulator.config.keys_share_account = True
    rig.simulator.config.api_keys = None
    earlier = await rig.engine.enqueue(video_request(prompt="A cat"), ALICE)
    await rig.engine.step()  # submitted cleanly: a task we know, made by our key
    assert (await rig.job(earlier.id)).task_id
    job_id, theirs = await lost_submit_beside(rig, [(stranger(rig, STRANGER_KEY), "A cat")])
    await rig.finish(job_id, earlier.id)

    done = await rig.job(job_id)
    assert done.state is JobState.DELIVERED
    ours = (
        set(rig.simulator.tasks)
        - {t.task_id for t in theirs}
        - {(await rig.job(earlier.id)).task_id}
    )
    assert {done.task_id} == ours


async def test_a_candidate_that_cannot_show_its_prompt_is_not_adopted(rig: Rig) -> None:
    rig.simulator.config.failure_rate = 1.0  # a failed task never reports its prompt
    rig.simulator.script("lost")
    job = await rig.engine.enqueue(video_request(prompt="A cat"), ALICE)
    await rig.finish(job.id)
    done = await rig.job(job.id)
    assert done.state is JobState.FAILED and done.error_code == "SubmitUnclear"
    assert len(rig.simulator.tasks) == 1
    assert await rig.ledger_kinds(job.id) == ["reserve", "refund"]


async def test_the_evidence_keeps_no_account_identifiers(rig: Rig) -> None:
    job_id, _ = await lost_submit_beside(rig, [(stranger(rig), "A dog")])
    await rig.finish(job_id)
    responses = await rig.jobs.responses(job_id)
    assert "list" in [r["call"] for r in responses]
    for field in ACCOUNT_FIELDS:
        assert field not in str(responses), field


# -- cancel ---------------------------------------------------------------------------------------


async def pending_job(rig: Rig) -> int:
    job = await rig.engine.enqueue(video_request(), ALICE)
    await rig.engine.step()
    assert (await rig.job(job.id)).state is JobState.PENDING
    return job.id


def cancels(rig: Rig) -> int:
    return len([r for r in rig.simulator.requests if r.path.endswith("/cancel")])


async def test_a_cancel_whose_answer_is_lost_but_whose_task_is_canceled_says_canceled(
    rig: Rig,
) -> None:
    job_id = await pending_job(rig)
    rig.simulator.script("lost")
    outcome = await rig.engine.cancel(job_id)
    assert outcome.canceled and "Canceled" in str(outcome.message)
    assert (await rig.job(job_id)).state is JobState.CANCELED
    assert await rig.ledger_kinds(job_id) == ["reserve", "refund"]
    assert cancels(rig) == 1


async def test_a_cancel_is_sent_once_and_a_failure_says_to_try_again(rig: Rig) -> None:
    job_id = await pending_job(rig)
    rig.simulator.script("500", "500", "500")
    outcome = await rig.engine.cancel(job_id)
    assert not outcome.canceled and "try again" in str(outcome.message)
    assert cancels(rig) == 1
    assert (await rig.job(job_id)).state is JobState.PENDING


async def test_a_poll_that_sees_canceled_during_the_cancel_still_answers_canceled(
    rig: Rig,
) -> None:
    answered = asyncio.Event()
    sent = asyncio.Event()

    class SlowCancelAnswer(DashScopeClient):
        async def cancel(self, task_id: str) -> None:
            await super().cancel(task_id)
            sent.set()
            await answered.wait()  # the answer is on its way while the engine polls

    await rig.engine.stop()
    rig.engine = rig.new_engine(rig.client(SlowCancelAnswer))
    job_id = await pending_job(rig)
    canceling = asyncio.create_task(rig.engine.cancel(job_id))
    await sent.wait()
    rig.clock.advance(120)
    await rig.engine.step()  # the poll sees CANCELED and ends the job first
    assert (await rig.job(job_id)).state is JobState.CANCELED
    answered.set()

    outcome = await canceling
    assert outcome.canceled and "Canceled" in str(outcome.message)
    assert await rig.ledger_kinds(job_id) == ["reserve", "refund"]
    assert len(rig.notifier.failed) == 1


@pytest.mark.parametrize(
    ("state", "words"),
    [
        (JobState.DELIVERED, "has already been delivered"),
        (JobState.FAILED, "has already ended without a video"),
    ],
)
async def test_a_cancel_of_a_finished_job_answers_with_its_state(
    rig: Rig, state: JobState, words: str
) -> None:
    if state is JobState.FAILED:
        rig.simulator.config.failure_rate = 1.0
    job = await rig.engine.enqueue(video_request(), ALICE)
    await rig.finish(job.id)
    assert (await rig.job(job.id)).state is state
    outcome = await rig.engine.cancel(job.id)
    assert not outcome.canceled and words in str(outcome.message)
    assert cancels(rig) == 0

"""Learned task durations trust only times from one clock: a provider (or stand-in) whose times
disagree with the bot's own never teaches the engine to wait, live or from its history."""

from __future__ import annotations

from bot.dashscope import DashScopeClient, TaskResponse
from bot.engine.timing import SURE_SAMPLES
from tests.support.engine_rig import ALICE, Rig, first_poll_after, video_request

KIND = ("wan2.7-i2v", "1080P", 5)  # what video_request() makes
OFF = 338 * 86_400.0  # the stand-in's clock, 338 days behind the bot's


class NoEndTime(DashScopeClient):
    """A stand-in whose answers leave out end_time."""

    async def get_task(self, task_id: str) -> TaskResponse:
        answer = await super().get_task(task_id)
        output = answer.output.model_copy(update={"end_time": None})
        return answer.model_copy(update={"output": output})


async def test_a_submit_time_far_from_the_end_time_is_not_learned_and_polls_stay_prompt(
    rig: Rig,
) -> None:
    rig.simulator.config.task_ttl_seconds = 2 * OFF
    for _ in range(SURE_SAMPLES):
        job = await rig.engine.enqueue(video_request(), ALICE)
        await rig.engine.step()  # submitted
        task = rig.simulator.tasks[(await rig.job(job.id)).task_id or ""]
        # Its submit_time is stamped 338 days early; it still ends 65 s after it was sent.
        task.submit_time -= OFF
        task.pending_seconds += OFF
        await rig.finish(job.id)
    assert rig.engine.durations.estimate(KIND).samples == 0
    # Not kept either: an engine restarted on the same database learned nothing from them.
    await rig.engine.stop()
    rig.engine = rig.new_engine()
    await rig.engine.recover()
    assert rig.engine.durations.estimate(KIND).samples == 0
    # The next task of that kind is looked at early, not after the 60 s cap.
    assert await first_poll_after(rig) == rig.config.planner.first_probe


async def test_a_missing_end_time_is_not_measured_against_the_providers_submit_time(
    rig: Rig,
) -> None:
    rig.simulator.clock = lambda: rig.clock() - OFF  # the stand-in's clock is far behind
    rig.engine = rig.new_engine(rig.client(NoEndTime))
    job = await rig.engine.enqueue(video_request(), ALICE)
    await rig.finish(job.id)
    learned = rig.engine.durations.estimate(KIND)
    # Only the bot's own clock could say: from its send to its sight of the result.
    done = await rig.job(job.id)
    assert done.submit_started_at is not None
    assert learned.samples == 1
    assert 65 <= learned.median <= 65 + rig.config.planner.dense_interval + 1


async def test_poisoned_history_in_the_database_is_ignored_when_loaded(rig: Rig) -> None:
    # Rows an older version learned from a stand-in's clock: 338-day "tasks".
    async with rig.db.transaction() as tx:
        for _ in range(SURE_SAMPLES):
            await rig.jobs.record_duration(tx, KIND, OFF + 60)
    await rig.engine.recover()
    assert rig.engine.durations.estimate(KIND).samples == 0
    assert await first_poll_after(rig) == rig.config.planner.first_probe

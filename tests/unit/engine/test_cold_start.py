"""Cold start: the engine probes tasks early while its estimate is unsure and the budget has room."""

from __future__ import annotations

from dataclasses import replace

from bot.domain.jobs import JobState
from bot.engine.timing import SURE_SAMPLES
from tests.support.engine_rig import ALICE, Rig, first_poll_after, video_request


def queries(rig: Rig) -> list[object]:
    return [r for r in rig.simulator.requests if r.method == "GET" and "/tasks/" in r.path]


async def test_a_task_far_faster_than_the_guess_is_seen_within_half_its_time(rig: Rig) -> None:
    rig.simulator.config.pending_seconds, rig.simulator.config.running_seconds = 1, 3
    job = await rig.engine.enqueue(video_request(), ALICE)
    await rig.finish(job.id)
    done = await rig.job(job.id)
    provider_time = (done.provider_finished_at or 0) - (done.submitted_at or 0)
    seen = await rig.jobs.events(job.id)
    downloading = next(e.at for e in seen if e.to_state is JobState.DOWNLOADING)
    assert provider_time == 4
    assert downloading - (done.submitted_at or 0) <= 6, "a 4 s task is seen by 6 s"


async def test_an_unsure_estimate_is_probed_early(rig: Rig) -> None:
    assert await first_poll_after(rig) == rig.config.planner.first_probe


async def test_a_sure_estimate_is_followed_without_probes(rig: Rig) -> None:
    kind = video_request().model, "1080P", 5
    rig.engine.durations.load({kind: [150.0] * SURE_SAMPLES})
    assert await first_poll_after(rig) > 30, "sure: wait for the likely window"


async def test_with_many_tasks_in_flight_the_learned_schedule_rules(rig: Rig) -> None:
    many = {"wan2.7-i2v": 40}
    rig.engine.config = replace(rig.config, concurrency=many, submit_per_second=many)
    rig.simulator.config.concurrency = rig.simulator.config.submit_per_second = many
    jobs = [await rig.engine.enqueue(video_request(prompt=f"video {n}"), ALICE) for n in range(30)]
    await rig.engine.step()  # 30 tasks in flight: more than the budget can spare probes for
    states = {(await rig.job(j.id)).state for j in jobs}
    assert states == {JobState.PENDING}
    rig.clock.advance(rig.config.planner.first_probe)
    before = len(queries(rig))
    await rig.engine.step()
    probed = len(queries(rig)) - before
    room = rig.config.query_budget_per_second * rig.config.planner.first_probe / 2
    assert 0 < probed <= room + 1, "only as many early probes as leave half the budget free"

"""Each key's query budget as the provider sees it: polls, cancels and task lists are counted when
they are sent, and no one-second window at the provider ever holds more than the budget."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from bot.engine.virtual import drive
from storage.jobs import JobState, Requester
from tests import test_engine
from tests.test_engine import Rig, video_request

rig = test_engine.rig  # the engine on the simulator in virtual time, shared with test_engine

FLASH = "wan2.6-i2v-flash"


async def test_a_burst_of_due_polls_and_cancels_never_goes_over_the_budget(rig: Rig) -> None:
    many = {FLASH: 40}
    rig.engine.config = replace(rig.config, concurrency=many, submit_per_second=many)
    rig.simulator.config.concurrency = dict(many)
    rig.simulator.config.submit_per_second = dict(many)
    rig.simulator.config.pending_seconds = 300  # every task can still be canceled
    users = [Requester(user_id=u, guild_id=10) for u in range(36)]
    jobs = [await rig.engine.enqueue(video_request(FLASH), user) for user in users]
    await rig.engine.step()
    assert {(await rig.job(j.id)).state for j in jobs} == {JobState.PENDING}
    rig.clock.advance(rig.config.planner.longest_interval)  # every first poll is due at once

    # Members cancel a third of them while the pass polls the rest.
    asked = [rig.engine.cancel(j.id) for j in jobs[:12]]
    _, *outcomes = await asyncio.gather(rig.engine.step(), *asked)
    assert all(outcome.canceled for outcome in outcomes), "each cancel waited its turn"

    async def done() -> bool:
        return all([(await rig.job(j.id)).state.is_final for j in jobs])

    await drive(rig.engine, rig.clock, until=done)
    assert rig.simulator.peak_queries_per_second() <= rig.config.query_budget_per_second

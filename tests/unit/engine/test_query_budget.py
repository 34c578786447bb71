"""Each key's query budget as the provider sees it: polls, cancels and task lists are counted when
they are sent, and no one-second window at the provider ever holds more than the budget."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import ClassVar

from bot.dashscope import DashScopeClient, TaskResponse
from bot.domain.jobs import Job, JobState, Requester
from bot.engine.key_ring import DashScopeKey
from bot.engine.key_state import KeyState
from bot.engine.virtual import VirtualClock, drive
from bot.simulator import Simulator
from tests.support.engine_rig import Rig, video_request

FLASH = "wan2.6-i2v-flash"


class LateOnTheWire(DashScopeClient):
    """Task queries that leave late while `gate` is closed: a busy loop or a slow network
    between the engine's decision and the provider."""

    gate: ClassVar[asyncio.Event | None] = None
    held: ClassVar[int] = 0
    all_held: ClassVar[asyncio.Event] = asyncio.Event()
    expected: ClassVar[int] = 0

    async def get_task(self, task_id: str) -> TaskResponse:
        gate = LateOnTheWire.gate
        if gate is not None:
            LateOnTheWire.held += 1
            if LateOnTheWire.held >= LateOnTheWire.expected:
                LateOnTheWire.all_held.set()
            await gate.wait()
        return await super().get_task(task_id)


async def many_pending(rig: Rig, count: int) -> list[Job]:
    """`count` tasks PENDING at the provider (for minutes), every first poll of them due now."""
    many = {FLASH: 40}
    rig.engine.config = replace(rig.config, concurrency=many, submit_per_second=many)
    rig.simulator.config.concurrency = dict(many)
    rig.simulator.config.submit_per_second = dict(many)
    rig.simulator.config.pending_seconds = 300  # every task can still be canceled
    users = [Requester(user_id=u, guild_id=10) for u in range(count)]
    jobs = [  # different prompts: equal ones are sent one at a time
        await rig.engine.enqueue(video_request(FLASH, prompt=f"video {n}"), user)
        for n, user in enumerate(users)
    ]
    await rig.engine.step()
    assert {(await rig.job(j.id)).state for j in jobs} == {JobState.PENDING}
    rig.clock.advance(rig.config.planner.longest_interval)
    return jobs


async def test_queries_that_reach_the_provider_late_still_fit_the_budget(rig: Rig) -> None:
    rig.engine = rig.new_engine(rig.client(LateOnTheWire))
    await many_pending(rig, 40)
    budget = int(rig.config.query_budget_per_second)
    LateOnTheWire.gate, LateOnTheWire.held = asyncio.Event(), 0
    LateOnTheWire.all_held, LateOnTheWire.expected = asyncio.Event(), budget
    try:
        first = asyncio.create_task(rig.engine.step())  # plans and sends a budget's worth
        async with asyncio.timeout(10):
            await LateOnTheWire.all_held.wait()
        rig.clock.advance(0.9)  # ... which arrive 0.9 s later
        LateOnTheWire.gate.set()
        await first
    finally:
        LateOnTheWire.gate.set()
        LateOnTheWire.gate = None
    rig.clock.advance(0.1)  # the next pass, a second after the first
    await rig.engine.step()
    assert rig.simulator.peak_queries_per_second() <= budget


async def test_a_burst_of_due_polls_and_cancels_never_goes_over_the_budget(rig: Rig) -> None:
    jobs = await many_pending(rig, 36)

    # Members cancel a third of them while the pass polls the rest.
    asked = [rig.engine.cancel(j.id) for j in jobs[:12]]
    _, *outcomes = await asyncio.gather(rig.engine.step(), *asked)
    assert all(outcome.canceled for outcome in outcomes), "each cancel waited its turn"

    async def done() -> bool:
        return all([(await rig.job(j.id)).state.is_final for j in jobs])

    await drive(rig.engine, rig.clock, until=done)
    assert rig.simulator.peak_queries_per_second() <= rig.config.query_budget_per_second


class HeldClock(VirtualClock):
    """Virtual time that moves only when the test moves it, even for those waiting."""

    def __init__(self) -> None:
        super().__init__()
        self._moved = asyncio.Event()

    def advance(self, seconds: float) -> None:
        super().advance(seconds)
        self._moved.set()

    async def sleep(self, seconds: float) -> None:
        until = self.now + seconds
        while self.now < until:
            self._moved.clear()
            await self._moved.wait()


async def test_a_waiting_query_goes_before_anything_planned_after_it(
    client: DashScopeClient, simulator: Simulator
) -> None:
    clock = simulator.clock = HeldClock()
    key = KeyState.of(DashScopeKey("default", client), 2, clock)
    await asyncio.gather(key.get_task("a"), key.get_task("b"))  # the window is full for 1 s
    waiting = asyncio.create_task(key.get_task("c"))  # a member's cancel, say
    await asyncio.sleep(0)  # it starts, and waits its turn
    clock.advance(1.0)
    assert key.query_room() == 1, "a pass planning now leaves the waiting one its place"
    await waiting
    assert simulator.peak_queries_per_second() == 2


async def test_a_busy_key_polls_each_task_at_its_share_of_half_the_budget(rig: Rig) -> None:
    """Forty tasks on one key, all running late for what was learned (where the plan polls
    densest): the price of a poll rises until their polls fit half the key's budget, leaving the
    rest for cancels, lists and the next tasks' first looks."""
    learned = video_request(FLASH)
    kind = (FLASH, learned.resolved_resolution, learned.resolved_duration)
    rig.engine.durations.load({kind: [30.0 + n / 10 for n in range(20)]})  # ~30 s; these take 300
    await many_pending(rig, 40)
    start = rig.clock.now + 30  # past the first polls, which the budget itself paces
    end = start + 60

    await drive(rig.engine, rig.clock, until=lambda: rig.clock.now >= end)

    polls = [
        r.time
        for r in rig.simulator.requests
        if r.method == "GET" and r.path.startswith("/api/v1/tasks/") and start <= r.time < end
    ]
    half = rig.config.query_budget_per_second / 2
    assert 0.6 * half <= len(polls) / (end - start) <= 1.1 * half

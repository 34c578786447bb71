"""Run the engine in virtual time: no sleeping, the clock jumps to whatever falls due next.

Tests and benchmarks share one `VirtualClock` between the engine and the simulator, so minutes
of provider time pass in milliseconds and every timing is exact.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.engine.runner import Engine


class VirtualClock:
    """A wall clock (epoch seconds) that moves only when told to."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += max(0.0, seconds)

    def advance_to(self, when: float) -> None:
        self.now = max(self.now, when)

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds`: in virtual time the one waiting moves the clock (as `drive` does)."""
        self.advance_to(self.now + seconds)
        await asyncio.sleep(0)


async def drive(
    engine: Engine,
    clock: VirtualClock,
    *,
    until: Callable[[], bool | Awaitable[bool]],
    max_steps: int = 100_000,
    idle_step: float = 1.0,
) -> int:
    """Step the engine, jumping the clock to each next due time, until `until()`; return steps taken."""
    for steps in range(1, max_steps + 1):
        due = await engine.step()
        await engine.settle()
        done = until()
        if done if isinstance(done, bool) else await done:
            return steps
        clock.advance_to(due if due is not None and due > clock.now else clock.now + idle_step)
    raise TimeoutError(f"not done after {max_steps} engine steps")

"""Background tasks, each started the one way: named, held until it ends, its failure logged once.

asyncio keeps only a weak reference to a task, so a task nobody holds may be collected mid-work,
and an exception in a task nobody awaits is reported (if ever) only when it is collected. So every
background task of the bot starts through `spawn`, which holds it until it ends and logs an
exception that ends it (a cancel is no failure). Its owner stops it with `cancel`: cancelled, and
awaited, so nothing of it runs on after its owner has stopped. `Tasks` holds many short ones (one
per delivery, per status edit); `Loops` the few an owner runs for as long as it runs (the engine's
passes, the cluster's ticks, the heartbeat), and says whether they all still do.

This module imports nothing of the project's, so any floor may use it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

_held: set[asyncio.Task[Any]] = set()  # every task started here, until it ends


def spawn(work: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
    """Run `work` as a task named `name`, held until it ends; an exception that ends it is logged."""
    task = asyncio.create_task(work, name=name)
    _held.add(task)
    task.add_done_callback(_ended)
    return task


def _ended(task: asyncio.Task[Any]) -> None:
    _held.discard(task)
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("Background task %r failed", task.get_name(), exc_info=error)


async def cancel(*tasks: asyncio.Task[Any]) -> None:
    """Cancel `tasks` and wait until each has ended (a failure was logged when it ended)."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class Tasks:
    """Many short background tasks of one owner, each let go of once it ends; stopped together."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        """How many are still running."""
        return len(self._running)

    def spawn(self, work: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        """Start `work` (see the module's `spawn`), held here until it ends."""
        task = spawn(work, name)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    def running(self) -> list[asyncio.Task[Any]]:
        """The tasks still running, at this moment."""
        return list(self._running)

    async def stop(self) -> None:
        """Cancel every task still running and wait until each has ended."""
        await cancel(*self._running)


class Loops:
    """The long-running tasks of one owner, started with it and stopped with it."""

    def __init__(self) -> None:
        self._loops: list[asyncio.Task[None]] = []

    def __bool__(self) -> bool:
        """Whether any was started since the last `stop`."""
        return bool(self._loops)

    def __getitem__(self, index: int) -> asyncio.Task[None]:
        """The loop started `index`-th since the last `stop` (a test ends one to see it noticed)."""
        return self._loops[index]

    @property
    def running(self) -> bool:
        """Whether they were started and every one still runs (none ended or died)."""
        return bool(self._loops) and not any(loop.done() for loop in self._loops)

    def start(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run `work` until `stop` (or until it returns)."""
        self._loops.append(spawn(work, name))

    async def stop(self) -> None:
        """Cancel every loop and wait until each has ended."""
        loops, self._loops = self._loops, []
        await cancel(*loops)

"""Background tasks (bot/net/tasks.py): held until they end, a failure logged once, stopped whole."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.net.tasks import Loops, Tasks, cancel, spawn


async def forever() -> None:
    await asyncio.Event().wait()


async def test_a_task_that_fails_is_logged_once_with_its_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken() -> None:
        raise ValueError("no")

    with caplog.at_level(logging.ERROR, logger="bot.net.tasks"):
        task = spawn(broken(), "broken thing")
        await asyncio.wait([task])
        await asyncio.sleep(0)  # the done callbacks run
    [record] = caplog.records
    assert record.getMessage() == "Background task 'broken thing' failed"
    assert record.exc_info is not None and isinstance(record.exc_info[1], ValueError)


async def test_a_cancel_is_no_failure_and_cancel_waits_until_it_has_ended(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ended = asyncio.Event()

    async def until_cancelled() -> None:
        try:
            await forever()
        finally:
            ended.set()

    with caplog.at_level(logging.ERROR, logger="bot.net.tasks"):
        task = spawn(until_cancelled(), "until cancelled")
        await asyncio.sleep(0)
        await cancel(task)
        assert ended.is_set() and task.cancelled()
        await asyncio.sleep(0)
    assert caplog.records == []


async def test_tasks_let_go_of_each_as_it_ends_and_stop_the_rest() -> None:
    tasks = Tasks()
    gate = asyncio.Event()
    short = tasks.spawn(gate.wait(), "short")
    long = tasks.spawn(forever(), "long")
    assert len(tasks) == 2
    gate.set()
    await short
    assert tasks.running() == [long]
    await tasks.stop()
    assert long.cancelled() and len(tasks) == 0


async def test_loops_say_whether_every_one_still_runs() -> None:
    loops = Loops()
    assert not loops and not loops.running
    done = asyncio.Event()

    async def until_done() -> None:
        await done.wait()

    loops.start(forever(), "first")
    loops.start(until_done(), "second")
    await asyncio.sleep(0)
    assert loops.running
    done.set()
    await asyncio.wait([loops[1]])
    assert loops and not loops.running  # one ended: the owner no longer works as it should
    first = loops[0]
    await loops.stop()
    assert first.cancelled() and not loops

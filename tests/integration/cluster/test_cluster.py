"""Several engines on one PostgreSQL database, in real time against the simulator: one schedules,
the others stand by and take over; a job or a cancel from any of them reaches the scheduler;
deliveries spread over whoever has room; each job is posted once and charged once. And SQLite
refuses a second process with a clear message.

Engines here are started (not stepped), so they tick on their own; every wait is for an event a
notifier reports, under a deadline.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from bot.domain.jobs import JobState
from bot.simulator import Simulator
from storage.connect import open_database
from storage.database import StorageInUse
from storage.jobs import JobStore
from storage.quotas import QuotaStore
from storage.sqlite import SqliteDatabase
from tests.support import ROOT
from tests.support.cluster import (
    Member,
    WatchedNotifier,
    delivered,
    ledger,
    posts,
    started_engine,
    until,
)
from tests.support.engine_rig import ALICE, video_request
from tests.support.postgres import new_postgres_schema


@pytest.fixture
async def shared(postgres_server: str) -> str:
    return await new_postgres_schema(postgres_server)


@pytest.fixture
async def members(
    shared: str, simulator: Simulator, tmp_path: Path
) -> AsyncIterator[Callable[..., Member]]:
    """Makes engines on the shared database; stops and closes them all at the end."""
    made: list[Member] = []
    async with aiohttp.ClientSession() as session:

        async def make(index: int, **config: object) -> Member:
            db = await open_database(shared)
            notifier = WatchedNotifier()
            spool = tmp_path / f"spool{index}"
            engine = await started_engine(db, session, simulator, notifier, spool, **config)
            jobs, quotas = JobStore(db), QuotaStore(db, default_seconds=600)
            member = Member(db, engine, notifier, jobs, quotas)
            made.append(member)
            return member

        try:
            yield make  # type: ignore[misc]
        finally:
            for member in made:
                await member.engine.stop()
                await member.db.close()


async def test_one_schedules_and_a_job_queued_on_a_standby_is_made_and_posted_once(
    members: Callable[..., Member],
) -> None:
    first = await members(1)
    second = await members(2)
    assert (first.engine.scheduling, second.engine.scheduling) == (True, False)

    job = await second.engine.enqueue(video_request(duration=2), ALICE)
    both = [first, second]
    await until(lambda: delivered(both, job.id), first.notifier, second.notifier)
    assert posts(both, job.id) == 1

    done = await first.jobs.get(job.id)
    assert done is not None and done.state is JobState.DELIVERED
    assert await ledger(first, job.id) == ["reserve", "commit"]
    # The status message was made once, by the process the member asked on.
    assert second.notifier.updates[0][0] == job.id


@pytest.mark.parametrize("pending_seconds", [30.0])
async def test_a_cancel_pressed_on_a_standby_reaches_the_scheduler(
    members: Callable[..., Member],
) -> None:
    first = await members(1)
    second = await members(2)
    job = await second.engine.enqueue(video_request(duration=2), ALICE)
    await until(
        lambda: any(u.state is JobState.PENDING for _, u in first.notifier.updates), first.notifier
    )

    outcome = await second.engine.cancel(job.id)
    assert not outcome.canceled and "status message" in str(outcome.message)

    await until(lambda: job.id in first.notifier.failed, first.notifier)
    canceled = await first.jobs.get(job.id)
    assert canceled is not None and canceled.state is JobState.CANCELED
    assert await ledger(first, job.id) == ["reserve", "refund"]


@pytest.mark.parametrize("pending_seconds", [1.0])
async def test_when_the_scheduler_stops_a_standby_takes_over_and_finishes_its_jobs(
    members: Callable[..., Member], simulator: Simulator
) -> None:
    first = await members(1)
    second = await members(2)
    jobs = [await first.engine.enqueue(video_request(duration=2), ALICE) for _ in range(3)]
    await until(
        lambda: any(u.state is JobState.PENDING for _, u in first.notifier.updates), first.notifier
    )

    await first.engine.stop()  # its jobs are at the provider or waiting
    assert not first.engine.scheduling

    await until(lambda: all(delivered([first, second], j.id) for j in jobs), second.notifier)
    assert all(posts([first, second], j.id) == 1 for j in jobs)
    assert second.engine.scheduling
    for job in jobs:
        assert await ledger(second, job.id) == ["reserve", "commit"]
    assert len(simulator.tasks) == 3  # nothing was submitted twice


async def test_deliveries_spread_over_processes_with_room(
    members: Callable[..., Member],
) -> None:
    first = await members(1, delivery_slots=1)
    second = await members(2, delivery_slots=1)
    first.notifier.gate = asyncio.Event()  # the scheduler's one slot stays taken
    jobs = [await first.engine.enqueue(video_request(duration=2), ALICE) for _ in range(2)]

    both = [first, second]
    await until(
        lambda: (
            first.notifier.delivering == 1
            and posts(both, jobs[1].id) + posts(both, jobs[0].id) == 1
        ),
        first.notifier,
        second.notifier,
    )
    assert sum(len(v) for v in second.notifier.posted.values()) == 1

    first.notifier.gate.set()
    await until(lambda: all(delivered(both, j.id) for j in jobs), first.notifier, second.notifier)
    assert all(posts(both, j.id) == 1 for j in jobs)


async def test_a_delivery_left_half_done_by_a_stopped_process_is_finished_by_another_once(
    members: Callable[..., Member],
) -> None:
    first = await members(1)
    first.notifier.gate = asyncio.Event()  # it will be stopped while posting
    job = await first.engine.enqueue(video_request(duration=2), ALICE)
    await until(lambda: first.notifier.delivering == 1, first.notifier)

    second = await members(2)  # a process that has never spooled a result
    await first.engine.stop()  # mid-post: the job is left delivering, its lease let go

    both = [first, second]
    await until(lambda: delivered(both, job.id), second.notifier)
    assert posts(both, job.id) == 1
    assert await ledger(second, job.id) == ["reserve", "commit"]


async def test_sqlite_refuses_a_second_process(tmp_path: Path) -> None:
    path = tmp_path / "wanbot.sqlite3"
    async with (
        await SqliteDatabase.connect(path) as first,
        await SqliteDatabase.connect(path) as second,
    ):
        await first.claim_process()
        with pytest.raises(StorageInUse, match="WANBOT_DATABASE_URL"):
            await second.claim_process()

        # And from the command line, before anything talks to Discord or DashScope.
        env = os.environ | {
            "WANBOT_DATABASE_PATH": str(path),
            "WANBOT_SPOOL_DIR": str(tmp_path / "spool"),  # the worker checks it can write there
            "WANBOT_HEARTBEAT_PATH": str(tmp_path / "heartbeat"),
            "DISCORD_TOKEN": "not-a-real-token",
            "DASHSCOPE_API_KEY": "sk-not-used",
            "DASHSCOPE_BASE_URL": "http://127.0.0.1:9/api/v1",
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "worker",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert "Another wanbot process is already using" in err.decode()
    assert "not-a-real-token" not in (out + err).decode()

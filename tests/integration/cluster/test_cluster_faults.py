"""Several engines on one PostgreSQL database when machines half-fail, in real time against the
simulator: a scheduler whose lock connection is cut while it lives on, a scheduler machine that
goes silent without closing TCP (its connections black-holed by tests/support/pgproxy.py), a takeover whose
first query fails, a stop in the middle of a submit, and slow work beside a delivery's lease.
Each ends the same way for the member: one task, one post, one charge.

Every wait is for an event (a notifier's report, a log record, a request at the simulator) under a
deadline; nothing sleeps to let state change.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from bot.domain.jobs import Job
from bot.engine.notifier import Progress
from bot.engine.runner import Engine
from bot.simulator import Simulator
from storage.connect import open_database
from storage.database import Database
from storage.jobs import JobStore
from storage.postgres import PostgresDatabase
from tests.support.cluster import (
    WatchedNotifier,
    delivered,
    ledger,
    posts,
    started_engine,
    until,
)
from tests.support.engine_rig import ALICE, BOB, video_request
from tests.support.pgproxy import PgProxy, ProxyFactory
from tests.support.postgres import (
    SHORT,  # short link limits, so a silent machine costs little
    new_postgres_schema,
)

WITHIN = 30.0  # seconds: a deadline, not a pace


@dataclass
class SlowNotifier(WatchedNotifier):
    """A notifier whose status notes (what a cancel says) wait for `notes_gate`: a slow Discord."""

    notes_gate: asyncio.Event | None = None
    notes_waiting: int = 0

    async def progress(self, job: Job, update: Progress) -> None:
        if update.note is not None and self.notes_gate is not None:
            self.notes_waiting += 1
            self.changed.set()
            await self.notes_gate.wait()
        await super().progress(job, update)


@dataclass
class Machine:
    """One process's engine with its own connections (through `proxy`, when it has one)."""

    db: Database
    engine: Engine
    notifier: SlowNotifier
    jobs: JobStore
    proxy: PgProxy | None = None


class LogWatch(logging.Handler):
    """Wakes waiters when a log record matches."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen: list[str] = []
        self.changed = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record.getMessage())
        self.changed.set()

    async def logged(self, pattern: str, *, times: int = 1) -> None:
        """Return once `times` records matching `pattern` have been logged."""
        async with asyncio.timeout(WITHIN):
            while len([m for m in self.seen if re.search(pattern, m)]) < times:
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
def log_watch() -> AsyncIterator[LogWatch]:
    watch = LogWatch()
    engine_log = logging.getLogger("bot.engine")
    engine_log.addHandler(watch)
    previous = engine_log.level
    engine_log.setLevel(logging.INFO)
    yield watch  # type: ignore[misc]
    engine_log.removeHandler(watch)
    engine_log.setLevel(previous)


@pytest.fixture
async def machines(
    postgres_server: str, simulator: Simulator, tmp_path: Path, pg_proxy: ProxyFactory
) -> AsyncIterator[Callable[..., Machine]]:
    """Makes engines on one shared database; stops and closes them all at the end."""
    shared = await new_postgres_schema(postgres_server)
    made: list[Machine] = []
    async with aiohttp.ClientSession() as session:

        async def make(index: int, *, proxied: bool = False, **config: object) -> Machine:
            proxy = await pg_proxy(shared) if proxied else None
            if proxy is not None:
                db: Database = await PostgresDatabase.connect(proxy.url, limits=SHORT)
            else:
                db = await open_database(shared)
            notifier = SlowNotifier()
            spool = tmp_path / f"spool{index}"
            engine = await started_engine(db, session, simulator, notifier, spool, **config)
            jobs = JobStore(db)
            machine = Machine(db, engine, notifier, jobs, proxy)
            made.append(machine)
            return machine

        try:
            yield make  # type: ignore[misc]
        finally:
            for machine in made:
                if machine.proxy is not None:
                    machine.proxy.heal()
            for machine in made:
                await machine.engine.stop()
                await machine.db.close()


async def arrived(simulator: Simulator, method: str, path_part: str) -> None:
    """Wait until a request like this has reached the simulator."""
    async with asyncio.timeout(WITHIN):
        while not any(r.method == method and path_part in r.path for r in simulator.requests):
            simulator.arrived.clear()
            await simulator.arrived.wait()


async def end_scheduler_session(postgres_server: str) -> None:
    """Cut the scheduler's lock connection from outside, as a network blip or an operator
    would (the session holding an advisory lock outside any transaction): its process lives
    on and does not know yet."""
    connection = await asyncpg.connect(postgres_server)
    try:
        holders = await connection.fetch(
            "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND a.xact_start IS NULL"
        )
        assert len(holders) == 1
        assert await connection.fetchval("SELECT pg_terminate_backend($1)", holders[0][0])
    finally:
        await connection.close()


async def test_a_scheduler_whose_lock_connection_was_cut_writes_nothing_more(
    machines: Callable[..., Machine],
    simulator: Simulator,
    postgres_server: str,
    log_watch: LogWatch,
) -> None:
    old = await machines(1, tick_seconds=10.0)  # it would notice the lost lock only in 10 s
    new = await machines(2)
    assert old.engine.scheduling
    await end_scheduler_session(postgres_server)
    await log_watch.logged(r"scheduler now", times=2)
    assert new.engine.scheduling and old.engine.scheduling  # two think they schedule

    # A member asks on the old one, which still believes it schedules.
    job = await old.engine.enqueue(video_request(duration=2), ALICE)
    both = [old, new]
    await until(lambda: delivered(both, job.id), old.notifier, new.notifier)

    assert not old.engine.scheduling  # refused at its first write, long before its next tick
    assert posts(both, job.id) == 1
    assert len(simulator.tasks) == 1
    assert await ledger(new, job.id) == ["reserve", "commit"]


async def test_a_silent_scheduler_machine_is_replaced_within_its_term(
    machines: Callable[..., Machine], simulator: Simulator, log_watch: LogWatch
) -> None:
    old = await machines(1, proxied=True, lease_seconds=2.0)
    new = await machines(2, lease_seconds=2.0)
    assert old.engine.scheduling
    assert old.proxy is not None
    old.proxy.blackhole()  # power lost: nothing closes, nothing answers

    job = await new.engine.enqueue(video_request(duration=2), BOB)
    await log_watch.logged(r"stopped renewing its term")
    both = [old, new]
    await until(lambda: delivered(both, job.id), new.notifier)

    assert new.engine.scheduling
    assert posts(both, job.id) == 1
    assert len(simulator.tasks) == 1


async def test_a_takeover_whose_first_query_fails_tries_again_and_schedules(
    machines: Callable[..., Machine], simulator: Simulator, log_watch: LogWatch
) -> None:
    first = await machines(1)
    second = await machines(2, proxied=True)
    jobs = [
        await first.engine.enqueue(video_request(duration=2, prompt=f"video {n}"), ALICE)
        for n in range(3)
    ]
    assert second.proxy is not None
    failing = second.proxy.on_statement("SELECT * FROM jobs WHERE state IN", action="reset")

    await first.engine.stop()
    both = [first, second]
    await until(lambda: all(delivered(both, j.id) for j in jobs), second.notifier)

    assert failing.fired.is_set()
    assert any("Taking over as the scheduler failed" in m for m in log_watch.seen)
    assert second.engine.scheduling
    assert all(posts(both, j.id) == 1 for j in jobs)
    assert len(simulator.tasks) == 3


@pytest.mark.parametrize("grace", [0.0, 5.0], ids=["killed-mid-submit", "sigterm-mid-submit"])
async def test_a_stop_in_the_middle_of_a_submit_never_submits_twice(
    machines: Callable[..., Machine], simulator: Simulator, grace: float
) -> None:
    deadlines = {"submit_deadline_seconds": 3.0, "clock_skew_seconds": 0.5}
    first = await machines(1, stop_grace_seconds=grace, **deadlines)
    second = await machines(2, **deadlines)
    simulator.script("slow:1.5")  # the provider is still handling the POST when the stop comes
    job = await first.engine.enqueue(video_request(duration=2), ALICE)
    await arrived(simulator, "POST", "video-synthesis")

    await first.engine.stop()
    both = [first, second]
    await until(lambda: delivered(both, job.id), second.notifier)

    assert len(simulator.tasks) == 1
    assert posts(both, job.id) == 1
    assert await ledger(second, job.id) == ["reserve", "commit"]


@pytest.mark.parametrize("pending_seconds", [4.5])
async def test_slow_work_in_a_tick_never_lets_a_delivery_lease_lapse(
    machines: Callable[..., Machine],
) -> None:
    # Leases of 2 s (renewed every tick, 0.05 s): a loaded machine's stalls stay well inside one.
    scheduler = await machines(1, delivery_slots=1, lease_seconds=2.0)
    scheduler.notifier.gate = asyncio.Event()  # its delivery takes long (a big upload)
    first = await scheduler.engine.enqueue(video_request(duration=2, prompt="one"), ALICE)
    await until(lambda: scheduler.notifier.delivering == 1, scheduler.notifier)
    other = await machines(2, lease_seconds=2.0)  # from now on, it would take a lapsed lease

    # A cancel asked on the other process: the scheduler answers on the status message, and
    # Discord is slow to take that edit.
    scheduler.notifier.notes_gate = asyncio.Event()
    await other.engine.cancel(first.id)
    await until(lambda: scheduler.notifier.notes_waiting == 1, scheduler.notifier)
    # Meanwhile another video is made and delivered: more than two of the first one's leases.
    second = await other.engine.enqueue(video_request(duration=2, prompt="two"), BOB)
    both = [scheduler, other]
    await until(lambda: delivered(both, second.id), scheduler.notifier, other.notifier)

    scheduler.notifier.gate.set()
    scheduler.notifier.notes_gate.set()
    await until(lambda: delivered(both, first.id), scheduler.notifier, other.notifier)
    assert first.id not in other.notifier.posted, "the lease lapsed behind the slow edit"
    assert posts(both, first.id) == 1

"""Engines on one database, watched: each engine as a process of the cluster would run it, a
notifier that says when a job is delivered or failed, the ledger and posts of a job, waiting until
a condition holds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import aiohttp
from pydantic import SecretStr

from bot.dashscope import DashScopeClient
from bot.domain.jobs import Job, JobState
from bot.engine.notifier import Progress
from bot.engine.runner import Engine, EngineConfig
from bot.i18n import Text
from bot.simulator import Simulator
from storage.database import Database
from storage.jobs import JobStore
from storage.quotas import QuotaStore
from tests.support.engine_rig import RecordingNotifier

WITHIN = 30.0  # seconds: a deadline, not a pace; each wait ends on the event it waits for


@dataclass
class WatchedNotifier(RecordingNotifier):
    """A RecordingNotifier that wakes waiters on every call, and can hold deliveries back."""

    changed: asyncio.Event = field(default_factory=asyncio.Event)
    gate: asyncio.Event | None = None  # while set to an unset event, deliveries wait for it
    delivering: int = 0

    async def progress(self, job: Job, update: Progress) -> None:
        await super().progress(job, update)
        self.changed.set()

    async def deliver(self, job: Job, video: Path) -> int | None:
        self.delivering += 1
        self.changed.set()
        if self.gate is not None:
            await self.gate.wait()
        result = await super().deliver(job, video)
        self.changed.set()
        return result

    async def fail(self, job: Job, reason: Text) -> None:
        await super().fail(job, reason)
        self.changed.set()


async def until(condition: Callable[[], bool], *notifiers: WatchedNotifier) -> None:
    """Wait until `condition()` holds, re-checking whenever a notifier reports something."""

    async def watch() -> None:
        while not condition():
            waits = [asyncio.ensure_future(n.changed.wait()) for n in notifiers]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for n in notifiers:
                n.changed.clear()
            for w in waits:
                w.cancel()

    await asyncio.wait_for(watch(), WITHIN)


async def ledger(member: Member, job_id: int) -> list[str]:
    rows = await member.db.fetch_all(
        "SELECT kind FROM quota_ledger WHERE job_id = ? ORDER BY id", (job_id,)
    )
    return [row[0] for row in rows]


def posts(members: list[Member], job_id: int) -> int:
    return sum(len(m.notifier.posted.get(job_id, [])) for m in members)


def delivered(members: list[Member], job_id: int) -> bool:
    """Posted, and recorded as delivered (the last thing the engine says of it)."""
    return any(
        j == job_id and u.state is JobState.DELIVERED
        for m in members
        for j, u in m.notifier.updates
    )


@dataclass
class Member:
    """One process's engine: its own database connections, client and notifier."""

    db: Database
    engine: Engine
    notifier: WatchedNotifier
    jobs: JobStore
    quotas: QuotaStore


async def started_engine(
    db: Database,
    session: aiohttp.ClientSession,
    simulator: Simulator,
    notifier: WatchedNotifier,
    spool_dir: Path,
    **config: object,
) -> Engine:
    """One process's engine on `db`, started: it polls the simulator often and ticks every 50 ms
    (`config` overrides any EngineConfig field); the caller stops it."""
    base = EngineConfig(spool_dir=spool_dir)
    planner = replace(base.planner, dense_interval=0.05, longest_interval=0.1)
    settings = {"tick_seconds": 0.05, **config}
    engine = Engine(
        db=db,
        jobs=JobStore(db),
        quotas=QuotaStore(db, default_seconds=600),
        client=DashScopeClient(session, api_key=SecretStr("k"), base_url=simulator.base_url or ""),
        notifier=notifier,
        config=replace(base, planner=planner, **settings),  # type: ignore[arg-type]
    )
    await engine.start()
    return engine

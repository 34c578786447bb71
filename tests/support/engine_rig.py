"""The engine rig the tests and the benches share: an engine on a real database, talking to the
simulator over loopback, on one clock (a `VirtualClock` unless a caller asks for the wall clock).

The tests' `rig` fixture (tests/conftest.py) builds it with a `RecordingNotifier`, to look at what
was posted; bench/benchlib.py builds it with a `NullNotifier`, which keeps nothing as jobs pile up.
`video_request` and the requesters ALICE and BOB are the small requests the engine tests queue.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import aiohttp
from pydantic import SecretStr

from bot.dashscope import DashScopeClient, RetryPolicy
from bot.domain.catalog import MediaType
from bot.domain.jobs import Job, JobState, Requester
from bot.domain.requests import GenerationRequest, MediaItem
from bot.engine.key_ring import DashScopeKey, KeyRing
from bot.engine.notifier import Notifier, Progress
from bot.engine.runner import Engine, EngineConfig
from bot.engine.virtual import VirtualClock, drive
from bot.i18n import Text
from bot.media.probe import probe_video_file
from bot.simulator import Simulator, SimulatorConfig
from storage.connect import open_database
from storage.database import Database
from storage.jobs import JobStore
from storage.quotas import QuotaStore

KEY = "sk-engine-test"
ALICE = Requester(user_id=1, guild_id=10, channel_id=100)
BOB = Requester(user_id=2, guild_id=10, channel_id=100)


def video_request(
    model: str = "wan2.7-i2v", duration: int = 5, **fields: object
) -> GenerationRequest:
    if "kf2v" in model:
        media = (
            MediaItem(type=MediaType.FIRST_FRAME, url="https://example.com/a.png"),
            MediaItem(type=MediaType.LAST_FRAME, url="https://example.com/b.png"),
        )
        return GenerationRequest.build(model=model, media=media, **fields)
    media = (MediaItem(type=MediaType.FIRST_FRAME, url="https://example.com/a.png"),)
    return GenerationRequest.build(model=model, media=media, duration=duration, **fields)


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs, nothing catches it."""


@dataclass
class RecordingNotifier:
    """Remembers what it posted, like a channel would, across engine restarts."""

    posted: dict[int, list[int]] = field(default_factory=dict)  # job id -> message ids
    sizes: dict[int, int] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    updates: list[tuple[int, Progress]] = field(default_factory=list)
    crash_after_post: bool = False
    _next_id: int = 1000

    async def progress(self, job: Job, update: Progress) -> None:
        self.updates.append((job.id, update))

    async def deliver(self, job: Job, video: Path) -> int | None:
        info = probe_video_file(video)  # what was handed over plays
        assert info.duration
        self._next_id += 1
        self.posted.setdefault(job.id, []).append(self._next_id)
        self.sizes[job.id] = video.stat().st_size
        if self.crash_after_post:
            self.crash_after_post = False
            raise Crash
        return self._next_id

    async def fail(self, job: Job, reason: Text) -> None:
        self.failed[job.id] = str(reason)  # English, as a member set to English reads it

    async def delivered_message(self, job: Job) -> int | None:
        ids = self.posted.get(job.id)
        return ids[-1] if ids else None


class NullNotifier:
    """Accepts every update and delivery and keeps nothing (no memory grows with jobs)."""

    def __init__(self) -> None:
        self._next_id = 0

    async def progress(self, job: Job, update: Progress) -> None:
        return None

    async def deliver(self, job: Job, video: Path) -> int | None:
        self._next_id += 1
        return self._next_id

    async def fail(self, job: Job, reason: Text) -> None:
        return None

    async def delivered_message(self, job: Job) -> int | None:
        return None


N = TypeVar("N", bound=Notifier)  # RecordingNotifier in the tests, NullNotifier in the benches


@dataclass
class Rig(Generic[N]):
    clock: VirtualClock | Callable[[], float]  # virtual unless a bench asks for the wall clock
    simulator: Simulator
    db: Database
    jobs: JobStore
    quotas: QuotaStore
    notifier: N
    session: aiohttp.ClientSession
    config: EngineConfig
    engine: Engine
    keys: int = 1  # above 1: that many DashScope keys, each an account of its own
    api_key: str = KEY

    def new_engine(self, client: DashScopeClient | None = None) -> Engine:
        """A fresh engine on the same database, as after a restart."""
        if self.keys > 1:
            return Engine(
                db=self.db,
                jobs=self.jobs,
                quotas=self.quotas,
                keys=self.key_ring(),
                notifier=self.notifier,
                config=self.config,
                clock=self.clock,
            )
        return Engine(
            db=self.db,
            jobs=self.jobs,
            quotas=self.quotas,
            client=client or self.client(),
            notifier=self.notifier,
            config=self.config,
            clock=self.clock,
        )

    def client(
        self, cls: type[DashScopeClient] = DashScopeClient, api_key: str | None = None
    ) -> DashScopeClient:
        assert self.simulator.base_url
        return cls(
            self.session,
            api_key=SecretStr(api_key or self.api_key),
            base_url=self.simulator.base_url,
            retry=RetryPolicy(attempts=3, base_delay=0.0),
        )

    def key_ring(self) -> KeyRing:
        """`keys` keys named key1, key2, ...; the simulator then must accept any key."""
        clients = [self.client(api_key=f"{self.api_key}-{n}") for n in range(1, self.keys + 1)]
        named = [DashScopeKey(f"key{n}", c) for n, c in enumerate(clients, start=1)]
        return KeyRing(named, jobs=self.jobs)

    async def job(self, job_id: int) -> Job:
        job = await self.jobs.get(job_id)
        assert job is not None
        return job

    async def states(self, job_id: int) -> list[JobState]:
        return [event.to_state for event in await self.jobs.events(job_id)]

    async def ledger_kinds(self, job_id: int) -> list[str]:
        entries = await self.quotas.ledger(10, limit=1000)
        return [e.kind for e in sorted(entries, key=lambda e: e.id) if e.job_id == job_id]

    async def finish(self, *job_ids: int, engine: Engine | None = None) -> None:
        engine = engine or self.engine
        assert isinstance(self.clock, VirtualClock), "finish drives a virtual clock"

        async def done() -> bool:
            return all([(await self.job(j)).state.is_final for j in job_ids])

        await drive(engine, self.clock, until=done)


@contextlib.asynccontextmanager
async def engine_rig(
    database_target: str,
    simulator_config: SimulatorConfig,
    config: EngineConfig,
    notifier: N,
    *,
    quota_seconds: int = 600,
    clock: VirtualClock | Callable[[], float] | None = None,
    keys: int = 1,
    api_key: str = KEY,
) -> AsyncIterator[Rig[N]]:
    """Start the simulator and an engine sharing one clock (a new VirtualClock unless `clock` is
    given, e.g. `time.time`), the database at `database_target` (a SQLite path or a PostgreSQL
    URL); stop and close them all afterwards."""
    clock = clock or VirtualClock()
    simulator = Simulator(simulator_config, clock=clock)
    await simulator.start()
    db = await open_database(database_target)
    jobs = JobStore(db, clock=clock)
    quotas = QuotaStore(db, default_seconds=quota_seconds, clock=clock)
    try:
        async with aiohttp.ClientSession() as session:
            rig = Rig(
                clock, simulator, db, jobs, quotas, notifier, session, config, None, keys, api_key
            )  # type: ignore[arg-type]
            rig.engine = rig.new_engine()
            try:
                yield rig
            finally:
                await rig.engine.stop()
    finally:
        await db.close()
        await simulator.close()


async def first_poll_after(rig: Rig) -> float:
    """How long after a new job's submit the engine first asks about its task."""
    job = await rig.engine.enqueue(video_request(), ALICE)
    await rig.engine.step()
    submitted = rig.clock.now
    due = await rig.engine.step()
    assert (await rig.job(job.id)).state is JobState.PENDING
    assert due is not None
    return due - submitted

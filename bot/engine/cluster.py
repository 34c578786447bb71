"""Several processes on one database: exactly one schedules, every one delivers.

The scheduler (submit, poll, cancel, reconcile) is whichever process holds the database's
`scheduler` lock: a PostgreSQL advisory lock on a connection of its own, which the server lets go
of the moment that process dies; the others stand by and try for it every `tick_seconds`, and the
one that gets it resumes every job from its rows. On SQLite there is one process (the database
refuses a second), which is always the scheduler.

Every process, the scheduler too, carries deliveries under leases (see pipeline.py). Processes
tell each other what changed through the database's notifications, sent on commit: a job queued
elsewhere, a cancel asked for elsewhere, a delivery nobody has room for. Each tick also looks,
so a notification lost with a connection only delays the work by a tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from bot.engine.cancel import Canceler
from bot.engine.context import Context
from bot.engine.pipeline import Pipeline
from bot.engine.scheduler import Scheduler
from bot.engine.settle import Settlement
from bot.engine.spool import sweep_spool
from storage.database import ProcessLock
from storage.jobs import Job
from storage.retention import Retention

log = logging.getLogger(__name__)


class Cluster:
    """This process's part: standing by or scheduling, and delivering what it has room for."""

    def __init__(
        self,
        ctx: Context,
        *,
        scheduler: Scheduler,
        pipeline: Pipeline,
        canceler: Canceler,
        settlement: Settlement,
        recover: Callable[[], Awaitable[None]],
        key_gone: Callable[[Job], Awaitable[None]],
    ) -> None:
        self._ctx = ctx
        self._scheduler = scheduler
        self._pipeline = pipeline
        self._canceler = canceler
        self._settlement = settlement
        self._recover = recover
        self._key_gone = key_gone
        self._lock: ProcessLock = ctx.db.lock("scheduler")
        self._loop: asyncio.Task[None] | None = None
        self._retention = Retention(ctx.db, days=ctx.config.retention_days, clock=ctx.clock)
        self.leading = False
        self.started = False

    @property
    def alive(self) -> bool:
        """Whether this process's loop (ticking, standing by or leading) is running."""
        return self._loop is not None and not self._loop.done()

    async def start(self) -> None:
        """Claim the database (SQLite: refuse a second process), listen, and try to lead."""
        db = self._ctx.db
        await db.claim_process()
        self.started = True
        if not db.shared:
            # The one process: every lease in the file is a dead process's.
            await self._ctx.coordination.clear_leases()
        await sweep_spool(self._ctx.config.spool_dir, self._ctx.jobs)
        db.listen(self._heard)
        await db.start_listening()
        await self.tick()
        self._loop = asyncio.create_task(self._run(), name="wanbot-cluster")

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None
        await self._step_down()
        await self._lock.release()

    def _heard(self, topic: str, payload: str) -> None:
        if topic in ("queued", "cancel", "delivery"):
            self._ctx.news.set()

    async def _run(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: on 3.11, wait_for can lose a cancel that arrives as
            # the event is set, and stopping then waits forever (seen in tests/test_cluster.py).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._ctx.config.tick_seconds):
                    await self._ctx.news.wait()
            self._ctx.news.clear()
            try:
                await self.tick()
            except Exception:
                log.exception("Cluster tick failed; trying again next tick")

    async def tick(self) -> None:
        """Lead if the lock is free, stand down if it was lost; then take on work."""
        if self.leading and not await self._lock.held():
            log.error("Lost the scheduler lock; standing by")
            await self._step_down()
        if not self.leading and await self._lock.acquire():
            log.info("This process is the scheduler now")
            self.leading = True
            await self._recover()
            self._scheduler.start()
        if self.leading:
            await self._adopt_new_jobs()
            await self._take_cancels()
            await self._retention.run_if_due()
        await self._pipeline.renew()
        await self._pipeline.claim_waiting()

    async def _step_down(self) -> None:
        if not self.leading:
            return
        self.leading = False
        await self._scheduler.stop()
        self._scheduler.forget()
        self._ctx.forget_all()

    async def _adopt_new_jobs(self) -> None:
        """Queue the jobs other processes queued since this one last looked."""
        for job in await self._ctx.coordination.queued_after(self._scheduler.newest_seen):
            try:
                self._scheduler.restore(job)
            except LookupError:  # queued with a key this process does not have
                await self._key_gone(job)
        self._ctx.wake.set()

    async def _take_cancels(self) -> None:
        """Act on cancels asked for on other processes; say so on the status if it cannot."""
        for job_id in await self._ctx.coordination.take_cancel_requests():
            try:
                outcome = await self._canceler.cancel(job_id)
            except Exception:
                log.exception("Cancel of job %s, asked elsewhere, failed", job_id)
                continue
            job = await self._ctx.jobs.get(job_id)
            if not outcome.canceled and job is not None and not job.state.is_final:
                await self._settlement.progress(job, note=outcome.message)

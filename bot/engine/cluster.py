"""Several processes on one database: exactly one schedules, every one delivers.

The scheduler (submit, poll, cancel, reconcile) is whichever process holds the database's
`scheduler` lock: a PostgreSQL advisory lock on a connection of its own, which the server lets go
of the moment that connection ends. Taking the role also takes a new term (storage/leadership.py):
its generation fences every write the scheduler makes, so a process that lost the role without
noticing yet (its lock connection was cut; its machine went silent and came back) has its next
write refused and stops at once. The leader renews its term on the database's clock; a standby
that finds the term lapsed while the lock is still held ends the silent holder's session and takes
over. A takeover either completes (term, then every job found again from its rows, then the
loop) or lets go of the lock to try again next tick: never a leader that does not schedule.

On SQLite there is one process (the database refuses a second), which is always the scheduler.

Every process, the scheduler too, carries deliveries under leases (see pipeline.py). Leases and
the term are renewed on a timer of their own (`renew_seconds`), never behind the tick's other work;
cancels asked for on other processes run as tasks of their own. Processes tell each other what
changed through the database's notifications, sent on commit: a job queued elsewhere, a cancel
asked for elsewhere, a delivery nobody has room for. Each tick also looks, so a notification lost
with a connection only delays the work by a tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from bot.engine.cancel import Canceler
from bot.engine.context import Context
from bot.engine.inputs import InputStore
from bot.engine.pipeline import Pipeline
from bot.engine.scheduler import Scheduler
from bot.engine.settle import Settlement
from bot.engine.spool import sweep_spool
from bot.net.tasks import Loops, Tasks
from storage.database import ProcessLock
from storage.leadership import Deposed
from storage.retention import Retention

log = logging.getLogger(__name__)

CANCELS_AT_ONCE = 4  # cancels asked for elsewhere, carried out at once (each may wait on DashScope)
LET_GO_SECONDS = 5.0  # a stopping leader ends its term in the database within this long, or not


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
    ) -> None:
        self._ctx = ctx
        self._scheduler = scheduler
        self._pipeline = pipeline
        self._canceler = canceler
        self._settlement = settlement
        self._recover = recover
        self._lock: ProcessLock = ctx.db.lock("scheduler")
        self._loops = Loops()
        self._cancels = Tasks()
        self._cancel_room = asyncio.Semaphore(CANCELS_AT_ONCE)
        self._retention = Retention(ctx.db, days=ctx.config.retention_days, clock=ctx.clock)
        folder = ctx.config.inputs_dir
        self._inputs = (
            None if folder is None else InputStore(folder, days=ctx.config.input_days)
        )  # on the wall clock, like the files' times
        self.leading = False
        self.started = False

    @property
    def alive(self) -> bool:
        """Whether this process's loops run (false before start, after stop, or if one died)."""
        return self._loops.running

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
        self._loops.start(self._run(), "wanbot-cluster")
        self._loops.start(self._keep_alive(), "wanbot-leases")

    async def stop(self) -> None:
        """Stop ticking; a leader first lets its submits on their way finish, then ends its term
        so that a standby takes over on its next tick."""
        await self._loops.stop()
        await self._step_down(grace=self._ctx.config.stop_grace_seconds)
        await self._lock.release()

    def _heard(self, topic: str, payload: str) -> None:
        if topic in ("queued", "cancel", "delivery"):
            self._ctx.news.set()

    async def _run(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: on 3.11, wait_for can lose a cancel that arrives as
            # the event is set, and stopping then waits forever (seen in tests/integration/cluster/test_cluster.py).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._ctx.config.tick_seconds):
                    await self._ctx.news.wait()
            self._ctx.news.clear()
            try:
                await self.tick()
            except Exception:
                log.exception("Cluster tick failed; trying again next tick")

    async def tick(self) -> None:
        """Lead if the role is free, stand down if it was lost; then take on work."""
        if self.leading and (self._scheduler.deposed or not await self._lock.held()):
            log.error("Lost the scheduler's role; standing by")
            await self._step_down()
            await self._lock.release()
        if not self.leading:
            await self._try_to_lead()
        if self.leading:
            self._ctx.look_for_jobs = True  # jobs queued elsewhere: the next pass reads them
            self._ctx.wake.set()
            await self._take_cancels()
            await self._retention.run_if_due()
        if self._inputs is not None:
            await self._inputs.sweep_if_due()  # every process: its folder may be its own
        await self._pipeline.claim_waiting()

    async def _try_to_lead(self) -> None:
        """Take the lock (ending a silent holder's session first) and a new term, and find every
        job again; on any failure let go of the lock, to try again next tick."""
        ctx = self._ctx
        if not await self._lock.acquire():
            silent = await ctx.leadership.lapsed_session()
            if silent is None or silent == await self._lock.session():
                return
            log.warning(
                "The scheduler (session %s) stopped renewing its term; ending its session", silent
            )
            if not await self._lock.end_holder(silent) or not await self._lock.acquire():
                return
        try:
            ctx.term = await ctx.leadership.take(
                ctx.owner, await self._lock.session(), ctx.config.lease_seconds
            )
            await self._recover()
        except Exception:
            log.exception("Taking over as the scheduler failed; letting go to try again")
            ctx.term = None
            self._scheduler.forget()
            ctx.forget_all()
            await self._lock.release()
            return
        self.leading = True
        log.info("This process is the scheduler now (term %s)", ctx.term)
        self._scheduler.start()

    async def _step_down(self, *, grace: float = 0.0) -> None:
        if not self.leading:
            return
        ctx = self._ctx
        self.leading = False
        await self._cancels.stop()
        await self._scheduler.stop(grace=grace)
        if grace and ctx.term is not None and not self._scheduler.deposed:
            try:  # a courtesy: the lock's release is what frees the role
                async with asyncio.timeout(LET_GO_SECONDS):
                    await ctx.leadership.end(ctx.term)
            except Exception as error:
                log.warning("Could not end the scheduler's term (%s); it lapses on its own", error)
        ctx.term = None
        self._scheduler.forget()
        ctx.forget_all()

    async def _keep_alive(self) -> None:
        """Renew the scheduler's term and the delivery leases on a timer of their own."""
        ctx = self._ctx
        while True:
            await asyncio.sleep(ctx.config.renew_seconds)
            try:
                await self._renew()
            except Exception:
                log.exception("Renewing the term and leases failed; again shortly")

    async def _renew(self) -> None:
        ctx = self._ctx
        term = ctx.term
        if (
            self.leading
            and term is not None
            and not await ctx.leadership.renew(term, ctx.config.lease_seconds)
        ):
            log.error("The scheduler's term %s was taken over; standing by", term)
            self._scheduler.deposed = True
            ctx.news.set()
        await self._pipeline.renew()

    async def _take_cancels(self) -> None:
        """Act on cancels asked for on other processes, each in a task of its own (a cancel may
        wait on DashScope); the status message says what happened if it cannot."""
        for job_id in await self._ctx.coordination.take_cancel_requests():
            self._cancels.spawn(self._cancel(job_id), f"cancel job {job_id}")

    async def _cancel(self, job_id: int) -> None:
        async with self._cancel_room:
            try:
                outcome = await self._canceler.cancel(job_id)
                job = await self._ctx.jobs.get(job_id)
                if not outcome.canceled and job is not None and not job.state.is_final:
                    await self._settlement.progress(job, note=outcome.message)
            except Deposed:
                self._scheduler.deposed = True
                self._ctx.news.set()
            except Exception:
                log.exception("Cancel of job %s, asked elsewhere, failed", job_id)

"""A finished task's result: download → check it plays → deliver → settle, in the background.

Results are fetched at once (their links die), to a spool file, and checked before anyone sees
them. Each result runs as a tracked background task (never fire-and-forget); the loop is woken
when one ends. After a restart, a delivery that may have been posted already is looked for
before posting again, and a result whose spool file is gone is fetched again.

Each delivery is carried under a lease on its row, so with several processes any of them may
carry it (up to `delivery_slots` at once each) and one whose carrier died is taken over once the
lease lapses (on the database's clock). The lease is renewed on a timer of its own (the cluster's
keep-alive), never behind slow work; every write about the job is fenced by it
(`Context.carrying`), so a carrier that lost it changes nothing; before posting, the carrier
renews it, so one that lost it never posts. A post that fails is looked for before the job is
given up: Discord may have made it before the error reached us.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from bot.dashscope import DashScopeError
from bot.domain.errors import InvalidInput
from bot.domain.jobs import Job, JobState
from bot.engine import failures
from bot.engine.context import Context
from bot.engine.settle import Settlement, Writer
from bot.media.probe import probe_video_file
from bot.net.tasks import Tasks
from storage.coordination import LeaseLost

log = logging.getLogger(__name__)


class Pipeline:
    """Carries results from the provider to the requester, each in its own background task."""

    def __init__(self, ctx: Context, settlement: Settlement) -> None:
        self._ctx = ctx
        self._settlement = settlement
        self._background = Tasks()
        self._carrying: dict[int, asyncio.Task[Any]] = {}  # job -> its delivery, under lease
        self._claiming = 0  # claims on their way to the database

    def __len__(self) -> int:
        """How many results are on their way."""
        return len(self._background)

    @property
    def carried(self) -> int:
        """How many deliveries this process carries under lease now."""
        return len(self._carrying)

    async def offer(self, job: Job) -> None:
        """Carry `job`'s result here if there is room, else leave it to any process with room."""
        if job.id in self._carrying or await self._claim(job.id):
            return
        ctx = self._ctx
        await ctx.coordination.release(ctx.owner, [job.id])  # held for this offer (see `hold`)
        await ctx.coordination.announce("delivery", str(job.id))

    async def claim_waiting(self) -> None:
        """Take on deliveries nobody carries (or whose carrier's lease lapsed), while there is room."""
        while await self._claim(None):
            pass

    async def _claim(self, job_id: int | None) -> bool:
        """Claim `job_id`'s delivery (None: the oldest unclaimed) if a slot is free, and start
        it; return whether one was taken. The slot is held while the claim is on its way, so
        claims made at once (several polls finishing together) never overfill the slots."""
        ctx = self._ctx
        if not self._has_room():
            return False
        self._claiming += 1
        try:
            job = await ctx.coordination.claim_delivery(
                ctx.owner, ctx.config.lease_seconds, job_id=job_id
            )
        finally:
            self._claiming -= 1
        if job is not None:
            self._carry(job)
        return job is not None

    async def renew(self) -> None:
        """Keep the leases of the deliveries under way; drop any this process no longer holds."""
        ctx = self._ctx
        carried = dict(self._carrying)  # those taken on while renewing are not in question
        held = await ctx.coordination.renew(ctx.owner, list(carried), ctx.config.lease_seconds)
        for job_id, task in carried.items():
            if job_id not in held:
                log.warning("Lost the lease on job %s; another process carries it now", job_id)
                task.cancel()

    def _has_room(self) -> bool:
        """Whether this process takes on another delivery. SQLite's one process carries them
        all, as it always has; processes sharing PostgreSQL keep to their slots."""
        ctx = self._ctx
        taken = len(self._carrying) + self._claiming
        return not ctx.db.shared or taken < ctx.config.delivery_slots

    def _carry(self, job: Job) -> None:
        if job.state is JobState.DOWNLOADING:
            work = self._download(job)
        else:
            work = self._resume_delivery(job)
        task = self._spawn(self._leased(job, work), f"deliver job {job.id}")
        self._carrying[job.id] = task
        task.add_done_callback(lambda _: self._freed(job.id))

    def _freed(self, job_id: int) -> None:
        """A delivery ended: its slot is free, so look for the next one now, not next tick."""
        self._carrying.pop(job_id, None)
        self._ctx.news.set()

    async def settle(self) -> None:
        """Wait until no download or delivery is in progress."""
        while self._background:
            await asyncio.gather(*self._background.running(), return_exceptions=True)

    async def stop(self) -> None:
        """Cancel every result on its way and let go of their leases; each resumes from its row,
        here on the next start or at once in another process."""
        carried = list(self._carrying)
        await self._background.stop()
        try:  # a courtesy: unreleased leases lapse on their own, so stopping never waits long
            await asyncio.wait_for(self._ctx.coordination.release(self._ctx.owner, carried), 5.0)
        except (TimeoutError, OSError):
            log.warning("Could not let go of the leases on %s; they lapse on their own", carried)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[Any]:
        """Start `work` in the background; the loop is woken when it ends (a failure is logged)."""
        task = self._background.spawn(work, name)
        task.add_done_callback(lambda _: self._ctx.wake.set())
        return task

    async def _leased(self, job: Job, work: Coroutine[Any, Any, None]) -> None:
        """Carry one delivery; another process taking it over ends this one quietly."""
        try:
            await work
        except LeaseLost:
            log.warning("Job %s: another process carries its delivery now; leaving it", job.id)
            self._ctx.spool_path(job).unlink(missing_ok=True)

    def _writer(self, job: Job) -> Writer:
        """Writes about a carried job, fenced by its lease."""
        return lambda: self._ctx.carrying(job.id)

    async def _download(self, job: Job) -> None:
        """Fetch the result to the spool, check it plays, then deliver it."""
        ctx = self._ctx
        assert job.result_url is not None
        path = ctx.spool_path(job)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            await (ctx.key_of(job) or ctx.first).client.download(job.result_url, path)
        except DashScopeError as error:
            expired = error.status in (403, 404)
            await self._settlement.end(
                job,
                JobState.EXPIRED if expired else JobState.FAILED,
                failures.RESULT_EXPIRED
                if expired
                else failures.describe(error.code, error.message),
                code=error.code,
                message=error.message,
                writer=self._writer(job),
            )
            ctx.metrics.delivery("result_expired" if expired else "download_failed")
            return
        try:
            await ctx.workers.result_work(probe_video_file, path)
        except InvalidInput:
            path.unlink(missing_ok=True)
            await self._settlement.end(
                job,
                JobState.FAILED,
                failures.UNPLAYABLE,
                code="Unplayable",
                writer=self._writer(job),
            )
            ctx.metrics.delivery("unplayable")
            return
        async with ctx.carrying(job.id) as tx:
            job = await ctx.jobs.transition(
                tx, job.id, JobState.DELIVERING, delivery_started_at=ctx.clock()
            )
        await self._deliver(job, path)

    async def _deliver(self, job: Job, path: Path) -> None:
        ctx = self._ctx
        held = await ctx.coordination.renew(ctx.owner, [job.id], ctx.config.lease_seconds)
        if job.id not in held:
            log.warning("Not posting job %s: its lease passed to another process", job.id)
            path.unlink(missing_ok=True)
            return
        await self._settlement.said(job.id)  # its status first, then the video
        try:
            message_id = await self._ctx.notifier.deliver(job, path)
        except Exception as error:
            log.exception("Delivering job %s failed; looking for the post", job.id)
            # If this lookup fails too, the job stays delivering and its lease lapses: whoever
            # claims it next looks again before posting.
            if (message_id := await ctx.notifier.delivered_message(job)) is None:
                path.unlink(missing_ok=True)
                await self._settlement.end(
                    job,
                    JobState.FAILED,
                    failures.NOT_POSTED,
                    code="DeliveryFailed",
                    message=str(error),
                    writer=self._writer(job),
                )
                ctx.metrics.delivery("post_failed")
                return
            log.info("Job %s was posted after all (message %s)", job.id, message_id)
        await self._settlement.delivered(job, message_id, writer=self._writer(job))
        ctx.metrics.delivery("delivered")
        path.unlink(missing_ok=True)

    async def _resume_delivery(self, job: Job) -> None:
        """After a restart in `delivering`: never post twice; fetch again if the file is gone."""
        ctx = self._ctx
        message_id = await ctx.notifier.delivered_message(job)
        if message_id is not None:
            await self._settlement.delivered(job, message_id, writer=self._writer(job))
            ctx.metrics.delivery("delivered")
            ctx.spool_path(job).unlink(missing_ok=True)
            return
        path = ctx.spool_path(job)
        if not path.exists():
            assert job.result_url is not None
            path.parent.mkdir(parents=True, exist_ok=True)  # a process that has not spooled yet
            try:
                await (ctx.key_of(job) or ctx.first).client.download(job.result_url, path)
            except DashScopeError as error:
                await self._settlement.end(
                    job,
                    JobState.FAILED,
                    failures.RESULT_EXPIRED,
                    code=error.code,
                    writer=self._writer(job),
                )
                ctx.metrics.delivery("result_expired")
                return
        await self._deliver(job, path)

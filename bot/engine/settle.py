"""How a job's requester hears of it, and how its quota is settled when it ends.

Every final state is written in the same transaction as its quota change: committed (the
provider's billed seconds) when delivered, refunded otherwise, so a job is charged or refunded
exactly once. Each write goes through its writer's fence: the scheduler's term (`Context.writing`,
the default) or, for a delivery, its lease (`Context.carrying`). A job whose answers stay
unreadable for too long is given up here, refunded.

What the requester is told goes through the `Outbox`: in the background, in order per job, a few
jobs at a time, so a slow Discord never holds up the scheduler's pass; the notifier's failures are
logged with the job and never stop the engine.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from bot.domain.jobs import Job, JobState
from bot.engine import failures
from bot.engine.context import Context
from bot.engine.notifier import Progress
from bot.i18n import Text
from bot.net.tasks import spawn
from storage.database import Transaction

log = logging.getLogger(__name__)

Writer = Callable[[], AbstractAsyncContextManager[Transaction]]
OUTBOX_CALLS_AT_ONCE = 8  # jobs told at once; each job's own updates go one after another
OUTBOX_CLOSE_SECONDS = 5.0  # stopping waits this long for what is still to be said


class Outbox:
    """Calls to the notifier, made in the background: in order per job, a few jobs at a time."""

    def __init__(self, at_once: int = OUTBOX_CALLS_AT_ONCE) -> None:
        self._last: dict[int, asyncio.Task[None]] = {}  # job -> its latest call
        self._room = asyncio.Semaphore(at_once)

    def __len__(self) -> int:
        return len(self._last)

    def send(self, job_id: int, call: Callable[[], Awaitable[None]]) -> None:
        """Make `call` after the job's earlier calls (each failure stays its own)."""
        task = spawn(self._after(self._last.get(job_id), call), f"tell {job_id}")
        self._last[job_id] = task

        def done(finished: asyncio.Task[None]) -> None:
            if self._last.get(job_id) is finished:
                del self._last[job_id]

        task.add_done_callback(done)

    async def _after(
        self, earlier: asyncio.Task[None] | None, call: Callable[[], Awaitable[None]]
    ) -> None:
        if earlier is not None:
            await asyncio.wait([earlier])
        async with self._room:
            await call()

    async def said(self, job_id: int) -> None:
        """Wait until everything sent about `job_id` so far has been said."""
        last = self._last.get(job_id)
        if last is not None:
            await asyncio.wait([last])

    async def drain(self) -> None:
        """Wait until everything sent so far has been said."""
        while self._last:
            await asyncio.wait(list(self._last.values()))

    async def close(self, seconds: float = OUTBOX_CLOSE_SECONDS) -> None:
        """Say what can be said within `seconds`; drop the rest (the rows keep every state, and
        the next update of each job shows it)."""
        if not self._last:
            return
        pending = list(self._last.values())
        _, late = await asyncio.wait(pending, timeout=seconds)
        for task in late:
            task.cancel()
        if late:
            log.warning("Stopped before %d status updates were made", len(late))
            await asyncio.wait(late)


class Settlement:
    """Tells the requester how a job moves, and ends it with its quota settled."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self.outbox = Outbox()

    async def progress(
        self,
        job: Job,
        *,
        wait: bool = False,
        then: Callable[[], Awaitable[None]] | None = None,
        **details: Any,
    ) -> None:
        """Tell the requester that `job` moved on (its place in line, its expected end, a note):
        in the background, or now with `wait` (the first status message of a new job); `then`
        runs once it has been said (an offer of its delivery, which another process may carry)."""
        update = Progress(state=job.state, elapsed=self._ctx.clock() - job.created_at, **details)
        await self._tell(job, lambda: self._ctx.notifier.progress(job, update), wait=wait)
        if then is not None:
            self._tell_then(job, then)

    def _tell_then(self, job: Job, then: Callable[[], Awaitable[None]]) -> None:
        async def safely() -> None:
            try:
                await then()
            except Exception:
                log.exception("After telling job %s its progress, what follows failed", job.id)

        self.outbox.send(job.id, safely)

    async def delivered(self, job: Job, message_id: int | None, *, writer: Writer) -> None:
        """Record the delivery and commit what the provider bills, in one transaction."""
        ctx = self._ctx
        async with writer() as tx:
            job = await ctx.jobs.transition(
                tx, job.id, JobState.DELIVERED, delivered_message_id=message_id
            )
            charged = 0
            if job.reused_job_id is None:
                # No usage block from the provider: charge what was reserved, not nothing.
                billed = job.reserved_seconds if job.billed_seconds is None else job.billed_seconds
                if await ctx.quotas.commit(tx, job_id=job.id, billed_seconds=billed):
                    charged = billed
        ctx.forget(job.id)
        ctx.metrics.job_ended(job.model, job.state.value)
        if charged:
            ctx.metrics.quota_charged(charged)
        await self.progress(job)

    async def end(
        self,
        job: Job,
        state: JobState,
        reason: Text,
        *,
        code: str | None = None,
        message: str | None = None,
        writer: Writer | None = None,
    ) -> None:
        """Finish a job without a video: refund its reservation and tell the requester. A job
        that has ended meanwhile (a cancel and a poll at once) is left as it is. `writer`: the
        scheduler's (default) or the delivery's."""
        ctx = self._ctx
        async with (writer or ctx.writing)() as tx:
            if (await ctx.jobs.get_in(tx, job.id)).state.is_final:
                return
            job = await ctx.jobs.transition(
                tx,
                job.id,
                state,
                detail=code,
                error_code=code,
                error_message=message or str(reason),
                reason_json=json.dumps(reason.to_json(), ensure_ascii=False),
            )
            refunded = False
            if job.reused_job_id is None:  # a reused result reserved nothing
                refunded = await ctx.quotas.refund(tx, job_id=job.id, reason=code or state.value)
        ctx.forget(job.id)
        ctx.metrics.job_ended(job.model, job.state.value)
        if refunded:
            ctx.metrics.quota_refunded(job.reserved_seconds)
        ctx.spool_path(job).unlink(missing_ok=True)
        await self._tell(job, lambda: ctx.notifier.fail(job, reason))

    async def trouble(self, job_id: int, what: str, error: BaseException) -> bool:
        """Note an unreadable answer (or a bug) about a job; end it refunded once that has gone
        on for too long. Return whether it ended."""
        ctx = self._ctx
        now = ctx.clock()
        since = ctx.troubled_since.setdefault(job_id, now)
        log.warning("%s of job %s: unreadable answer or error (%s)", what, job_id, error)
        if now - since < ctx.config.unreadable_give_up_seconds:
            return False
        job = await ctx.jobs.get(job_id)
        if job is None:
            ctx.reconciled(job_id)
            return True
        log.error("Giving up on job %s after %.0f s of unreadable answers", job_id, now - since)
        key = ctx.job_keys.get(job_id)
        await self.end(
            job, JobState.FAILED, failures.UNREADABLE, code="Unreadable", message=str(error)
        )
        ctx.reconciled(job_id)
        tracked = ctx.tracked.pop(job_id, None)
        if tracked is not None:
            tracked.key.release(job.model)
        elif job.state is JobState.SUBMITTING and key is not None:
            key.release(job.model)
        return True

    async def said(self, job_id: int) -> None:
        """Wait until what was sent about `job_id` has been said (before posting its video)."""
        await self.outbox.said(job_id)

    async def _tell(
        self, job: Job, call: Callable[[], Awaitable[None]], *, wait: bool = False
    ) -> None:
        async def safely() -> None:
            try:
                await call()
            except Exception:
                log.exception("Notifier failed for job %s", job.id)

        if wait:
            await self.outbox.said(job.id)
            await safely()
        else:
            self.outbox.send(job.id, safely)

"""How a job's requester hears of it, and how its quota is settled when it ends.

Every final state is written in the same transaction as its quota change: committed (the
provider's billed seconds) when delivered, refunded otherwise, so a job is charged or refunded
exactly once. A job whose answers stay unreadable for too long is given up here, refunded. The
notifier's failures are logged with the job and never stop the engine.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Coroutine
from typing import Any

from bot.engine import failures
from bot.engine.context import Context
from bot.engine.delivery import Progress
from bot.i18n import Text
from storage.jobs import Job, JobState

log = logging.getLogger(__name__)


class Settlement:
    """Tells the requester how a job moves, and ends it with its quota settled."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def progress(self, job: Job, **details: Any) -> None:
        """Tell the requester that `job` moved on (its place in line, its expected end, a note)."""
        update = Progress(state=job.state, elapsed=self._ctx.clock() - job.created_at, **details)
        await self._safely(self._ctx.notifier.progress(job, update), job)

    async def delivered(self, job: Job, message_id: int | None) -> None:
        """Record the delivery and commit what the provider bills, in one transaction."""
        ctx = self._ctx
        async with ctx.db.transaction() as tx:
            job = await ctx.jobs.transition(
                tx, job.id, JobState.DELIVERED, delivered_message_id=message_id
            )
            if job.reused_job_id is None:
                # No usage block from the provider: charge what was reserved, not nothing.
                billed = job.reserved_seconds if job.billed_seconds is None else job.billed_seconds
                await ctx.quotas.commit(tx, job_id=job.id, billed_seconds=billed)
        ctx.forget(job.id)
        await self.progress(job)

    async def end(
        self,
        job: Job,
        state: JobState,
        reason: Text,
        *,
        code: str | None = None,
        message: str | None = None,
    ) -> None:
        """Finish a job without a video: refund its reservation and tell the requester. A job
        that has ended meanwhile (a cancel and a poll at once) is left as it is."""
        ctx = self._ctx
        async with ctx.db.transaction() as tx:
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
            if job.reused_job_id is None:  # a reused result reserved nothing
                await ctx.quotas.refund(tx, job_id=job.id, reason=code or state.value)
        ctx.forget(job.id)
        ctx.spool_path(job).unlink(missing_ok=True)
        await self._safely(ctx.notifier.fail(job, reason), job)

    async def trouble(self, job_id: int, what: str, error: BaseException) -> bool:
        """Note an unreadable answer (or a bug) about a job; end it refunded once that has gone
        on for too long. Return whether it ended."""
        ctx = self._ctx
        now = ctx.clock()
        since = ctx.troubled_since.setdefault(job_id, now)
        log.warning("%s of job %s: unreadable answer or error (%s)", what, job_id, error)
        if now - since < ctx.config.unreadable_give_up_seconds:
            return False
        ctx.reconciled(job_id)
        job = await ctx.jobs.get(job_id)
        if job is None:
            return True
        tracked = ctx.tracked.pop(job_id, None)
        if tracked is not None:
            tracked.key.release(job.model)
        elif job.state is JobState.SUBMITTING and job_id in ctx.job_keys:
            ctx.job_keys[job_id].release(job.model)
        log.error("Giving up on job %s after %.0f s of unreadable answers", job_id, now - since)
        await self.end(
            job, JobState.FAILED, failures.UNREADABLE, code="Unreadable", message=str(error)
        )
        return True

    async def _safely(self, call: Coroutine[Any, Any, Any], job: Job) -> None:
        """A notifier failure must not stop the engine; it is logged with the job id."""
        try:
            await call
        except Exception:
            log.exception("Notifier failed for job %s", job.id)

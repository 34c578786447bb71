"""The database is the truth; memory is a cache: find every job the scheduler is responsible for
again from its row.

At every takeover (and restart) and then every `sweep_seconds`, the scheduler reads the rows of
the jobs that are waiting or at the provider and compares them with what it holds in memory:
a queued job not in line is put in line, a job caught mid-submit is reconciled once its submit can
no longer make a task, a task nobody polls is polled, and what memory holds about jobs whose rows
moved on is dropped. Each key's slots are counted again from the rows. So a write that failed, a
job another process queued whose notification was lost, or a bug that dropped a job from memory
delays that job by one sweep at most, and never loses it.

A row this version does not understand (its model left the catalogue in an update, or its stored
request no longer validates) ends that job alone: refunded, the member told in plain words, the
operator's log naming the job and why. It never fails the pass or loops.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable

from bot.domain.jobs import AT_PROVIDER, Job, JobState
from bot.engine import failures
from bot.engine.context import Context
from bot.engine.polling import Polling
from bot.engine.settle import Settlement
from bot.engine.submit import Submitter
from storage.leadership import Deposed

log = logging.getLogger(__name__)

WAITING_OR_AT_PROVIDER = (JobState.QUEUED, *sorted(AT_PROVIDER))


def not_understood(job: Job) -> str | None:
    """Why this version cannot make `job` (None: it can)."""
    try:
        job.request.body()
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


class Sweep:
    """Compares the rows of waiting and submitted jobs with the scheduler's memory."""

    def __init__(
        self,
        ctx: Context,
        settlement: Settlement,
        submitter: Submitter,
        polling: Polling,
        *,
        restore: Callable[[Job], None],
        withdraw: Callable[[int], bool],
        key_gone: Callable[[Job], Awaitable[None]],
    ) -> None:
        self._ctx = ctx
        self._settlement = settlement
        self._submitter = submitter
        self._polling = polling
        self._restore = restore
        self._withdraw = withdraw
        self._key_gone = key_gone
        self._next_at = 0.0
        self._newest = 0  # the highest job id read so far

    async def due(self, now: float) -> None:
        """Sweep if the last one was `sweep_seconds` ago; else take on the jobs queued by other
        processes since the last look, if the cluster asked."""
        if now >= self._next_at:
            await self.run()
        elif self._ctx.look_for_jobs:
            await self._new_jobs()

    async def run(self, *, takeover: bool = False) -> None:
        """Find every waiting or submitted job again from its row (`takeover`: all of them are
        new to this process, which is no news for the log)."""
        ctx = self._ctx
        self._next_at = ctx.clock() + ctx.config.sweep_seconds
        ctx.look_for_jobs = False
        rows = await ctx.jobs.with_states(WAITING_OR_AT_PROVIDER)
        found = await self._pick_up_all(rows)
        self._drop_stale({job.id: job.state for job in rows})
        self._count_slots(rows)
        if found and not takeover:
            log.warning("Sweep found %d job(s) the scheduler was not following", found)

    async def _new_jobs(self) -> None:
        """Queue the jobs other processes queued since the last look."""
        self._ctx.look_for_jobs = False
        await self._pick_up_all(await self._ctx.coordination.queued_after(self._newest))

    async def _pick_up_all(self, rows: list[Job]) -> int:
        found = 0
        for job in rows:
            self._newest = max(self._newest, job.id)
            try:
                found += await self._pick_up(job)
            except Deposed:
                raise
            except Exception:
                log.exception("Sweep: could not pick up job %s; next sweep", job.id)
        return found

    async def _pick_up(self, job: Job) -> int:
        """Follow `job` from its row if memory has lost it; return 1 if it had."""
        ctx = self._ctx
        if job.id in ctx.sending:
            return 0
        if (reason := not_understood(job)) is not None:
            await self._end_not_understood(job, reason)
            return 0
        if job.state is JobState.QUEUED:
            if job.id in ctx.queue:
                return 0
        elif job.state is JobState.SUBMITTING:
            if job.id in ctx.reconcile_at:
                return 0
        elif job.id in ctx.tracked:
            return 0
        if ctx.key_of(job) is None:
            await self._key_gone(job)
            return 0
        ctx.place(job)
        if job.state is JobState.QUEUED:
            self._restore(job)
        elif job.state is JobState.SUBMITTING:
            self._submitter.reconcile_later(job)
        else:
            self._polling.track(job, next_poll_at=ctx.clock())
        return 1

    async def _end_not_understood(self, job: Job, reason: str) -> None:
        ctx = self._ctx
        log.error(
            "Job %s (%s) cannot be made by this version: %s. Ending it refunded.",
            job.id,
            job.model,
            reason,
        )
        self._withdraw(job.id)
        self._polling.untrack_id(job.id)
        ctx.reconciled(job.id)
        await self._settlement.end(
            job, JobState.FAILED, failures.NOT_UNDERSTOOD, code="NotUnderstood", message=reason
        )

    def _drop_stale(self, states: dict[int, JobState]) -> None:
        """Forget what memory holds about jobs whose rows moved on (ended, or elsewhere). A job
        queued here since the rows were read is newer than all of them, and stays."""
        ctx = self._ctx

        def moved_on(job_id: int) -> bool:
            return job_id <= self._newest and states.get(job_id) is not JobState.QUEUED

        for job_id in [j for j in list(ctx.ready_at) if moved_on(j)]:
            ctx.ready_at.pop(job_id, None)
        for job_id in [j for j in _queued(ctx) if moved_on(j)]:
            self._withdraw(job_id)
        for job_id in [j for j in ctx.reconcile_at if states.get(j) is not JobState.SUBMITTING]:
            if job_id not in ctx.sending:
                ctx.reconciled(job_id)
        at_provider = (JobState.PENDING, JobState.RUNNING)
        for job_id in [j for j in ctx.tracked if states.get(j) not in at_provider]:
            self._polling.untrack_id(job_id)

    def _count_slots(self, rows: list[Job]) -> None:
        """Each key's busy slots per model, from the rows (and the submits on their way)."""
        ctx = self._ctx
        busy: Counter[tuple[str, str]] = Counter()
        for job in rows:
            key = ctx.job_keys.get(job.id)
            if key is not None and (job.state in AT_PROVIDER or job.id in ctx.sending):
                busy[(key.name, job.model)] += 1
        for key in ctx.keys.values():
            key.busy = {model: n for (name, model), n in busy.items() if name == key.name}


def _queued(ctx: Context) -> list[int]:
    return [job_id for model in ctx.queue.models() for job_id in ctx.queue.jobs(model)]

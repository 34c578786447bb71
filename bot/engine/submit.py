"""Sending a job to the provider, and finding out what became of a submit that got no clear answer.

A submit is tried once per turn. Accepted: the task is tracked. Throttled (429): the task was
not made, so the job goes back to the front of its line after a backoff. Refused: the job ends
refunded. No clear answer (no answer, 5xx, unreadable): the task may exist, so the job is
reconciled: the provider's task list for the submit's window is read (with the job's own key:
its account's tasks), and a task is adopted only when it is provably this job's (same model,
made in the window, by the job's key once we know that key's id, reporting this job's prompt).
If no task can be ours the job is submitted again; if several could be, or one that cannot say
stays unfinished too long, the job ends refunded rather than guess or pay twice.

A submit whose outcome this process never saw (it stopped, or lost the scheduler's role, while the
POST was on its way) is reconciled only once that POST can no longer make a task: after its
deadline. Every write goes through the scheduler's term (`Context.writing`); a task the provider
accepted is never forgotten: if its job's row cannot be written, the task id is kept and adopted
by the next reconciliation, and a deposed scheduler leaves it on the row as a fact for the next.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.dashscope import DashScopeError, TaskResponse
from bot.dashscope.models import PROVIDER_TIMEZONE, TaskSummary
from bot.domain.jobs import Job, JobState
from bot.engine import failures
from bot.engine.context import Context, error_evidence, evidence, unreadable
from bot.engine.key_state import KeyState
from bot.engine.polling import Polling
from bot.engine.settle import Settlement
from storage.leadership import Deposed

log = logging.getLogger(__name__)

_LIST_PAGES_MAX = 50  # 5,000 tasks of one model in a few minutes: far beyond one key's limits


class _OutOfBudget(Exception):
    """The key's query budget has no room left in this pass."""


class Submitter:
    """Submits jobs, and reconciles the submits that got no clear answer."""

    def __init__(self, ctx: Context, settlement: Settlement, polling: Polling) -> None:
        self._ctx = ctx
        self._settlement = settlement
        self._polling = polling

    # -- submitting ------------------------------------------------------------------------------

    async def submit(self, job_id: int) -> None:
        """Send a queued job (its key's slot of its model already taken) and act on the answer."""
        ctx = self._ctx
        key = ctx.job_keys[job_id]
        job = await ctx.jobs.get(job_id)
        if job is None or job.state is not JobState.QUEUED:  # ended meanwhile: nothing to send
            key.release(job.model if job else "")
            return
        if job.model in ctx.config.retired_models:
            # Retired while it waited (the operator's setting changed, the bot restarted): it
            # ends here, costing nothing, rather than be sent to a model that is gone.
            log.warning(
                "Job %s asks for %s, which is retired; ending it refunded", job_id, job.model
            )
            key.release(job.model)
            await self._settlement.end(
                job,
                JobState.FAILED,
                failures.model_retired(job.model),
                code="ModelRetired",
                message=f"{job.model} is retired",
            )
            return
        try:
            request = job.request
            request.body()  # what would be sent: built before anything is
        except Exception as error:
            # A stored request this version cannot send (an update changed the catalogue): it
            # ends here, costing nothing, rather than loop through submit and reconcile.
            log.error(
                "Job %s cannot be sent by this version (%s); ending it refunded", job_id, error
            )
            key.release(job.model)
            await self._settlement.end(
                job,
                JobState.FAILED,
                failures.NOT_UNDERSTOOD,
                code="NotUnderstood",
                message=str(error),
            )
            return
        ctx.sending.add(job.id)
        try:
            await self._send(job, key)
        finally:
            ctx.sending.discard(job.id)

    async def _send(self, job: Job, key: KeyState) -> None:
        ctx = self._ctx
        try:
            async with ctx.writing() as tx:
                job = await ctx.jobs.transition(
                    tx,
                    job.id,
                    JobState.SUBMITTING,
                    submit_started_at=ctx.clock(),
                    submit_gave_up_at=None,
                    attempts=job.attempts + 1,
                )
        except Deposed:
            raise
        except Exception:
            # Nothing was sent and the row still says queued: back in line for another turn.
            log.exception("Could not mark job %s as being sent; it waits for another turn", job.id)
            key.release(job.model)
            ctx.requeue(job, ctx.clock() + ctx.config.retry_base_seconds)
            return
        try:
            response = await key.submit(job.request)
        except DashScopeError as error:
            await self._submit_failed(job, error)
            return
        except Exception as error:  # a bug here must not lose a task that may exist
            log.exception("Submit of job %s failed unexpectedly; reconciling", job.id)
            await self._submit_failed(job, DashScopeError(None, "Unexpected", repr(error)))
            return
        try:
            await self._accepted(job, response)
        except Deposed:
            # Another process schedules now; leave it the fact, so it adopts rather than searches.
            await ctx.jobs.record_task(job.id, job.attempts, response.task_id, evidence(response))
            raise
        except Exception as error:
            log.warning(
                "Job %s is task %s, but its row could not be written (%s); adopting it shortly",
                job.id,
                response.task_id,
                error,
            )
            ctx.accepted[job.id] = response.task_id
            ctx.reconcile_at[job.id] = ctx.clock() + ctx.config.planner.dense_interval

    async def _accepted(self, job: Job, response: TaskResponse) -> None:
        ctx = self._ctx
        async with ctx.writing() as tx:
            await ctx.jobs.record_response(tx, job.id, "submit", evidence(response))
            job = await ctx.jobs.transition(
                tx, job.id, JobState.PENDING, task_id=response.task_id, submitted_at=ctx.clock()
            )
        ctx.reconciled(job.id)
        self._polling.track(job)
        await self._settlement.progress(job, expected_end=self._polling.expected_end(job))

    async def _submit_failed(self, job: Job, error: DashScopeError) -> None:
        ctx = self._ctx
        if error.status == 429:
            # Throttled: the task was not created. Back in line, after a backoff.
            ready = ctx.clock() + ctx.config.resubmit_backoff.delay(job.attempts - 1)
            async with ctx.writing() as tx:
                job = await ctx.jobs.transition(
                    tx, job.id, JobState.QUEUED, detail=error.code, next_attempt_at=ready
                )
            ctx.job_keys[job.id].release(job.model)
            ctx.requeue(job, ready)
            await self._settlement.progress(job, note=failures.PROVIDER_BUSY)
        elif error.unclear:
            # No clear answer: the task may exist. Look for it before submitting again.
            log.warning("Submit of job %s unclear (%s); reconciling", job.id, error)
            now = ctx.clock()
            ctx.unclear_at[job.id] = now
            ctx.reconcile_at[job.id] = now + ctx.config.reconcile_after_seconds
            try:  # so that a takeover knows the window too; it waits out the deadline without
                async with ctx.writing() as tx:
                    await ctx.jobs.update(tx, job.id, submit_gave_up_at=now)
            except Deposed:
                raise
            except Exception:
                log.warning("Could not record that job %s's submit was unclear", job.id)
        else:
            if error.model_gone:
                log.error(
                    "DashScope says model %s does not exist (key %s, %s: %s); job %s ends"
                    " refunded. Retire it with WANBOT_RETIRED_MODELS if it is gone for good.",
                    job.model,
                    ctx.job_keys[job.id].name,
                    error.code,
                    error.message,
                    job.id,
                )
            ctx.job_keys[job.id].release(job.model)
            async with ctx.writing() as tx:
                await ctx.jobs.record_response(tx, job.id, "submit", error_evidence(error))
            await self._settlement.end(
                job,
                JobState.FAILED,
                failures.describe(error.code, error.message),
                code=error.code,
                message=error.message,
            )

    # -- reconciling unclear submissions -----------------------------------------------------------

    def reconcile_later(self, job: Job) -> None:
        """Look up what became of the submit of a job found `submitting` (after a restart or a
        takeover): once its POST can no longer make a task, unless it is known to have given up."""
        ctx = self._ctx
        config = ctx.config
        if job.task_id is not None:  # left on the row by a deposed scheduler: adopt it now
            ctx.reconcile_at[job.id] = ctx.clock()
            return
        if job.submit_gave_up_at is not None:
            ctx.unclear_at[job.id] = job.submit_gave_up_at
            at = job.submit_gave_up_at + config.reconcile_after_seconds
        else:
            sent = job.submit_started_at or job.updated_at
            at = sent + config.submit_deadline_seconds + config.clock_skew_seconds
        ctx.reconcile_at[job.id] = max(ctx.clock(), at)

    async def reconcile_due(self, now: float) -> None:
        """Reconcile every unclear submit that is due, while its key's query budget has room."""
        ctx = self._ctx
        due = sorted(job_id for job_id, at in ctx.reconcile_at.items() if at <= now)
        spent: set[str] = set()  # keys out of budget: their other jobs wait for it too
        for job_id in due:
            job = await ctx.jobs.get(job_id)
            if job is None or job.state is not JobState.SUBMITTING:
                ctx.reconcile_at.pop(job_id, None)
                continue
            key = ctx.job_keys[job.id]
            if key.name in spent:
                ctx.reconcile_at[job_id] = key.queries.next_free(ctx.clock())
                continue
            try:
                await self._reconcile(job)
            except _OutOfBudget:
                ctx.reconcile_at[job_id] = key.queries.next_free(ctx.clock())
                spent.add(key.name)
            except Deposed:
                raise
            except Exception as error:
                if unreadable(error, ctx.db) and await self._settlement.trouble(
                    job_id, "Reconcile", error
                ):
                    continue
                log.info("Could not reconcile job %s yet (%s)", job_id, error)
                ctx.reconcile_at[job_id] = now + ctx.config.reconcile_after_seconds

    def _query(self, key: KeyState) -> None:
        """Make sure the key's query budget has room for the call about to be sent inside a
        pass (the call takes it), or give up reconciling that key's jobs in this pass."""
        if not key.query_room():
            raise _OutOfBudget

    async def _reconcile(self, job: Job) -> None:
        """Find the task an unclear submit may have created, and adopt it only when it is
        provably this job's: same model, created within the submit's window, by its key (once we
        know that key's id), and reporting this job's prompt. Never guess, never submit twice."""
        ctx = self._ctx
        known = ctx.accepted.get(job.id) or job.task_id
        if known is not None:  # the provider said so when it accepted the submit
            await self._adopt_known(job, known)
            return
        key = ctx.job_keys[job.id]
        now = ctx.clock()
        sent = job.submit_started_at or job.updated_at
        skew = ctx.config.clock_skew_seconds
        deadline = min(sent + ctx.config.submit_deadline_seconds, now)
        if job.id in ctx.unclear_at:
            deadline = min(deadline, ctx.unclear_at[job.id])
        earliest, latest = sent - skew, deadline + skew
        rows = await self._list_window(key, job.model, earliest, latest)
        ours = await ctx.jobs.known_tasks([row.task_id for row in rows])
        # Keys of one account list each other's tasks: learn this key's id from its own only.
        key.ids |= {
            row.api_key_id
            for row in rows
            if row.task_id in ours
            and row.api_key_id
            and ctx.ring.named(ours[row.task_id]) is key.key
        }
        candidates = [
            row
            for row in rows
            if row.task_id not in ours
            and earliest <= (row.gmt_create or 0) / 1000 <= latest
            and (not key.ids or row.api_key_id in key.ids)
        ]
        if not candidates:
            log.info("Job %s never reached the provider; queueing it again", job.id)
            await self._resubmit(job)
            return
        prompt = job.request.prompt or ""
        matches: list[TaskResponse] = []
        unsure: list[str] = []  # no prompt shown: could be ours
        running = False
        for row in candidates:
            self._query(key)
            answer = await key.get_task(row.task_id)
            shown = answer.output.orig_prompt
            if shown is not None:
                if shown == prompt:
                    matches.append(answer)
                continue  # another client's task
            unsure.append(row.task_id)
            running = running or not answer.status.is_final  # its prompt shows when it succeeds
        remaining = [a.task_id for a in matches] + unsure
        if not remaining:
            log.info(
                "Job %s: every task in its window is another client's; submitting again", job.id
            )
            await self._resubmit(job)
        elif len(matches) == 1 and not unsure:
            await self._adopt(job, matches[0], candidates)
        elif running and now - sent < ctx.config.reconcile_give_up_seconds:
            log.info("Job %s: candidates %s have not finished; looking again later", job.id, unsure)
            ctx.reconcile_at[job.id] = now + 3 * ctx.config.reconcile_after_seconds
        else:
            await self._unresolved(job, remaining)

    async def _list_window(
        self, key: KeyState, model: str, earliest: float, latest: float
    ) -> list[TaskSummary]:
        """Every task of `model` the key's account created in the window, across all pages."""
        start = datetime.fromtimestamp(earliest, PROVIDER_TIMEZONE)
        end = datetime.fromtimestamp(latest, PROVIDER_TIMEZONE) + timedelta(seconds=1)
        rows: list[TaskSummary] = []
        for page_no in range(1, _LIST_PAGES_MAX + 1):
            self._query(key)
            page = await key.list_tasks(
                start=start, end=end, model=model, page_no=page_no, page_size=100
            )
            rows += page.data
            if page_no >= page.total_page or not page.data:
                break
        return rows

    async def _resubmit(self, job: Job) -> None:
        """The submit made no task: back to the front of the line, to be sent again."""
        ctx = self._ctx
        async with ctx.writing() as tx:
            job = await ctx.jobs.transition(
                tx, job.id, JobState.QUEUED, detail="submit did not land"
            )
        ctx.reconciled(job.id)
        ctx.job_keys[job.id].release(job.model)
        ctx.requeue(job, None)

    async def _adopt_known(self, job: Job, task_id: str) -> None:
        """The task the provider said it made for this job: record it and poll it from now."""
        ctx = self._ctx
        log.info("Job %s is task %s (accepted earlier, recorded now)", job.id, task_id)
        async with ctx.writing() as tx:
            job = await ctx.jobs.transition(
                tx,
                job.id,
                JobState.PENDING,
                detail="accepted earlier",
                task_id=task_id,
                submitted_at=job.submit_started_at or ctx.clock(),
            )
        ctx.reconciled(job.id)
        self._polling.track(job, next_poll_at=ctx.clock())

    async def _adopt(self, job: Job, answer: TaskResponse, candidates: list[TaskSummary]) -> None:
        """The task is provably this job's: record it and poll it from now."""
        ctx = self._ctx
        row = next(r for r in candidates if r.task_id == answer.task_id)
        log.info("Job %s is task %s (confirmed after an unclear submit)", job.id, answer.task_id)
        async with ctx.writing() as tx:
            await ctx.jobs.record_response(tx, job.id, "list", evidence(row))
            job = await ctx.jobs.transition(
                tx,
                job.id,
                JobState.PENDING,
                detail="found by listing tasks",
                task_id=answer.task_id,
                submitted_at=(row.gmt_create or ctx.clock() * 1000) / 1000,
            )
        ctx.reconciled(job.id)
        self._polling.track(job, next_poll_at=ctx.clock())

    async def _unresolved(self, job: Job, task_ids: list[str]) -> None:
        """Neither ours for sure nor surely not: end refunded rather than guess or pay twice."""
        ctx = self._ctx
        log.error(
            "Job %s: its submit got no clear answer and tasks %s could be its own; "
            "none adopted, nothing submitted again. Check them in the DashScope console.",
            job.id,
            ", ".join(task_ids),
        )
        key = ctx.job_keys[job.id]
        await self._settlement.end(
            job,
            JobState.FAILED,
            failures.SUBMIT_UNCLEAR,
            code="SubmitUnclear",
            message=f"candidate tasks: {', '.join(task_ids)}",
        )
        ctx.reconciled(job.id)
        key.release(job.model)

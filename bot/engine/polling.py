"""Tasks at the provider: which to poll now, when to poll each next, and what its answer means.

A submitted task is tracked until its answer is final, and is asked about with its own key (a
task id belongs to the account that made it). Each pass polls the tasks that are due, oldest
first, as far as each key's query budget allows; the next poll of each comes from the
`PollPlanner` (the optimal schedule for the durations learned, at a price per poll that rises
while the key's budget is shared by many tasks; early probes for a kind never seen, while the
budget has room). A success records what the provider reports (the result link and its expiry,
the billed seconds, the time taken, which the durations learn from) and hands the job to the
result pipeline; any other final answer ends the job refunded.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.dashscope import TaskResponse, TaskStatus
from bot.dashscope.models import PROVIDER_TIMEZONE
from bot.domain.jobs import Job, JobState
from bot.engine import failures
from bot.engine.context import Context, Tracked, each, evidence, unreadable
from bot.engine.key_state import KeyState
from bot.engine.pipeline import Pipeline
from bot.engine.settle import Settlement
from bot.engine.timing import Kind, task_seconds
from storage.leadership import Deposed

log = logging.getLogger(__name__)

_PROVIDER_TIME = "%Y-%m-%d %H:%M:%S.%f"


class Polling:
    """Keeps track of tasks at the provider and polls each when it is due."""

    def __init__(self, ctx: Context, settlement: Settlement, pipeline: Pipeline) -> None:
        self._ctx = ctx
        self._settlement = settlement
        self._pipeline = pipeline

    def track(self, job: Job, *, next_poll_at: float | None = None) -> None:
        """Poll the task of `job` from now on: at `next_poll_at`, else when the planner says."""
        ctx = self._ctx
        assert job.task_id is not None
        submitted_at = job.submitted_at or ctx.clock()
        if next_poll_at is None:
            next_poll_at = ctx.clock() + self._delay(job.kind, 0.0, ctx.place(job))
        ctx.tracked[job.id] = Tracked(
            job_id=job.id,
            task_id=job.task_id,
            key=ctx.place(job),
            kind=job.kind,
            submitted_at=submitted_at,
            status=job.state,
            next_poll_at=next_poll_at,
        )

    def untrack(self, job: Job) -> None:
        """Stop polling the task of `job` and give back its key's slot of its model."""
        self.untrack_id(job.id)

    def untrack_id(self, job_id: int) -> None:
        tracked = self._ctx.tracked.pop(job_id, None)
        if tracked is not None:
            model, _resolution, _duration = tracked.kind
            tracked.key.release(model)

    def expected_end(self, job: Job) -> float | None:
        """When the provider will probably finish `job` (epoch seconds), once it was submitted."""
        tracked = self._ctx.tracked.get(job.id)
        if tracked is None:
            return None
        return tracked.submitted_at + self._ctx.durations.estimate(tracked.kind).median

    async def poll_due(self, now: float) -> None:
        """Poll every task that is due, oldest first, while its key's query budget has room."""
        ctx = self._ctx
        due = sorted(
            (t for t in ctx.tracked.values() if t.next_poll_at <= now),
            key=lambda t: t.next_poll_at,
        )
        # A peek at each key's budget: every poll takes its own place when it is sent.
        room = {t.key: t.key.query_room() for t in due}
        chosen = []
        for tracked in due:
            if room[tracked.key] > 0:
                room[tracked.key] -= 1
                chosen.append(tracked)
        await each(self._poll, chosen)

    def _delay(self, kind: Kind, elapsed: float, key: KeyState) -> float:
        ctx = self._ctx
        estimate = ctx.durations.estimate(kind)
        planner = ctx.config.planner
        sharing = sum(1 for t in ctx.tracked.values() if t.key is key)
        # Probing early costs polls: only for a kind never seen, while few tasks share the budget.
        roomy = sharing <= key.queries.limit * planner.first_probe / 2
        busy = sharing / key.queries.limit
        return planner.next_poll(elapsed, estimate, probe=roomy, busy=busy)

    async def _poll(self, tracked: Tracked) -> None:
        try:
            await self._poll_once(tracked)
        except Deposed:
            raise
        except Exception as error:
            if unreadable(error, self._ctx.db) and await self._settlement.trouble(
                tracked.job_id, "Polling", error
            ):
                return
            log.info("Poll of job %s failed (%s); again shortly", tracked.job_id, error)
            tracked.next_poll_at = self._ctx.clock() + self._ctx.config.planner.dense_interval
        else:
            self._ctx.troubled_since.pop(tracked.job_id, None)

    async def _poll_once(self, tracked: Tracked) -> None:
        """Ask about one task and act on its answer. The job is polled until what the answer
        means is written: a write that fails is tried again at the next poll."""
        ctx = self._ctx
        response = await tracked.key.get_task(tracked.task_id)
        now = ctx.clock()
        status = response.status
        if not status.is_final:
            moved: Job | None = None
            async with ctx.writing() as tx:
                await ctx.jobs.record_response(tx, tracked.job_id, "query", evidence(response))
                job = await ctx.jobs.get_in(tx, tracked.job_id)
                if status is TaskStatus.RUNNING and job.state is JobState.PENDING:
                    job = moved = await ctx.jobs.transition(tx, tracked.job_id, JobState.RUNNING)
            if job.state not in (JobState.PENDING, JobState.RUNNING):
                self.untrack_id(tracked.job_id)  # moved on without this poll (canceled)
                return
            tracked.status = job.state
            elapsed = now - tracked.submitted_at
            tracked.next_poll_at = now + self._delay(tracked.kind, elapsed, tracked.key)
            if moved is not None:
                await self._settlement.progress(moved, expected_end=self.expected_end(moved))
            return

        current = await ctx.jobs.get(tracked.job_id)
        if current is None or current.state not in (JobState.PENDING, JobState.RUNNING):
            self.untrack_id(tracked.job_id)  # ended meanwhile (a cancel): it has said so
            return
        job = current
        if status is TaskStatus.SUCCEEDED and response.output.video_url:
            await self._succeeded(job, response)
            return
        async with ctx.writing() as tx:
            await ctx.jobs.record_response(tx, job.id, "query", evidence(response))
        end = self._settlement.end
        if status is TaskStatus.UNKNOWN:
            await end(job, JobState.EXPIRED, failures.EXPIRED, code="UNKNOWN")
        elif status is TaskStatus.CANCELED:
            await end(job, JobState.CANCELED, failures.CANCELED, code="Canceled")
        else:
            code = response.output.code or status.value
            await end(
                job,
                JobState.FAILED,
                failures.describe(code, response.output.message),
                code=code,
                message=response.output.message,
            )
        self.untrack(job)

    async def _succeeded(self, job: Job, response: TaskResponse) -> None:
        """Record what the finished task reports, learn its duration, and fetch the result."""
        ctx = self._ctx
        url = response.output.video_url
        assert url is not None
        now = ctx.clock()
        ended = _provider_time(response.output.end_time) or now
        seconds, source = task_seconds(
            sent=job.submit_started_at,
            seen=now,
            provider_submit=_provider_time(response.output.submit_time),
            provider_end=_provider_time(response.output.end_time),
        )
        if seconds is None:
            log.info("Job %s: its task's duration is not learned: %s", job.id, source)
        async with ctx.writing() as tx:
            await ctx.jobs.record_response(tx, job.id, "query", evidence(response))
            if seconds is not None:
                await ctx.jobs.record_duration(tx, job.kind, seconds)
            job = await ctx.jobs.transition(
                tx,
                job.id,
                JobState.DOWNLOADING,
                result_url=url,
                result_expires_at=_expires(url) or now + ctx.config.result_ttl_seconds,
                billed_seconds=billed_seconds(response.usage, job.duration),
                provider_finished_at=ended,
            )
            # Held for this process until its status update is out: the delivery, wherever it
            # runs, comes after it.
            await ctx.coordination.hold(tx, ctx.owner, job.id, ctx.config.lease_seconds)
        if seconds is not None:  # learned once: the write is what counts
            log.debug("Job %s took %.1f s by %s", job.id, seconds, source)
            ctx.durations.observe(job.kind, seconds)
            ctx.metrics.task_seconds(job.model, seconds)
        self.untrack(job)
        offered = job
        await self._settlement.progress(job, then=lambda: self._pipeline.offer(offered))


def billed_seconds(usage: dict[str, Any] | None, requested: int) -> int:
    """The seconds the provider bills, from its usage block (the field differs by model family)."""
    for name in ("duration", "video_duration", "output_video_duration"):
        value = usage.get(name) if usage else None
        if isinstance(value, int | float):
            return round(value)
    return requested


def _provider_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, _PROVIDER_TIME).replace(tzinfo=PROVIDER_TIMEZONE).timestamp()
    except ValueError:
        return None


def _expires(url: str) -> float | None:
    values = parse_qs(urlsplit(url).query).get("Expires")
    try:
        return float(values[0]) if values else None
    except ValueError:
        return None

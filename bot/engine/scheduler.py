"""The loop: what each pass does, in what order, and when the next pass falls due.

A pass reconciles unclear submits, polls the tasks that are due, then submits waiting jobs in
fair order. Each job goes only through its own key (its inputs were uploaded with it), as far as
that key's free slots and submit rate for the model allow: a job whose key is full waits while
jobs on other keys go, and the fair order holds among those that can go. Polls, cancels and task
lists share their key's query budget. Each phase, and each job within it, fails alone. Between
passes the loop sleeps until the earliest thing due (a poll, a reconcile, a slot or submit
window opening for a waiting job) or until woken by new work. Places in line are announced to
the first few jobs of each model when they change.

Every `sweep_seconds` a pass begins by finding its jobs again from their rows (sweep.py). Two
jobs that only a shared prompt could tell apart (same key, model and prompt) are never being
submitted at once: if both submits got no clear answer, no task could be proved to be either's.
A write refused because another process took the role over (`Deposed`) ends the loop at once; a
stopping scheduler first lets its submits on their way finish (`stop_grace_seconds`), so that
what they made is recorded rather than reconciled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from bot.domain.jobs import Job
from bot.engine.context import Context, each
from bot.engine.key_state import KeyState
from bot.engine.polling import Polling
from bot.engine.settle import Settlement
from bot.engine.submit import Submitter
from bot.net.tasks import Loops
from storage.leadership import Deposed

log = logging.getLogger(__name__)

# Places in line are kept up to date for the first jobs of each model; further back, a number
# that shifts by one each turn tells nobody much, and each update is a read and an edit.
POSITIONS_SHOWN = 20


class Scheduler:
    """Runs the passes, and holds the waiting line's turns: places shown, what may go now."""

    def __init__(
        self, ctx: Context, settlement: Settlement, submitter: Submitter, polling: Polling
    ) -> None:
        self._ctx = ctx
        self._settlement = settlement
        self._submitter = submitter
        self._polling = polling
        self._shown_position: dict[int, int] = {}  # queued job -> place last shown
        self._seen: set[int] = set()  # every job put in line while leading (never twice)
        self._passes = Loops()  # the one loop of passes, while leading
        self.sweep: Callable[[float], Awaitable[None]] | None = None  # the first phase
        self.deposed = False  # a write was refused: another process schedules now
        self._closing = False  # stopping: no new submits
        self._between_passes = asyncio.Event()

    # -- the loop --------------------------------------------------------------------------------

    def start(self) -> None:
        """Run passes until `stop`."""
        self.deposed = self._closing = False
        self._passes.start(self._run(), "wanbot-engine")

    @property
    def running(self) -> bool:
        return self._passes.running

    async def stop(self, *, grace: float = 0.0) -> None:
        """Stop the loop: after the submits on their way have finished (up to `grace` seconds),
        then cancel what is left of the pass under way."""
        if not self._passes:
            return
        if grace > 0 and self._passes.running:
            self._closing = True
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await self._between_passes.wait()
        await self._passes.stop()

    async def _run(self) -> None:
        ctx = self._ctx
        while True:
            ctx.wake.clear()
            self._between_passes.clear()
            try:
                due = await self.step()
            except Deposed as deposed:
                log.error("Another process schedules now (%s); this one stops scheduling", deposed)
                self.deposed = True
                ctx.news.set()  # the cluster steps down at once
                return
            except Exception:
                log.exception("Engine pass failed; trying again shortly")
                due = ctx.clock() + 5.0
            self._between_passes.set()
            if self._closing:
                return
            timeout = None if due is None else max(0.0, due - ctx.clock())
            with contextlib.suppress(TimeoutError):  # asyncio.timeout: see cluster.py's loop
                async with asyncio.timeout(timeout):
                    await ctx.wake.wait()

    async def step(self) -> float | None:
        """Do the work that is due now; return when more falls due (None: nothing scheduled).
        Raises Deposed when another process took the role over."""
        phases: list[Callable[[float], Awaitable[None]]] = [
            self._submitter.reconcile_due,
            self._polling.poll_due,
            self._submit_due,
        ]
        if self.sweep is not None:
            phases.insert(0, self.sweep)
        for phase in phases:
            try:
                await phase(self._ctx.clock())
            except Deposed:
                raise
            except Exception:
                log.exception("Engine phase %s failed; the other phases go on", _name(phase))
        return self._next_due()

    def _next_due(self) -> float | None:
        ctx = self._ctx
        now = ctx.clock()
        # Overdue only for want of its key's query budget: due when that has room again.
        times = [
            t.next_poll_at if t.next_poll_at > now else t.key.queries.next_free(now)
            for t in ctx.tracked.values()
        ]
        times += [
            at if at > now else ctx.job_keys.get(job_id, ctx.first).queries.next_free(now)
            for job_id, at in ctx.reconcile_at.items()
        ]
        unclear = self._unclear()
        for model in ctx.queue.models():
            ready: dict[KeyState, float] = {}  # key with room -> its first job's earliest turn
            for job_id in ctx.queue.jobs(model):
                key = ctx.job_keys[job_id]
                if ctx.signatures.get(job_id) in unclear:
                    continue  # its turn comes when the other's submit is resolved
                if ctx.has_room(key, model):
                    at = ctx.ready_at.get(job_id, now)
                    ready[key] = min(ready.get(key, at), at)
            for key, at in ready.items():
                times.append(max(ctx.submit_window(key, model).next_free(now), at))
        return min(times) if times else None

    # -- the waiting line ------------------------------------------------------------------------

    def position_for(self, job: Job) -> int:
        """The place `job` would take at the back of its owner's line (0: next)."""
        queue = self._ctx.queue
        if job.id in queue:
            return queue.position(job.id) or 0
        queue.push(job.id, job.model, (job.guild_id, job.user_id))
        try:
            return queue.position(job.id) or 0
        finally:
            queue.remove(job.id)

    def add(self, job: Job) -> int:
        """Put a new job at the back of its owner's line; return its place (0: next)."""
        ctx = self._ctx
        if self._see(job):
            ctx.place(job)
            ctx.queue.push(job.id, job.model, (job.guild_id, job.user_id))
        position = self._shown_position[job.id] = ctx.queue.position(job.id) or 0
        ctx.wake.set()
        return position

    def restore(self, job: Job) -> None:
        """Put a job that was waiting (before a restart, or queued by another process) in line,
        with its backoff. Raises LookupError if its key is no longer configured."""
        if job.id in self._ctx.queue:
            return
        self._ctx.place(job)
        self._see(job)
        self._ctx.queue.push(job.id, job.model, (job.guild_id, job.user_id))
        if job.next_attempt_at:
            self._ctx.ready_at[job.id] = job.next_attempt_at

    def forget(self) -> None:
        """Forget every job seen (stepping down: the next scheduler resumes from the rows)."""
        self._seen.clear()
        self._shown_position.clear()

    def _see(self, job: Job) -> bool:
        """Note `job` as put in line; False if it already was (a job is never queued twice)."""
        if job.id in self._seen:
            return False
        self._seen.add(job.id)
        return True

    def withdraw(self, job_id: int) -> bool:
        """Take a waiting job out of line; return whether it was waiting."""
        if not self._ctx.queue.remove(job_id):
            return False
        self._ctx.ready_at.pop(job_id, None)
        self._shown_position.pop(job_id, None)
        return True

    def _open(self, model: str, now: float) -> set[KeyState]:
        """The keys that may submit a task of `model` now: a free slot and room in the window."""
        ctx = self._ctx
        return {
            key
            for key in ctx.keys.values()
            if ctx.has_room(key, model) and ctx.submit_window(key, model).available(now)
        }

    def _unclear(self) -> set[tuple[str, str, str]]:
        """What the submits on their way, or waiting to be reconciled, can be told apart by."""
        ctx = self._ctx
        busy = ctx.sending | ctx.reconcile_at.keys()
        return {ctx.signatures[job_id] for job_id in busy if job_id in ctx.signatures}

    async def _submit_due(self, now: float) -> None:
        if self._closing:
            return
        ctx = self._ctx
        chosen: list[tuple[int, str]] = []
        unclear = self._unclear()
        for model in ctx.queue.models():
            while open_keys := self._open(model, now):
                job_id = ctx.queue.pop(
                    model,
                    lambda j: (
                        ctx.job_keys[j] in open_keys
                        and ctx.ready_at.get(j, 0.0) <= now
                        and ctx.signatures.get(j) not in unclear
                    ),
                )
                if job_id is None:
                    break
                key = ctx.job_keys[job_id]
                ctx.submit_window(key, model).begin(now)
                key.hold(model)
                ctx.ready_at.pop(job_id, None)
                self._shown_position.pop(job_id, None)
                if job_id in ctx.signatures:
                    unclear.add(ctx.signatures[job_id])
                chosen.append((job_id, model))
        await each(self._submit, chosen)
        if chosen:
            await self._announce_positions()

    async def _submit(self, chosen: tuple[int, str]) -> None:
        """Submit one job. Its place in the submit window is held from now until a second after
        the answer, so however the POST is delayed on its way, no second at the provider sees
        more submits than the window allows."""
        job_id, model = chosen
        ctx = self._ctx
        window = ctx.submit_window(ctx.job_keys[job_id], model)
        try:
            await self._submitter.submit(job_id)
        finally:
            window.end(ctx.clock())

    async def _announce_positions(self) -> None:
        """Tell the first few jobs in each line their new place, when it changed."""
        ctx = self._ctx
        for model in ctx.queue.models():
            for position, job_id in enumerate(ctx.queue.upcoming(model, POSITIONS_SHOWN)):
                if self._shown_position.get(job_id) == position:
                    continue
                self._shown_position[job_id] = position
                job = await ctx.jobs.get(job_id)
                if job is not None:
                    await self._settlement.progress(job, queue_position=position)


def _name(phase: Callable[..., object]) -> str:
    return getattr(phase, "__qualname__", repr(phase))

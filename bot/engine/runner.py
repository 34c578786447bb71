"""The job engine: one asyncio loop that moves every job from queued to delivered.

Each pass (`step`) reconciles uncertain submissions, polls the tasks that are due (within one
shared query budget), and submits waiting jobs in fair order (within each model's concurrency
and submit rate). Each phase, and each job within it, fails alone: one unreadable answer never
stops the others, and a job whose answers stay unreadable ends refunded after a bounded time.
Downloads and deliveries run as tracked background tasks. Every state change is one
transaction; quota is reserved with the job, and committed or refunded with its final state,
so a job is charged or refunded exactly once. After a restart `recover` resumes every
unfinished job from its row.

The engine knows nothing of Discord: it reports through a `Notifier`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.catalog import MODELS
from bot.dashscope import DashScopeClient, DashScopeError, RetryPolicy, TaskResponse, TaskStatus
from bot.dashscope.client import UNREADABLE
from bot.dashscope.models import PROVIDER_TIMEZONE, TaskSummary, without_account
from bot.engine import failures
from bot.engine.delivery import Notifier, Progress
from bot.engine.queue import FairQueue
from bot.engine.schedule import SURE_SAMPLES, DurationModel, PollPlanner, RateWindow
from bot.errors import InvalidInput, WanbotError
from bot.media import probe_video_file
from bot.requests import GenerationRequest
from storage.database import Database
from storage.jobs import AT_PROVIDER, Job, JobState, JobStore, Requester
from storage.quotas import QuotaStore

log = logging.getLogger(__name__)

_PROVIDER_TIME = "%Y-%m-%d %H:%M:%S.%f"
# Places in line are kept up to date for the first jobs of each model; further back, a number
# that shifts by one each turn tells nobody much, and each update is a read and an edit.
POSITIONS_SHOWN = 20
_ONCE = RetryPolicy(attempts=1)
_LIST_PAGES_MAX = 50  # 5,000 tasks of one model in a few minutes: far beyond one key's limits


class QueueFull(WanbotError):
    """The requester already has as many jobs waiting as allowed."""


class _OutOfBudget(Exception):
    """The shared query budget has no room left in this pass."""


@dataclass(frozen=True)
class EngineConfig:
    spool_dir: Path
    concurrency: dict[str, int] = field(default_factory=dict)  # per model; else the catalogue's
    submit_per_second: dict[str, int] = field(
        default_factory=dict
    )  # per model; else the catalogue's
    query_budget_per_second: float = 18.0  # polls + cancels + lists; the account allows 20
    planner: PollPlanner = field(default_factory=PollPlanner)
    max_waiting_per_user: int = 5
    reuse_results: bool = False  # serve an identical fixed-seed request from its earlier result
    retry_base_seconds: float = 2.0  # after a 429 on submit
    retry_max_seconds: float = 60.0
    reconcile_after_seconds: float = 10.0  # after a submit with no clear answer
    # A submit that got no clear answer created its task, if at all, between its send and this
    # long after (the client's connect + read timeouts), give or take the clocks' skew.
    submit_deadline_seconds: float = 90.0
    clock_skew_seconds: float = 5.0
    # How long to wait for candidate tasks to finish (and report their prompt) before giving up.
    reconcile_give_up_seconds: float = 3_600.0
    unreadable_give_up_seconds: float = 120.0  # answers about a job that cannot be read
    result_ttl_seconds: float = 86_400.0


@dataclass(frozen=True)
class CancelOutcome:
    canceled: bool
    message: str


@dataclass
class _Tracked:
    """A task at the provider that we poll."""

    job_id: int
    task_id: str
    kind: tuple[str, str, int]
    submitted_at: float
    status: JobState
    next_poll_at: float


class Engine:
    def __init__(
        self,
        *,
        db: Database,
        jobs: JobStore,
        quotas: QuotaStore,
        client: DashScopeClient,
        notifier: Notifier,
        config: EngineConfig,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._jobs = jobs
        self._quotas = quotas
        self._client = client  # retries transient failures itself: downloads, cancels, lists
        self._once = client.with_retry(_ONCE)  # submits and polls: the engine decides what next
        self._notifier = notifier
        self.config = config
        self._clock = clock
        self._queue = FairQueue()
        self._ready_at: dict[int, float] = {}  # queued job -> earliest next submit (after a 429)
        self._tracked: dict[int, _Tracked] = {}
        self._reconcile_at: dict[int, float] = {}  # submitting job -> when to look it up
        self._unclear_at: dict[int, float] = {}  # submitting job -> when its submit gave up
        self._troubled_since: dict[int, float] = {}  # job -> first of its unreadable answers
        self._key_ids: set[str] = set()  # our API key's id, learned from our own tasks' rows
        self._busy: dict[str, int] = {}  # model -> tasks at the provider (or maybe there)
        self._submits: dict[str, RateWindow] = {}
        self._queries = RateWindow(config.query_budget_per_second)
        self.durations = DurationModel()
        self._shown_position: dict[int, int] = {}  # queued job -> place last shown
        self._background: set[asyncio.Task[Any]] = set()
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Resume unfinished jobs, then run the loop until `stop`."""
        await self.recover()
        self._loop = asyncio.create_task(self._run(), name="wanbot-engine")

    async def stop(self) -> None:
        """Stop the loop and background work; unfinished jobs resume on the next start."""
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def settle(self) -> None:
        """Wait until no download or delivery is in progress (tests and the CLI use it)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                due = await self.step()
            except Exception:
                log.exception("Engine pass failed; trying again shortly")
                due = self._clock() + 5.0
            timeout = None if due is None else max(0.0, due - self._clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._background.add(task)

        def finished(done: asyncio.Task[Any]) -> None:
            self._background.discard(done)
            self._wake.set()
            if not done.cancelled() and done.exception() is not None:
                log.error("%s failed", name, exc_info=done.exception())

        task.add_done_callback(finished)

    # -- what people ask for ---------------------------------------------------------------------

    async def enqueue(
        self,
        request: GenerationRequest,
        requester: Requester,
        *,
        dedup_key: str | None = None,
        exempt: bool = False,
    ) -> Job:
        """Reserve quota and queue `request` (inputs already staged); raise QuotaExceeded or QueueFull."""
        owner = (requester.guild_id, requester.user_id)
        if self._queue.waiting(owner) >= self.config.max_waiting_per_user:
            raise QueueFull(
                f"You already have {self._queue.waiting(owner)} videos waiting; "
                "wait for one to start before asking for more."
            )
        now = self._clock()
        earlier = None
        if dedup_key and self.config.reuse_results and request.seed is not None:
            earlier = await self._jobs.reusable(dedup_key, now)
        async with self._db.transaction() as tx:
            if earlier is not None:
                job_id = await self._jobs.create(
                    tx,
                    requester=requester,
                    request=request,
                    reserved_seconds=0,
                    state=JobState.DOWNLOADING,
                    dedup_key=dedup_key,
                    reused_job_id=earlier.id,
                    result_url=earlier.result_url,
                    result_expires_at=earlier.result_expires_at,
                    billed_seconds=0,
                )
                job = await self._jobs.get_in(tx, job_id)
            else:
                seconds = request.resolved_duration
                job_id = await self._jobs.create(
                    tx,
                    requester=requester,
                    request=request,
                    reserved_seconds=seconds,
                    dedup_key=dedup_key,
                )
                await self._quotas.reserve(
                    tx,
                    guild_id=requester.guild_id,
                    user_id=requester.user_id,
                    role_ids=requester.role_ids,
                    seconds=seconds,
                    job_id=job_id,
                    exempt=exempt,
                )
                job = await self._jobs.get_in(tx, job_id)
        position = None
        if earlier is not None:
            self._spawn(self._download(job), f"download job {job.id}")
        else:
            self._queue.push(job.id, job.model, owner)
            position = self._shown_position[job.id] = self._queue.position(job.id) or 0
            self._wake.set()
        await self._progress(job, queue_position=position)
        return job

    async def cancel(self, job_id: int) -> CancelOutcome:
        """Cancel a job if it can still be stopped; say what happened either way."""
        job = await self._jobs.get(job_id)
        if job is None:
            raise InvalidInput(f"There is no job #{job_id}.", field="job")
        if job.state is JobState.QUEUED and self._queue.remove(job.id):
            self._ready_at.pop(job.id, None)
            self._shown_position.pop(job.id, None)
            await self._end(job, JobState.CANCELED, failures.CANCELED, code="Canceled")
            return CancelOutcome(
                True, f"Canceled job #{job.id} before it started. Nothing was charged."
            )
        if job.state is JobState.PENDING and job.task_id:
            return await self._cancel_at_provider(job, job.task_id)
        if job.state in (JobState.QUEUED, JobState.SUBMITTING):
            return CancelOutcome(
                False,
                f"Job #{job.id} is being sent to the provider right now; try again in a moment.",
            )
        return _cannot_cancel(job)

    async def _cancel_at_provider(self, job: Job, task_id: str) -> CancelOutcome:
        """Send the cancel once; if its answer is lost, ask the task how it stands."""
        await self._query_slot()
        try:
            await self._once.cancel(task_id)
        except DashScopeError as error:
            if error.unclear:
                return await self._cancel_unclear(job, task_id, error)
            current = await self._jobs.get(job.id) or job
            if current.state is JobState.CANCELED:
                return _canceled(current)  # a poll saw it canceled first
            if error.code == "UnsupportedOperation":  # no longer PENDING
                return _cannot_cancel(current)
            return CancelOutcome(
                False, f"The provider refused to cancel job #{job.id}: {error.message}"
            )
        await self._canceled_at_provider(job)
        return _canceled(job)

    async def _cancel_unclear(self, job: Job, task_id: str, error: DashScopeError) -> CancelOutcome:
        log.warning("Cancel of job %s got no clear answer (%s); asking the task", job.id, error)
        await self._query_slot()
        try:
            answer = await self._once.get_task(task_id)
        except DashScopeError:
            return CancelOutcome(
                False, f"Could not reach the provider to cancel job #{job.id}; try again shortly."
            )
        if answer.status is TaskStatus.CANCELED:
            await self._canceled_at_provider(job)
            return _canceled(job)
        current = await self._jobs.get(job.id) or job
        return _cannot_cancel(current)

    async def _canceled_at_provider(self, job: Job) -> None:
        self._untrack(job)
        self._troubled_since.pop(job.id, None)
        await self._end(job, JobState.CANCELED, failures.CANCELED, code="Canceled")

    async def _query_slot(self) -> None:
        """Wait briefly for room in the shared query budget (cancels count like polls); a
        member is waiting, so after a second the call goes ahead anyway."""
        now = self._clock()
        if not self._queries.take(now):
            await asyncio.sleep(min(1.0, max(0.0, self._queries.next_free(now) - now)))
            self._queries.take(self._clock())

    def waiting(self, guild_id: int | None, user_id: int) -> int:
        """How many jobs this member has waiting (the engine refuses more than the cap)."""
        return self._queue.waiting((guild_id, user_id))

    def queue_position(self, job_id: int) -> int | None:
        return self._queue.position(job_id)

    def expected_end(self, job: Job) -> float | None:
        """When the provider will probably finish `job` (epoch seconds), once it was submitted."""
        tracked = self._tracked.get(job.id)
        if tracked is None:
            return None
        return tracked.submitted_at + self.durations.estimate(tracked.kind).median

    # -- one pass --------------------------------------------------------------------------------

    async def step(self) -> float | None:
        """Do the work that is due now; return when more falls due (None: nothing scheduled)."""
        for phase in (self._reconcile_due, self._poll_due, self._submit_due):
            try:
                await phase(self._clock())
            except Exception:
                log.exception("Engine phase %s failed; the other phases go on", phase.__name__)
        return self._next_due()

    async def _each(
        self, work: Callable[[Any], Coroutine[Any, Any, None]], items: list[Any]
    ) -> None:
        """Run `work` on every item at once; one item's failure is logged and stays its own."""
        results = await asyncio.gather(*(work(item) for item in items), return_exceptions=True)
        for item, result in zip(items, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result  # cancellation, exit: not one job's trouble
            if isinstance(result, Exception):
                log.error("%s of %s failed", work.__name__, item, exc_info=result)

    async def _trouble(self, job_id: int, what: str, error: BaseException) -> bool:
        """Note an unreadable answer (or a bug) about a job; end it refunded once that has gone
        on for too long. Return whether it ended."""
        now = self._clock()
        since = self._troubled_since.setdefault(job_id, now)
        log.warning("%s of job %s: unreadable answer or error (%s)", what, job_id, error)
        if now - since < self.config.unreadable_give_up_seconds:
            return False
        self._reconciled(job_id)
        job = await self._jobs.get(job_id)
        if job is None:
            return True
        if self._tracked.pop(job_id, None) is not None or job.state is JobState.SUBMITTING:
            self._release(job.model)
        log.error("Giving up on job %s after %.0f s of unreadable answers", job_id, now - since)
        await self._end(
            job, JobState.FAILED, failures.UNREADABLE, code="Unreadable", message=str(error)
        )
        return True

    def _next_due(self) -> float | None:
        now = self._clock()
        times = [t.next_poll_at for t in self._tracked.values()]
        times += list(self._reconcile_at.values())
        if times and min(times) <= now:
            times.append(self._queries.next_free(now))  # overdue only for want of budget
            times = [t for t in times if t > now] or [now]
        for model in self._queue.models():
            if self._busy.get(model, 0) < self._concurrency(model):
                window_free = self._submit_window(model).next_free(now)
                ready = min(self._ready_at.get(j, now) for j in self._queue.jobs(model))
                times.append(max(window_free, ready))
        return min(times) if times else None

    # -- submitting ------------------------------------------------------------------------------

    def _concurrency(self, model: str) -> int:
        return self.config.concurrency.get(model, MODELS[model].concurrency)

    def _submit_window(self, model: str) -> RateWindow:
        if model not in self._submits:
            limit = self.config.submit_per_second.get(model, MODELS[model].submit_per_second)
            self._submits[model] = RateWindow(limit)
        return self._submits[model]

    async def _submit_due(self, now: float) -> None:
        chosen: list[int] = []
        for model in self._queue.models():
            window = self._submit_window(model)
            while self._busy.get(model, 0) < self._concurrency(model) and window.available(now):
                job_id = self._queue.pop(model, lambda j: self._ready_at.get(j, 0.0) <= now)
                if job_id is None:
                    break
                window.take(now)
                self._busy[model] = self._busy.get(model, 0) + 1
                self._ready_at.pop(job_id, None)
                chosen.append(job_id)
        await self._each(self._submit, chosen)
        if chosen:
            await self._announce_positions()

    async def _announce_positions(self) -> None:
        """Tell the first few jobs in each line their new place, when it changed."""
        for model in self._queue.models():
            for position, job_id in enumerate(self._queue.upcoming(model, POSITIONS_SHOWN)):
                if self._shown_position.get(job_id) == position:
                    continue
                self._shown_position[job_id] = position
                job = await self._jobs.get(job_id)
                if job is not None:
                    await self._progress(job, queue_position=position)

    async def _submit(self, job_id: int) -> None:
        self._shown_position.pop(job_id, None)
        job = await self._jobs.get(job_id)
        assert job is not None and job.state is JobState.QUEUED
        now = self._clock()
        async with self._db.transaction() as tx:
            job = await self._jobs.transition(
                tx, job.id, JobState.SUBMITTING, submit_started_at=now, attempts=job.attempts + 1
            )
        try:
            response = await self._once.submit(job.request)
        except DashScopeError as error:
            await self._submit_failed(job, error)
            return
        except Exception as error:  # a bug here must not lose a task that may exist
            log.exception("Submit of job %s failed unexpectedly; reconciling", job.id)
            await self._submit_failed(job, DashScopeError(None, "Unexpected", repr(error)))
            return
        async with self._db.transaction() as tx:
            await self._jobs.record_response(tx, job.id, "submit", _evidence(response))
            job = await self._jobs.transition(
                tx, job.id, JobState.PENDING, task_id=response.task_id, submitted_at=self._clock()
            )
        self._track(job, next_poll_at=self._clock() + self._poll_delay(job, 0.0))
        await self._progress(job, expected_end=self.expected_end(job))

    async def _submit_failed(self, job: Job, error: DashScopeError) -> None:
        if error.status == 429:
            # Throttled: the task was not created. Back in line, after a backoff.
            delay = min(
                self.config.retry_base_seconds * 2 ** (job.attempts - 1),
                self.config.retry_max_seconds,
            )
            ready = self._clock() + delay
            async with self._db.transaction() as tx:
                job = await self._jobs.transition(
                    tx, job.id, JobState.QUEUED, detail=error.code, next_attempt_at=ready
                )
            self._release(job.model)
            self._requeue(job, ready)
            await self._progress(job, note="The provider is busy; trying again shortly.")
        elif error.unclear:
            # No clear answer: the task may exist. Look for it before submitting again.
            log.warning("Submit of job %s unclear (%s); reconciling", job.id, error)
            self._unclear_at[job.id] = self._clock()
            self._reconcile_at[job.id] = self._clock() + self.config.reconcile_after_seconds
        else:
            self._release(job.model)
            async with self._db.transaction() as tx:
                await self._jobs.record_response(tx, job.id, "submit", _error_evidence(error))
            await self._end(
                job,
                JobState.FAILED,
                failures.describe(error.code, error.message),
                code=error.code,
                message=error.message,
            )

    def _requeue(self, job: Job, ready_at: float | None) -> None:
        self._queue.push(job.id, job.model, (job.guild_id, job.user_id), front=True)
        if ready_at is not None:
            self._ready_at[job.id] = ready_at

    def _release(self, model: str) -> None:
        self._busy[model] = max(0, self._busy.get(model, 0) - 1)

    # -- reconciling unclear submissions -----------------------------------------------------------

    async def _reconcile_due(self, now: float) -> None:
        due = sorted(job_id for job_id, at in self._reconcile_at.items() if at <= now)
        for job_id in due:
            job = await self._jobs.get(job_id)
            if job is None or job.state is not JobState.SUBMITTING:
                self._reconcile_at.pop(job_id, None)
                continue
            try:
                await self._reconcile(job)
            except _OutOfBudget:
                self._reconcile_at[job_id] = self._queries.next_free(self._clock())
                return  # the rest wait for the budget too
            except Exception as error:
                if _unreadable(error) and await self._trouble(job_id, "Reconcile", error):
                    continue
                log.info("Could not reconcile job %s yet (%s)", job_id, error)
                self._reconcile_at[job_id] = now + self.config.reconcile_after_seconds

    def _query(self) -> None:
        """Take a place in the shared query budget for a call made inside a pass, or give up
        the pass's reconciling until there is room."""
        if not self._queries.take(self._clock()):
            raise _OutOfBudget

    async def _reconcile(self, job: Job) -> None:
        """Find the task an unclear submit may have created, and adopt it only when it is
        provably this job's: same model, created within the submit's window, by our key (once we
        know its id), and reporting this job's prompt. Never guess, never submit twice."""
        now = self._clock()
        sent = job.submit_started_at or job.updated_at
        skew = self.config.clock_skew_seconds
        deadline = min(sent + self.config.submit_deadline_seconds, now)
        if job.id in self._unclear_at:
            deadline = min(deadline, self._unclear_at[job.id])
        earliest, latest = sent - skew, deadline + skew
        rows = await self._list_window(job.model, earliest, latest)
        known = await self._jobs.known_task_ids([row.task_id for row in rows])
        self._key_ids |= {row.api_key_id for row in rows if row.task_id in known and row.api_key_id}
        candidates = [
            row
            for row in rows
            if row.task_id not in known
            and earliest <= (row.gmt_create or 0) / 1000 <= latest
            and (not self._key_ids or row.api_key_id in self._key_ids)
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
            self._query()
            answer = await self._once.get_task(row.task_id)
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
        elif running and now - sent < self.config.reconcile_give_up_seconds:
            log.info("Job %s: candidates %s have not finished; looking again later", job.id, unsure)
            self._reconcile_at[job.id] = now + 3 * self.config.reconcile_after_seconds
        else:
            await self._unresolved(job, remaining)

    async def _list_window(self, model: str, earliest: float, latest: float) -> list[TaskSummary]:
        """Every task of `model` created in the window, across all pages."""
        start = datetime.fromtimestamp(earliest, PROVIDER_TIMEZONE)
        end = datetime.fromtimestamp(latest, PROVIDER_TIMEZONE) + timedelta(seconds=1)
        rows: list[TaskSummary] = []
        for page_no in range(1, _LIST_PAGES_MAX + 1):
            self._query()
            page = await self._once.list_tasks(
                start=start, end=end, model=model, page_no=page_no, page_size=100
            )
            rows += page.data
            if page_no >= page.total_page or not page.data:
                break
        return rows

    def _reconciled(self, job_id: int) -> None:
        """Forget what was kept while a job's submit was unclear."""
        self._reconcile_at.pop(job_id, None)
        self._unclear_at.pop(job_id, None)
        self._troubled_since.pop(job_id, None)

    async def _resubmit(self, job: Job) -> None:
        self._reconciled(job.id)
        async with self._db.transaction() as tx:
            job = await self._jobs.transition(
                tx, job.id, JobState.QUEUED, detail="submit did not land"
            )
        self._release(job.model)
        self._requeue(job, None)

    async def _adopt(self, job: Job, answer: TaskResponse, candidates: list[TaskSummary]) -> None:
        self._reconciled(job.id)
        row = next(r for r in candidates if r.task_id == answer.task_id)
        log.info("Job %s is task %s (confirmed after an unclear submit)", job.id, answer.task_id)
        async with self._db.transaction() as tx:
            await self._jobs.record_response(tx, job.id, "list", _evidence(row))
            job = await self._jobs.transition(
                tx,
                job.id,
                JobState.PENDING,
                detail="found by listing tasks",
                task_id=answer.task_id,
                submitted_at=(row.gmt_create or self._clock() * 1000) / 1000,
            )
        self._track(job, next_poll_at=self._clock())

    async def _unresolved(self, job: Job, task_ids: list[str]) -> None:
        """Neither ours for sure nor surely not: end refunded rather than guess or pay twice."""
        self._reconciled(job.id)
        log.error(
            "Job %s: its submit got no clear answer and tasks %s could be its own; "
            "none adopted, nothing submitted again. Check them in the DashScope console.",
            job.id,
            ", ".join(task_ids),
        )
        self._release(job.model)
        await self._end(
            job,
            JobState.FAILED,
            failures.SUBMIT_UNCLEAR,
            code="SubmitUnclear",
            message=f"candidate tasks: {', '.join(task_ids)}",
        )

    # -- polling ---------------------------------------------------------------------------------

    def _track(self, job: Job, *, next_poll_at: float) -> None:
        assert job.task_id is not None
        self._tracked[job.id] = _Tracked(
            job_id=job.id,
            task_id=job.task_id,
            kind=job.kind,
            submitted_at=job.submitted_at or self._clock(),
            status=job.state,
            next_poll_at=next_poll_at,
        )

    def _untrack(self, job: Job) -> None:
        if self._tracked.pop(job.id, None) is not None:
            self._release(job.model)

    def _poll_delay(self, job: Job | _Tracked, elapsed: float) -> float:
        kind = job.kind
        estimate = self.durations.estimate(kind)
        # Probing early costs polls: only while unsure, and while few tasks share the budget.
        roomy = (
            len(self._tracked)
            <= self.config.query_budget_per_second * self.config.planner.first_probe / 2
        )
        probe = estimate.samples < SURE_SAMPLES and roomy
        return self.config.planner.next_poll(elapsed, estimate, probe=probe)

    async def _poll_due(self, now: float) -> None:
        due = sorted(
            (t for t in self._tracked.values() if t.next_poll_at <= now),
            key=lambda t: t.next_poll_at,
        )
        chosen = []
        for tracked in due:
            if not self._queries.take(now):
                break
            chosen.append(tracked)
        await self._each(self._poll, chosen)

    async def _poll(self, tracked: _Tracked) -> None:
        try:
            await self._poll_once(tracked)
        except Exception as error:
            if _unreadable(error) and await self._trouble(tracked.job_id, "Polling", error):
                return
            log.info("Poll of job %s failed (%s); again shortly", tracked.job_id, error)
            tracked.next_poll_at = self._clock() + self.config.planner.dense_interval
        else:
            self._troubled_since.pop(tracked.job_id, None)

    async def _poll_once(self, tracked: _Tracked) -> None:
        response = await self._once.get_task(tracked.task_id)
        now = self._clock()
        status = response.status
        if not status.is_final:
            state = JobState.RUNNING if status is TaskStatus.RUNNING else tracked.status
            async with self._db.transaction() as tx:
                await self._jobs.record_response(tx, tracked.job_id, "query", _evidence(response))
                if state is not tracked.status:
                    job = await self._jobs.transition(tx, tracked.job_id, state)
                else:
                    job = None
            tracked.status = state
            tracked.next_poll_at = now + self._poll_delay(tracked, now - tracked.submitted_at)
            if job is not None:
                await self._progress(job, expected_end=self.expected_end(job))
            return

        job = await self._jobs.get(tracked.job_id)
        assert job is not None
        self._untrack(job)
        if job.state.is_final:
            return  # canceled meanwhile: the cancel has said so
        if status is TaskStatus.SUCCEEDED and response.output.video_url:
            await self._succeeded(job, response)
            return
        async with self._db.transaction() as tx:
            await self._jobs.record_response(tx, job.id, "query", _evidence(response))
        if status is TaskStatus.UNKNOWN:
            await self._end(job, JobState.EXPIRED, failures.EXPIRED, code="UNKNOWN")
        elif status is TaskStatus.CANCELED:
            await self._end(job, JobState.CANCELED, failures.CANCELED, code="Canceled")
        else:
            code = response.output.code or status.value
            await self._end(
                job,
                JobState.FAILED,
                failures.describe(code, response.output.message),
                code=code,
                message=response.output.message,
            )

    async def _succeeded(self, job: Job, response: TaskResponse) -> None:
        url = response.output.video_url
        assert url is not None
        now = self._clock()
        started = _provider_time(response.output.submit_time) or job.submitted_at or now
        ended = _provider_time(response.output.end_time) or now
        self.durations.observe(job.kind, ended - started)
        async with self._db.transaction() as tx:
            await self._jobs.record_response(tx, job.id, "query", _evidence(response))
            await self._jobs.record_duration(tx, job.kind, ended - started)
            job = await self._jobs.transition(
                tx,
                job.id,
                JobState.DOWNLOADING,
                result_url=url,
                result_expires_at=_expires(url) or now + self.config.result_ttl_seconds,
                billed_seconds=billed_seconds(response.usage, job.duration),
                provider_finished_at=ended,
            )
        await self._progress(job)
        self._spawn(self._download(job), f"download job {job.id}")

    # -- downloading and delivering ----------------------------------------------------------------

    def _spool_path(self, job: Job) -> Path:
        return self.config.spool_dir / f"job-{job.id}.mp4"

    async def _download(self, job: Job) -> None:
        """Fetch the result to the spool, check it plays, then deliver it."""
        assert job.result_url is not None
        path = self._spool_path(job)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            await self._client.download(job.result_url, path)
        except DashScopeError as error:
            expired = error.status in (403, 404)
            await self._end(
                job,
                JobState.EXPIRED if expired else JobState.FAILED,
                failures.RESULT_EXPIRED
                if expired
                else failures.describe(error.code, error.message),
                code=error.code,
                message=error.message,
            )
            return
        try:
            await asyncio.to_thread(probe_video_file, path)
        except InvalidInput:
            path.unlink(missing_ok=True)
            await self._end(job, JobState.FAILED, failures.UNPLAYABLE, code="Unplayable")
            return
        async with self._db.transaction() as tx:
            job = await self._jobs.transition(
                tx, job.id, JobState.DELIVERING, delivery_started_at=self._clock()
            )
        await self._deliver(job, path)

    async def _deliver(self, job: Job, path: Path) -> None:
        try:
            message_id = await self._notifier.deliver(job, path)
        except Exception as error:
            log.exception("Delivering job %s failed", job.id)
            path.unlink(missing_ok=True)
            await self._end(
                job,
                JobState.FAILED,
                "The video was made but could not be posted. Nothing was charged.",
                code="DeliveryFailed",
                message=str(error),
            )
            return
        await self._delivered(job, message_id)
        path.unlink(missing_ok=True)

    async def _delivered(self, job: Job, message_id: int | None) -> None:
        async with self._db.transaction() as tx:
            job = await self._jobs.transition(
                tx, job.id, JobState.DELIVERED, delivered_message_id=message_id
            )
            if job.reused_job_id is None:
                # No usage block from the provider: charge what was reserved, not nothing.
                billed = job.reserved_seconds if job.billed_seconds is None else job.billed_seconds
                await self._quotas.commit(tx, job_id=job.id, billed_seconds=billed)
        await self._progress(job)

    async def _resume_delivery(self, job: Job) -> None:
        """After a restart in `delivering`: never post twice; fetch again if the file is gone."""
        message_id = await self._notifier.delivered_message(job)
        if message_id is not None:
            await self._delivered(job, message_id)
            self._spool_path(job).unlink(missing_ok=True)
            return
        path = self._spool_path(job)
        if not path.exists():
            assert job.result_url is not None
            try:
                await self._client.download(job.result_url, path)
            except DashScopeError as error:
                await self._end(job, JobState.FAILED, failures.RESULT_EXPIRED, code=error.code)
                return
        await self._deliver(job, path)

    # -- endings ---------------------------------------------------------------------------------

    async def _end(
        self,
        job: Job,
        state: JobState,
        reason: str,
        *,
        code: str | None = None,
        message: str | None = None,
    ) -> None:
        """Finish a job without a video: refund its reservation and tell the requester. A job
        that has ended meanwhile (a cancel and a poll at once) is left as it is."""
        async with self._db.transaction() as tx:
            if (await self._jobs.get_in(tx, job.id)).state.is_final:
                return
            job = await self._jobs.transition(
                tx, job.id, state, detail=code, error_code=code, error_message=message or reason
            )
            if job.reused_job_id is None:  # a reused result reserved nothing
                await self._quotas.refund(tx, job_id=job.id, reason=code or state.value)
        self._spool_path(job).unlink(missing_ok=True)
        await self._safely(self._notifier.fail(job, reason), job)

    async def _progress(self, job: Job, **details: Any) -> None:
        update = Progress(state=job.state, elapsed=self._clock() - job.created_at, **details)
        await self._safely(self._notifier.progress(job, update), job)

    async def _safely(self, call: Coroutine[Any, Any, Any], job: Job) -> None:
        """A notifier failure must not stop the engine; it is logged with the job id."""
        try:
            await call
        except Exception:
            log.exception("Notifier failed for job %s", job.id)

    # -- restart ---------------------------------------------------------------------------------

    async def recover(self) -> None:
        """Load what was learned and resume every unfinished job from its row."""
        self.durations.load(await self._jobs.durations())
        now = self._clock()
        for job in await self._jobs.unfinished():
            if job.state in AT_PROVIDER:
                self._busy[job.model] = self._busy.get(job.model, 0) + 1
            if job.state is JobState.QUEUED:
                self._queue.push(job.id, job.model, (job.guild_id, job.user_id))
                if job.next_attempt_at:
                    self._ready_at[job.id] = job.next_attempt_at
            elif job.state is JobState.SUBMITTING:
                self._reconcile_at[job.id] = now
            elif job.state in (JobState.PENDING, JobState.RUNNING):
                self._track(job, next_poll_at=now)
            elif job.state is JobState.DOWNLOADING:
                self._spawn(self._download(job), f"download job {job.id}")
            elif job.state is JobState.DELIVERING:
                self._spawn(self._resume_delivery(job), f"resume delivery of job {job.id}")
        log.info(
            "Recovered %d queued, %d at the provider, %d to finish",
            len(self._queue),
            len(self._tracked) + len(self._reconcile_at),
            len(self._background),
        )


def billed_seconds(usage: dict[str, Any] | None, requested: int) -> int:
    """The seconds the provider bills, from its usage block (the field differs by model family)."""
    for name in ("duration", "video_duration", "output_video_duration"):
        if usage and isinstance(usage.get(name), int | float):
            return round(usage[name])
    return requested


def _unreadable(error: Exception) -> bool:
    """An answer that could not be read, or a bug: unlike a network failure, waiting will not
    mend it, so it counts toward giving up on the job."""
    return not isinstance(error, DashScopeError) or error.code == UNREADABLE


def _canceled(job: Job) -> CancelOutcome:
    return CancelOutcome(True, f"Canceled job #{job.id}. Nothing was charged.")


def _cannot_cancel(job: Job) -> CancelOutcome:
    """What a cancel answers for a job past the point where it can be stopped."""
    if job.state is JobState.CANCELED:
        return CancelOutcome(True, f"Job #{job.id} was already canceled. Nothing was charged.")
    if job.state in (JobState.PENDING, JobState.RUNNING):
        return CancelOutcome(
            False,
            f"Job #{job.id} is already being made; the provider cannot stop it now. "
            "It will be delivered (and counted) when it is ready.",
        )
    if job.state in (JobState.DOWNLOADING, JobState.DELIVERING):
        return CancelOutcome(False, f"Job #{job.id} is finished and on its way.")
    return CancelOutcome(False, f"Job #{job.id} has already ended ({job.state.value}).")


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


def _evidence(answer: TaskResponse | TaskSummary) -> dict[str, Any]:
    """An answer as kept for the record: as received, less the account's identifiers."""
    body: dict[str, Any] = without_account(answer.model_dump(mode="json", exclude_unset=True))
    return body


def _error_evidence(error: DashScopeError) -> dict[str, Any]:
    return {
        "status": error.status,
        "code": error.code,
        "message": error.message,
        "request_id": error.request_id,
    }

"""What the engine's pieces share: its settings, its stores and clock, and what it holds in memory.

No piece keeps a reference to another's insides or to `Engine`: each is handed this context.
It holds the waiting line (with when a throttled job may go again), each DashScope key's state
(its clients, slots per model, submit rates and query budget: `KeyState`) and which key each
job goes through, the tasks being polled, the submits being reconciled, and the durations
learned. Each is changed by the piece whose job it is; the others only read it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bot.dashscope import DashScopeError, TaskResponse
from bot.dashscope.client import UNREADABLE
from bot.dashscope.models import TaskSummary, without_account
from bot.domain.catalog import RETIRED
from bot.domain.jobs import Job, JobState
from bot.engine.key_ring import KeyRing
from bot.engine.key_state import KeyState
from bot.engine.metrics import Metrics, NoMetrics
from bot.engine.notifier import Notifier
from bot.engine.queue import FairQueue
from bot.engine.timing import DurationModel, Kind, PollPlanner, RateWindow
from bot.media.pools import MediaWorkers
from bot.net.retry import RetryPolicy
from storage.coordination import Coordination, LeaseLost
from storage.database import Database, Transaction
from storage.jobs import JobStore
from storage.leadership import Deposed, Leadership
from storage.quotas import QuotaStore

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class EngineConfig:
    spool_dir: Path
    # Members' inputs kept for Retry and Remix (bot/engine/inputs.py), swept on the ticks; None:
    # nothing kept here.
    inputs_dir: Path | None = None
    input_days: int = 7
    concurrency: dict[str, int] = field(default_factory=dict)  # per model; else the catalogue's
    submit_per_second: dict[str, int] = field(
        default_factory=dict
    )  # per model; else the catalogue's
    query_budget_per_second: float = 18.0  # polls + cancels + lists per key; an account allows 20
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
    # Several processes: deliveries this process carries at once, how long its claim on one
    # (and the scheduler's term) lasts unless renewed, and how often it looks for work and for
    # the scheduler's lock.
    delivery_slots: int = 4
    lease_seconds: float = 20.0
    tick_seconds: float = 2.0
    sweep_seconds: float = 15.0  # how often the scheduler finds its jobs again from their rows
    stop_grace_seconds: float = 5.0  # a stopping scheduler waits this long for its submits
    # Models no longer made (the catalogue's and the operator's): a queued job for one ends
    # refunded when its turn comes, rather than be sent.
    retired_models: frozenset[str] = RETIRED

    @property
    def renew_seconds(self) -> float:
        """How often leases and the scheduler's term are renewed: a few times per lease."""
        return min(self.tick_seconds, self.lease_seconds / 3)

    # Evidence and events of jobs that ended longer ago than this are deleted, and quota-ledger
    # rows no report shows any more (storage/retention.py); 0 keeps everything.
    retention_days: int = 90

    @property
    def resubmit_backoff(self) -> RetryPolicy:
        """The wait before a throttled job's next submit: doubling, capped, no jitter (the
        job keeps its place at the front of its line, so there is no herd to spread)."""
        return RetryPolicy(
            base_delay=self.retry_base_seconds, max_delay=self.retry_max_seconds, jitter=False
        )


@dataclass
class Tracked:
    """A task at the provider that we poll."""

    job_id: int
    task_id: str
    key: KeyState  # the task belongs to this key's account
    kind: Kind
    submitted_at: float
    status: JobState
    next_poll_at: float


@dataclass
class Context:
    """The stores, clients, clock and settings every piece uses, and the engine's memory."""

    db: Database
    jobs: JobStore
    quotas: QuotaStore
    ring: KeyRing  # the configured keys, and the choice of one for a new job
    notifier: Notifier
    config: EngineConfig  # replaceable while running (tests change limits on a live engine)
    clock: Callable[[], float]
    workers: MediaWorkers  # probing results off the event loop
    coordination: Coordination  # leases, cancel requests, jobs queued by other processes
    leadership: Leadership  # the scheduler's term
    owner: str  # this engine's name on the leases it holds
    # The scheduler's generation while this process leads (None: it does not, or its caller
    # steps it without the cluster): every scheduler write checks it (see `writing`).
    term: int | None = None
    metrics: Metrics = field(default_factory=NoMetrics)  # what an operator's metrics are told
    durations: DurationModel = field(default_factory=DurationModel)
    queue: FairQueue = field(default_factory=FairQueue)
    ready_at: dict[int, float] = field(default_factory=dict)  # queued job -> earliest next submit
    keys: dict[str, KeyState] = field(init=False)  # by name, in the order configured
    job_keys: dict[int, KeyState] = field(default_factory=dict)  # job held here -> its key
    # Job held here -> (key, model, prompt): all an unclear submit can be told apart by.
    signatures: dict[int, tuple[str, str, str]] = field(default_factory=dict)
    tracked: dict[int, Tracked] = field(default_factory=dict)  # job -> its task, being polled
    reconcile_at: dict[int, float] = field(default_factory=dict)  # submitting job -> look it up
    unclear_at: dict[int, float] = field(default_factory=dict)  # submitting job -> submit gave up
    troubled_since: dict[int, float] = field(default_factory=dict)  # job -> first unreadable answer
    sending: set[int] = field(default_factory=set)  # jobs whose submit is on its way
    look_for_jobs: bool = False  # the next pass reads the jobs queued by other processes
    # Tasks the provider accepted whose job's row could not be written yet: adopted, not sought.
    accepted: dict[int, str] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # the loop has new work
    news: asyncio.Event = field(default_factory=asyncio.Event)  # a tick is due: work elsewhere,
    # or a delivery slot here came free

    def __post_init__(self) -> None:
        budget = self.config.query_budget_per_second
        self.keys = {
            key.name: KeyState.of(key, budget, self.clock, self.metrics) for key in self.ring
        }

    @property
    def first(self) -> KeyState:
        """The key listed first: jobs made before keys had names belong to it."""
        return self.keys[self.ring.first.name]

    def key_of(self, job: Job) -> KeyState | None:
        """The key `job` was staged and submitted with; None if it is no longer configured."""
        key = self.ring.named(job.dashscope_key)
        return None if key is None else self.keys[key.name]

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[Transaction]:
        """A write transaction of the scheduler's: refused (Deposed) once its term has ended, so a
        process that lost the role never changes a job again, whatever it still has in memory."""
        async with self.db.transaction() as tx:
            if self.term is not None:
                await self.leadership.check(tx, self.term)
            yield tx

    @asynccontextmanager
    async def carrying(self, job_id: int) -> AsyncIterator[Transaction]:
        """A write transaction about a delivery this process carries: refused (LeaseLost) once
        another process has claimed it."""
        async with self.db.transaction() as tx:
            await self.coordination.check_lease(tx, self.owner, job_id)
            yield tx

    def place(self, job: Job) -> KeyState:
        """Remember which key a job the engine now holds goes through, until it ends."""
        key = self.key_of(job)
        if key is None:
            raise LookupError(f"job {job.id}: its key {job.dashscope_key!r} is not configured")
        self.job_keys[job.id] = key
        if job.id not in self.signatures:
            self.signatures[job.id] = (key.name, job.model, job.request.prompt or "")
        return key

    def has_room(self, key: KeyState, model: str) -> bool:
        """Whether `key` has a free slot of `model`."""
        return key.has_room(model, self.config.concurrency)

    def submit_window(self, key: KeyState, model: str) -> RateWindow:
        """The submit rate of `model` on `key`."""
        return key.submit_window(model, self.config.submit_per_second)

    def requeue(self, job: Job, ready_at: float | None) -> None:
        """Put a job that lost its turn back at the front of its owner's line."""
        self.queue.push(job.id, job.model, (job.guild_id, job.user_id), front=True)
        if ready_at is not None:
            self.ready_at[job.id] = ready_at

    def forget(self, job_id: int) -> None:
        """A job has ended: nothing about it is kept in memory any more."""
        self.job_keys.pop(job_id, None)
        self.ready_at.pop(job_id, None)
        self.signatures.pop(job_id, None)

    def forget_all(self) -> None:
        """Drop what the scheduler held in memory (it stepped down; the rows keep everything)."""
        self.queue = FairQueue()
        for held in (self.ready_at, self.job_keys, self.tracked, self.reconcile_at):
            held.clear()
        self.signatures.clear()
        self.unclear_at.clear()
        self.troubled_since.clear()
        self.sending.clear()
        self.accepted.clear()
        for key in self.keys.values():
            key.busy.clear()
            key.submits.clear()

    def reconciled(self, job_id: int) -> None:
        """Forget what was kept while a job's submit was unclear."""
        self.reconcile_at.pop(job_id, None)
        self.unclear_at.pop(job_id, None)
        self.troubled_since.pop(job_id, None)
        self.accepted.pop(job_id, None)

    def spool_path(self, job: Job) -> Path:
        """Where a job's result is kept between download and delivery."""
        return self.config.spool_dir / f"job-{job.id}.mp4"


async def each(work: Callable[[T], Coroutine[Any, Any, None]], items: list[T]) -> None:
    """Run `work` on every item at once; one item's failure is logged and stays its own. A
    deposed scheduler is not one item's trouble: the first Deposed is raised once all are done."""
    results = await asyncio.gather(*(work(item) for item in items), return_exceptions=True)
    deposed: Deposed | None = None
    for item, result in zip(items, results, strict=True):
        if isinstance(result, BaseException) and not isinstance(result, Exception):
            raise result  # cancellation, exit: not one job's trouble
        if isinstance(result, Deposed):
            deposed = deposed or result
        elif isinstance(result, Exception):
            log.error("%s of %s failed", work.__name__, item, exc_info=result)
    if deposed is not None:
        raise deposed


def unreadable(error: Exception, db: Database) -> bool:
    """An answer that could not be read, or a bug: unlike a network failure or a database that
    did not answer, waiting will not mend it, so it counts toward giving up on the job."""
    if isinstance(error, DashScopeError):
        return error.code == UNREADABLE
    return not (isinstance(error, Deposed | LeaseLost) or db.unavailable(error))


def evidence(answer: TaskResponse | TaskSummary) -> dict[str, Any]:
    """An answer as kept for the record: as received, less the account's identifiers."""
    body: dict[str, Any] = without_account(answer.model_dump(mode="json", exclude_unset=True))
    return body


def error_evidence(error: DashScopeError) -> dict[str, Any]:
    """A refusal as kept for the record."""
    return {
        "status": error.status,
        "code": error.code,
        "message": error.message,
        "request_id": error.request_id,
    }

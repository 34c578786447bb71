"""The job engine: one asyncio loop that moves every job from queued to delivered.

Each pass (`step`) reconciles uncertain submissions, polls the tasks that are due (within each
key's query budget), and submits waiting jobs in fair order (each on its own key, within that
key's concurrency and submit rate per model). Each phase, and each job within it, fails alone:
one unreadable answer never stops the others, and a job whose answers stay unreadable ends
refunded after a bounded time.
Downloads and deliveries run as tracked background tasks. Every state change is one
transaction; quota is reserved with the job, and committed or refunded with its final state,
so a job is charged or refunded exactly once. After a restart `recover` resumes every
unfinished job from its row (a job whose key is no longer configured ends refunded).

The engine knows nothing of Discord: it reports through a `Notifier`.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Callable

from bot.dashscope import DashScopeClient
from bot.domain.errors import InvalidInput, WanbotError
from bot.domain.jobs import Job, JobState, Requester
from bot.domain.quota import check_fits
from bot.domain.requests import GenerationRequest
from bot.engine import failures
from bot.engine.cancel import Canceler, CancelOutcome
from bot.engine.cluster import Cluster
from bot.engine.context import Context, EngineConfig
from bot.engine.key_ring import KeyRing
from bot.engine.metrics import Metrics, NoMetrics
from bot.engine.notifier import Notifier
from bot.engine.pipeline import Pipeline
from bot.engine.polling import Polling, billed_seconds
from bot.engine.scheduler import Scheduler
from bot.engine.settle import Settlement
from bot.engine.submit import Submitter
from bot.engine.sweep import Sweep
from bot.engine.timing import DurationModel
from bot.i18n import _, _n
from bot.media.pools import MediaWorkers
from storage.coordination import Coordination
from storage.database import Database
from storage.jobs import JobStore
from storage.leadership import Leadership
from storage.quotas import QuotaStore

__all__ = ["CancelOutcome", "Engine", "EngineConfig", "QueueFull", "billed_seconds"]

log = logging.getLogger(__name__)


class QueueFull(WanbotError):
    """The requester already has as many jobs waiting as allowed (`waiting`), or (`asked` for
    several variations) too many to take them all within the cap (`cap`)."""

    def __init__(self, waiting: int, *, asked: int = 1, cap: int = 0) -> None:
        if asked > 1 and waiting < cap:
            super().__init__(
                # Translators: a member asked for several variations of a video at once; {free}
                # of their videos may still wait in line (at most {cap} at once), fewer than asked.
                _(
                    "You asked for {asked} variations, but only {free} more of your videos can "
                    "wait in line now (at most {cap}); ask for fewer.",
                    asked=asked,
                    free=cap - waiting,
                    cap=cap,
                )
            )
            return
        super().__init__(
            _n(
                "You already have {n} video waiting; wait for it to start before asking for more.",
                "You already have {n} videos waiting; wait for one to start before asking for more.",
                waiting,
            )
        )


class Engine:
    """The engine's public face: composes the pieces, each handed the same `Context`.

    `Settlement` tells and settles, `Pipeline` carries results, `Polling` follows tasks,
    `Submitter` sends and reconciles, `Scheduler` runs the passes, `Canceler` stops jobs.
    """

    def __init__(
        self,
        *,
        db: Database,
        jobs: JobStore,
        quotas: QuotaStore,
        notifier: Notifier,
        config: EngineConfig,
        client: DashScopeClient | None = None,
        keys: KeyRing | None = None,
        clock: Callable[[], float] = time.time,
        workers: MediaWorkers | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """`client`: one key, named `default`, with the config's limits; or `keys`: several.
        `metrics`: told what happens, for an operator (by default, nothing is kept)."""
        if keys is None:
            if client is None:
                raise ValueError("the engine needs a client or a key ring")
            keys = KeyRing.single(client)
        elif client is not None:
            raise ValueError("give the engine a client or a key ring, not both")
        self._own_workers = workers is None  # made here, closed in stop()
        self._ctx = ctx = Context(
            db=db,
            jobs=jobs,
            quotas=quotas,
            ring=keys,
            notifier=notifier,
            config=config,
            clock=clock,
            workers=workers or MediaWorkers(),
            coordination=Coordination(db, clock=clock),
            leadership=Leadership(db, clock=clock),
            owner=f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}",
            metrics=metrics or NoMetrics(),
        )
        self._settlement = Settlement(ctx)
        self._pipeline = Pipeline(ctx, self._settlement)
        self._polling = Polling(ctx, self._settlement, self._pipeline)
        self._submitter = Submitter(ctx, self._settlement, self._polling)
        self._scheduler = Scheduler(ctx, self._settlement, self._submitter, self._polling)
        self._sweep = Sweep(
            ctx,
            self._settlement,
            self._submitter,
            self._polling,
            restore=self._scheduler.restore,
            withdraw=self._scheduler.withdraw,
            key_gone=self._key_gone,
        )
        self._scheduler.sweep = self._sweep.due
        self._canceler = Canceler(ctx, self._settlement, self._scheduler, self._polling)
        self._cluster = Cluster(
            ctx,
            scheduler=self._scheduler,
            pipeline=self._pipeline,
            canceler=self._canceler,
            settlement=self._settlement,
            recover=self.recover,
        )

    @property
    def config(self) -> EngineConfig:
        return self._ctx.config

    @config.setter
    def config(self, config: EngineConfig) -> None:
        self._ctx.config = config

    @property
    def durations(self) -> DurationModel:
        """How long tasks take, learned per kind of job (kept between runs by the caller)."""
        return self._ctx.durations

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def scheduling(self) -> bool:
        """Whether this process is the scheduler (always, with SQLite's one process)."""
        return self._cluster.leading

    @property
    def alive(self) -> bool:
        """Whether the engine was started and its loop still runs (a health check asks)."""
        return self._cluster.alive

    @property
    def deliveries_carried(self) -> int:
        """Deliveries this process carries now, each under its lease."""
        return self._pipeline.carried

    @property
    def _in_charge(self) -> bool:
        """Whether the waiting line is here: the scheduler, or an engine its caller steps."""
        return self._cluster.leading or not self._cluster.started

    async def start(self) -> None:
        """Take this process's part: the scheduler (resuming unfinished jobs) if no other process
        is, and deliveries; run until `stop`. Raises StorageInUse if SQLite has another process."""
        await self._cluster.start()

    async def stop(self) -> None:
        """Stop the loop and background work; unfinished jobs resume on the next start (or at
        once in another process)."""
        await self._cluster.stop()
        await self._pipeline.stop()
        await self._settlement.outbox.close()
        if self._own_workers:
            self._ctx.workers.close()

    async def settle(self) -> None:
        """Wait until no download or delivery is in progress and everything has been said
        (tests and the CLI use it)."""
        await self._pipeline.settle()
        await self._settlement.outbox.drain()

    async def step(self) -> float | None:
        """Do the work that is due now; return when more falls due (None: nothing scheduled).
        An engine stepped by its caller (never started) also takes on deliveries nobody carries,
        as a started one does on each tick, and has said what the pass had to say on return."""
        due = await self._scheduler.step()
        if not self._cluster.started:
            await self._pipeline.claim_waiting()
            await self._settlement.outbox.drain()
        return due

    # -- what people ask for ---------------------------------------------------------------------

    async def enqueue(
        self,
        request: GenerationRequest,
        requester: Requester,
        *,
        key: str | None = None,
        dedup_key: str | None = None,
        exempt: bool = False,
    ) -> Job:
        """Reserve quota and queue `request` (inputs already staged, with the key named `key`;
        None: inputs any key may use, and the engine chooses); raise QuotaExceeded or QueueFull
        (`admissible`'s checks, the quota checked again as it is held)."""
        ctx = self._ctx
        await self.admissible(request, requester, exempt=exempt)
        if key is not None and ctx.ring.named(key) is None:
            raise InvalidInput(
                # Translators: DashScope is the provider's service that makes the videos; the
                # bot's operator can take one of its keys (accounts) out of the settings.
                _(
                    "This video's inputs were uploaded with a DashScope key the bot no longer "
                    "has; please make it again from the start."
                )
            )
        now = ctx.clock()
        earlier = None
        if dedup_key and ctx.config.reuse_results and request.seed is not None:
            earlier = await ctx.jobs.reusable(dedup_key, now)
        async with ctx.db.transaction() as tx:
            if earlier is not None:
                job_id = await ctx.jobs.create(
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
                job = await ctx.jobs.get_in(tx, job_id)
            else:
                seconds = request.charged_seconds
                if key is None:  # chosen inside the transaction: the count includes every job
                    key = (await ctx.ring.choose(request.model, tx=tx)).name
                job_id = await ctx.jobs.create(
                    tx,
                    requester=requester,
                    request=request,
                    reserved_seconds=seconds,
                    dedup_key=dedup_key,
                    dashscope_key=key,
                )
                await ctx.quotas.reserve(
                    tx,
                    guild_id=requester.guild_id,
                    user_id=requester.user_id,
                    role_ids=requester.role_ids,
                    seconds=seconds,
                    job_id=job_id,
                    exempt=exempt,
                )
                job = await ctx.jobs.get_in(tx, job_id)
        # The status message first, so that every later update (from any process) edits it.
        if earlier is not None:
            await self._settlement.progress(job, wait=True)
            await self._pipeline.offer(job)
        elif self._in_charge:
            position = self._scheduler.position_for(job)
            await self._settlement.progress(job, queue_position=position, wait=True)
            self._scheduler.add(job)
        else:
            await self._settlement.progress(job, wait=True)
            await ctx.coordination.announce("queued", str(job.id))
        return job

    @property
    def retired_models(self) -> frozenset[str]:
        """The models this engine no longer sends (the catalogue's and the operator's)."""
        return self._ctx.config.retired_models

    async def admissible(
        self,
        request: GenerationRequest,
        requester: Requester,
        *,
        exempt: bool = False,
        count: int = 1,
    ) -> None:
        """Whether `enqueue` would take `count` of `request` now (variations: all or none),
        read-only: raise QuotaExceeded if their seconds do not fit the requester's quota (a block included) or the server's budget, or
        QueueFull if the requester has as many videos waiting as allowed. Admission asks before
        any download; `enqueue` asks again, and holds the quota in the same transaction as the
        job. The operator's own runs (`exempt`: generate, the demo) are never limited."""
        if exempt:
            return
        ctx = self._ctx
        allowance = await ctx.quotas.allowance(
            guild_id=requester.guild_id, user_id=requester.user_id, role_ids=requester.role_ids
        )
        check_fits(allowance, request.charged_seconds * count)
        waiting = await self.waiting(requester.guild_id, requester.user_id)
        cap = ctx.config.max_waiting_per_user
        if waiting + count > cap:
            raise QueueFull(waiting, asked=count, cap=cap)

    async def cancel(self, job_id: int) -> CancelOutcome:
        """Cancel a job if it can still be stopped; say what happened either way. On a process
        that is not the scheduler, the cancel is passed on and its status message will say."""
        if self._in_charge:
            return await self._canceler.cancel(job_id)
        job = await self._ctx.jobs.get(job_id)
        if job is None or job.state.is_final:
            return await self._canceler.cancel(job_id)  # the same answers for these
        await self._ctx.coordination.request_cancel(job_id)
        return CancelOutcome(
            False,
            _("Asked to cancel video #{id}; its status message will say when it stops.", id=job_id),
        )

    async def waiting(self, guild_id: int | None, user_id: int) -> int:
        """How many jobs this member has waiting (the engine refuses more than the cap)."""
        if self._in_charge:
            return self._ctx.queue.waiting((guild_id, user_id))
        return await self._ctx.coordination.waiting(guild_id, user_id)

    def expected_end(self, job: Job) -> float | None:
        """When the provider will probably finish `job` (epoch seconds), once it was submitted."""
        return self._polling.expected_end(job)

    # -- restart ---------------------------------------------------------------------------------

    async def recover(self) -> None:
        """Load what was learned and find every unfinished job again from its row (at a start,
        and whenever this process takes over as the scheduler)."""
        ctx = self._ctx
        ctx.durations.load(await ctx.jobs.durations())
        await self._sweep.run(takeover=True)
        await self._pipeline.claim_waiting()  # deliveries nobody carries (or whose carrier died)
        log.info(
            "Recovered %d queued, %d at the provider, %d to finish",
            len(ctx.queue),
            len(ctx.tracked) + len(ctx.reconcile_at),
            len(self._pipeline),
        )

    async def _key_gone(self, job: Job) -> None:
        """A job whose key was taken out of the settings: its task and uploads belong to that
        key's account, so nothing can be done for it but a refund and a plain word."""
        log.warning(
            "Job %s was sent with DashScope key %r, which is no longer configured; ending it "
            "refunded",
            job.id,
            job.dashscope_key,
        )
        await self._settlement.end(
            job,
            JobState.FAILED,
            failures.KEY_GONE,
            code="KeyGone",
            message=f"key {job.dashscope_key!r} is not configured",
        )

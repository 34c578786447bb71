"""A finished task's result: download → check it plays → deliver → settle, in the background.

Results are fetched at once (their links die), to a spool file, and checked before anyone sees
them. Each result runs as a tracked background task (never fire-and-forget); the loop is woken
when one ends. After a restart, a delivery that may have been posted already is looked for
before posting again, and a result whose spool file is gone is fetched again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from bot.dashscope import DashScopeError
from bot.engine import failures
from bot.engine.context import Context
from bot.engine.settle import Settlement
from bot.errors import InvalidInput
from bot.media import probe_video_file
from storage.jobs import Job, JobState

log = logging.getLogger(__name__)


class Pipeline:
    """Carries results from the provider to the requester, each in its own background task."""

    def __init__(self, ctx: Context, settlement: Settlement) -> None:
        self._ctx = ctx
        self._settlement = settlement
        self._background: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        """How many results are on their way."""
        return len(self._background)

    def start(self, job: Job) -> None:
        """Download, check and deliver the result of `job` (in `downloading`)."""
        self._spawn(self._download(job), f"download job {job.id}")

    def resume(self, job: Job) -> None:
        """After a restart, finish the delivery of `job` (in `delivering`) without posting twice."""
        self._spawn(self._resume_delivery(job), f"resume delivery of job {job.id}")

    async def settle(self) -> None:
        """Wait until no download or delivery is in progress."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def stop(self) -> None:
        """Cancel every result on its way; each resumes from its row on the next start."""
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._background.add(task)

        def finished(done: asyncio.Task[Any]) -> None:
            self._background.discard(done)
            self._ctx.wake.set()
            if not done.cancelled() and done.exception() is not None:
                log.error("%s failed", name, exc_info=done.exception())

        task.add_done_callback(finished)

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
            )
            return
        try:
            await ctx.workers.result_work(probe_video_file, path)
        except InvalidInput:
            path.unlink(missing_ok=True)
            await self._settlement.end(job, JobState.FAILED, failures.UNPLAYABLE, code="Unplayable")
            return
        async with ctx.db.transaction() as tx:
            job = await ctx.jobs.transition(
                tx, job.id, JobState.DELIVERING, delivery_started_at=ctx.clock()
            )
        await self._deliver(job, path)

    async def _deliver(self, job: Job, path: Path) -> None:
        try:
            message_id = await self._ctx.notifier.deliver(job, path)
        except Exception as error:
            log.exception("Delivering job %s failed", job.id)
            path.unlink(missing_ok=True)
            await self._settlement.end(
                job,
                JobState.FAILED,
                "The video was made but could not be posted. Nothing was charged.",
                code="DeliveryFailed",
                message=str(error),
            )
            return
        await self._settlement.delivered(job, message_id)
        path.unlink(missing_ok=True)

    async def _resume_delivery(self, job: Job) -> None:
        """After a restart in `delivering`: never post twice; fetch again if the file is gone."""
        ctx = self._ctx
        message_id = await ctx.notifier.delivered_message(job)
        if message_id is not None:
            await self._settlement.delivered(job, message_id)
            ctx.spool_path(job).unlink(missing_ok=True)
            return
        path = ctx.spool_path(job)
        if not path.exists():
            assert job.result_url is not None
            try:
                await (ctx.key_of(job) or ctx.first).client.download(job.result_url, path)
            except DashScopeError as error:
                await self._settlement.end(
                    job, JobState.FAILED, failures.RESULT_EXPIRED, code=error.code
                )
                return
        await self._deliver(job, path)

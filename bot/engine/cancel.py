"""Whether a job can still be stopped, stopping it if so, and what to tell the member either way.

A waiting job is taken out of line. A task still PENDING at the provider is canceled there, with
the job's own key (once; if that answer is lost, or the provider refuses because the task is no
longer PENDING, the task is asked how it stands: one canceled elsewhere ends the job canceled and
refunded). A job being
sent, made or delivered cannot be stopped, and the answer says why. Cancels use their key's
query budget: one waits its turn (ahead of polls not yet planned), never over the budget.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.dashscope import DashScopeError, TaskStatus
from bot.domain.errors import InvalidInput
from bot.domain.jobs import Job, JobState
from bot.engine import failures
from bot.engine.context import Context
from bot.engine.key_state import KeyState
from bot.engine.polling import Polling
from bot.engine.scheduler import Scheduler
from bot.engine.settle import Settlement
from bot.i18n import Text, _

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CancelOutcome:
    canceled: bool
    message: Text


class Canceler:
    """Cancels jobs on request, in line or at the provider."""

    def __init__(
        self, ctx: Context, settlement: Settlement, scheduler: Scheduler, polling: Polling
    ) -> None:
        self._ctx = ctx
        self._settlement = settlement
        self._scheduler = scheduler
        self._polling = polling

    async def cancel(self, job_id: int) -> CancelOutcome:
        """Cancel a job if it can still be stopped; say what happened either way."""
        job = await self._ctx.jobs.get(job_id)
        if job is None:
            raise InvalidInput(_("There is no video #{id}.", id=job_id), field="job")
        if job.state is JobState.QUEUED and self._scheduler.withdraw(job.id):
            await self._settlement.end(job, JobState.CANCELED, failures.CANCELED, code="Canceled")
            return CancelOutcome(
                True, _("Canceled video #{id} before it started. Nothing was charged.", id=job.id)
            )
        if job.state is JobState.PENDING and job.task_id:
            return await self._cancel_at_provider(job, job.task_id)
        if job.state in (JobState.QUEUED, JobState.SUBMITTING):
            return CancelOutcome(
                False,
                _(
                    "Video #{id} is being sent to the provider right now; try again in a moment.",
                    id=job.id,
                ),
            )
        return _cannot_cancel(job)

    async def _cancel_at_provider(self, job: Job, task_id: str) -> CancelOutcome:
        """Send the cancel once; if its answer is lost, ask the task how it stands."""
        key = self._ctx.key_of(job)
        if key is None:
            return _cannot_cancel(job)  # ended at the restart that found its key gone
        try:
            await key.cancel(task_id)
        except DashScopeError as error:
            if error.unclear:
                return await self._cancel_unclear(job, key, task_id, error)
            return await self._cancel_refused(job, key, task_id, error)
        await self._canceled_at_provider(job)
        return _canceled(job)

    async def _cancel_refused(
        self, job: Job, key: KeyState, task_id: str, error: DashScopeError
    ) -> CancelOutcome:
        """The provider said no: the task may have been canceled elsewhere (its console, another
        process) or have started. Ask it how it stands, within the key's query budget."""
        current = await self._ctx.jobs.get(job.id) or job
        if current.state is JobState.CANCELED:
            return _canceled(current)  # a poll saw it canceled first
        if not current.state.is_final:
            try:
                answer = await key.get_task(task_id)
            except DashScopeError as unanswered:  # the polls will tell; answer as refused
                log.warning(
                    "Cancel of job %s refused; asking the task failed (%s)", job.id, unanswered
                )
            else:
                if answer.status is TaskStatus.CANCELED:
                    await self._canceled_at_provider(current)
                    ended = await self._ctx.jobs.get(job.id) or current
                    return _cannot_cancel(ended)  # "was already canceled", when it was
        if error.code == "UnsupportedOperation":  # no longer PENDING
            return _cannot_cancel(current)
        return CancelOutcome(
            False,
            # Translators: {detail} is the provider's own explanation, often in English.
            _(
                "The provider refused to cancel video #{id}: {detail}",
                id=job.id,
                detail=error.message,
            ),
        )

    async def _cancel_unclear(
        self, job: Job, key: KeyState, task_id: str, error: DashScopeError
    ) -> CancelOutcome:
        log.warning("Cancel of job %s got no clear answer (%s); asking the task", job.id, error)
        try:
            answer = await key.get_task(task_id)
        except DashScopeError:
            return CancelOutcome(
                False,
                _(
                    "Could not reach the provider to cancel video #{id}; try again shortly.",
                    id=job.id,
                ),
            )
        if answer.status is TaskStatus.CANCELED:
            await self._canceled_at_provider(job)
            return _canceled(job)
        current = await self._ctx.jobs.get(job.id) or job
        return _cannot_cancel(current)

    async def _canceled_at_provider(self, job: Job) -> None:
        self._polling.untrack(job)
        self._ctx.troubled_since.pop(job.id, None)
        await self._settlement.end(job, JobState.CANCELED, failures.CANCELED, code="Canceled")


def _canceled(job: Job) -> CancelOutcome:
    return CancelOutcome(True, _("Canceled video #{id}. Nothing was charged.", id=job.id))


def _cannot_cancel(job: Job) -> CancelOutcome:
    """What a cancel answers for a job past the point where it can be stopped."""
    if job.state is JobState.CANCELED:
        return CancelOutcome(
            True, _("Video #{id} was already canceled. Nothing was charged.", id=job.id)
        )
    if job.state in (JobState.PENDING, JobState.RUNNING):
        return CancelOutcome(
            False,
            _(
                "Video #{id} is already being made; the provider cannot stop it now. "
                "It will be delivered (and counted) when it is ready.",
                id=job.id,
            ),
        )
    if job.state in (JobState.DOWNLOADING, JobState.DELIVERING):
        return CancelOutcome(False, _("Video #{id} is finished and on its way.", id=job.id))
    if job.state is JobState.DELIVERED:
        return CancelOutcome(False, _("Video #{id} has already been delivered.", id=job.id))
    return CancelOutcome(False, _("Video #{id} has already ended without a video.", id=job.id))

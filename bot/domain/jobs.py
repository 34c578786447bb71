"""A job as the domain knows it: its states and the moves between them, who asked, the job
itself and one recorded move (storage/jobs.py keeps them in SQL)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.errors import InvalidTransition
from bot.domain.requests import GenerationRequest
from bot.i18n import Text


class JobState(StrEnum):
    QUEUED = "queued"
    SUBMITTING = "submitting"
    PENDING = "pending"
    RUNNING = "running"
    DOWNLOADING = "downloading"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELED = "canceled"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({JobState.DELIVERED, JobState.FAILED, JobState.CANCELED, JobState.EXPIRED})
AT_PROVIDER = frozenset({JobState.SUBMITTING, JobState.PENDING, JobState.RUNNING})

_S = JobState
TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    _S.QUEUED: frozenset({_S.SUBMITTING, _S.CANCELED, _S.FAILED}),
    # Back to queued after a 429, or when reconciliation shows the POST never landed.
    _S.SUBMITTING: frozenset({_S.QUEUED, _S.PENDING, _S.RUNNING, _S.FAILED}),
    _S.PENDING: frozenset({_S.RUNNING, _S.DOWNLOADING, _S.FAILED, _S.CANCELED, _S.EXPIRED}),
    _S.RUNNING: frozenset({_S.DOWNLOADING, _S.FAILED, _S.CANCELED, _S.EXPIRED}),
    _S.DOWNLOADING: frozenset({_S.DELIVERING, _S.FAILED, _S.EXPIRED}),
    _S.DELIVERING: frozenset({_S.DELIVERED, _S.FAILED}),
}


def check_transition(job_id: int, state: JobState, to: JobState) -> None:
    """Raise InvalidTransition unless a job in `state` may move to `to`."""
    if to not in TRANSITIONS.get(state, frozenset()):
        raise InvalidTransition(f"job {job_id}: {state.value} -> {to.value} is not allowed")


@dataclass(frozen=True)
class Requester:
    """Who asked, and where the video goes."""

    user_id: int
    guild_id: int | None = None
    channel_id: int | None = None
    role_ids: tuple[int, ...] = ()
    filesize_limit: int | None = None  # bytes; the delivery target's upload limit
    locale: str | None = None  # Discord locale code of the server-wide messages
    member_locale: str | None = None  # the member's own, for a DM
    by_dm: bool = False  # private mode: the status and the video go to the requester's DM


@dataclass(frozen=True)
class Job:
    id: int
    state: JobState
    guild_id: int | None
    channel_id: int | None
    user_id: int
    model: str
    resolution: str
    duration: int
    request_json: str
    dedup_key: str | None
    reserved_seconds: int
    billed_seconds: int | None
    task_id: str | None
    attempts: int
    next_attempt_at: float | None
    result_url: str | None
    result_expires_at: float | None
    reused_job_id: int | None
    filesize_limit: int | None
    error_code: str | None
    error_message: str | None
    delivered_message_id: int | None
    progress_message_id: int | None
    created_at: float
    updated_at: float
    submit_started_at: float | None
    submitted_at: float | None
    provider_finished_at: float | None
    finished_at: float | None
    delivery_started_at: float | None
    dashscope_key: str | None  # the name of the key it was sent with; None: the first key
    lease_owner: str | None = None  # the process carrying the delivery (several processes)
    lease_expires_at: float | None = None
    cancel_requested_at: float | None = None  # asked on a process that is not the scheduler
    locale: str | None = None  # Discord locale code of its server-wide messages
    member_locale: str | None = None  # the requester's, for a DM
    reason_json: str | None = None  # why it ended without a video: a bot.i18n.Text as JSON
    submit_gave_up_at: float | None = None  # an unclear submit stopped waiting for its answer
    deleted_at: float | None = None  # its posted video was deleted (the job and its charge stay)
    deleted_by: int | None = None  # who deleted it: the requester or a moderator
    # Private mode: its status and video go to the requester's DM (the channel only if the DM
    # cannot be sent); kept as asked, whatever the server decides later.
    by_dm: bool = False

    @property
    def deleted(self) -> bool:
        """Whether its posted video was deleted (its buttons no longer make anything)."""
        return self.deleted_at is not None

    @property
    def reason(self) -> Text | None:
        """Why it ended without a video, ready to be put into any language."""
        if self.reason_json is None:
            return None
        return Text.from_json(json.loads(self.reason_json))

    @property
    def request(self) -> GenerationRequest:
        return GenerationRequest.model_validate_json(self.request_json)

    @property
    def kind(self) -> tuple[str, str, int]:
        """What decides how long the provider takes: model, resolution and duration."""
        return (self.model, self.resolution, self.duration)


@dataclass(frozen=True)
class JobEvent:
    """One recorded move of a job: when, from where (None: created) and to where, and why."""

    at: float
    from_state: JobState | None
    to_state: JobState
    detail: str | None

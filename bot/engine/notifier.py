"""How the engine tells people about their jobs: the Notifier protocol, and the CLI's notifier.

The engine calls `progress` on every state change, `deliver` once the video is on disk, and
`fail` when a job ends without one. After a restart it asks `delivered_message` before
delivering again, so a crash between posting and recording never posts twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.domain.jobs import Job, JobState
from bot.i18n import Text


@dataclass(frozen=True)
class Progress:
    """What a person waiting for a job wants to know."""

    state: JobState
    queue_position: int | None = None  # jobs ahead of this one, while queued
    elapsed: float = 0.0  # seconds since the job was queued
    expected_end: float | None = None  # epoch seconds, while the provider works
    note: Text | None = None  # e.g. "The provider is busy; trying again shortly."


class Notifier(Protocol):
    async def progress(self, job: Job, update: Progress) -> None:
        """Show that a job moved on (throttling is the notifier's business)."""

    async def deliver(self, job: Job, video: Path) -> int | None:
        """Hand the finished video over; return a message id (or None) for the record."""

    async def fail(self, job: Job, reason: Text) -> None:
        """Tell the requester the job ended without a video, and why, in plain words."""

    async def delivered_message(self, job: Job) -> int | None:
        """After a restart: the id of a delivery already made for `job`, if any."""

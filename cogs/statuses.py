"""What the notifier remembers of each job's status message: a cache of the job's row.

Per job: the message to edit, a fingerprint of what it shows, when it was last edited, an edit
held back and its timer, the lock that lets one update through at a time, and the language it was
posted in. An entry is dropped when its job ends here, and when it has been idle for `keep_idle`
seconds: with several processes, a job may end in another one and never be heard of here again.
A later update finds the message again from the job's row (`progress_message_id`), at the price
of one edit, so a job still gets one status message, then edits.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import discord

from bot.domain.jobs import Job
from bot.engine.notifier import Progress
from bot.i18n import Language, Text

KEEP_IDLE_SECONDS = 600.0


@dataclass
class Status:
    """One job's status message, as this process last showed it."""

    message: discord.Message | discord.PartialMessage | None = None
    shown: str | None = None  # a fingerprint of the embed as last sent
    edited_at: float = float("-inf")
    held: tuple[Job, Progress, Text | None] | None = None
    flush: asyncio.Task[None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one update of a job at a time
    lang: Language | None = None  # the language it was posted in (the server's, or a DM's)
    used_at: float = float("-inf")

    def busy(self) -> bool:
        """Someone is updating it or an edit is held: dropping it could post a second message."""
        return self.lock.locked() or (self.flush is not None and not self.flush.done())


class Statuses(Mapping[int, Status]):
    """The entries by job id, least recently used first; idle ones are dropped as others come."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, keep_idle: float = KEEP_IDLE_SECONDS
    ) -> None:
        self._clock = clock
        self._keep_idle = keep_idle
        self._entries: OrderedDict[int, Status] = OrderedDict()

    def __getitem__(self, job_id: int) -> Status:
        return self._entries[job_id]

    def __iter__(self) -> Iterator[int]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def touch(self, job_id: int) -> Status:
        """The job's entry (made if need be), marked as just used; idle ones are dropped."""
        now = self._clock()
        status = self._entries.setdefault(job_id, Status())
        status.used_at = now
        self._entries.move_to_end(job_id)
        while self._entries:
            oldest_id, oldest = next(iter(self._entries.items()))
            if oldest.used_at > now - self._keep_idle:
                break
            if oldest.busy():  # in use after all: keep it, look at the next
                oldest.used_at = now
                self._entries.move_to_end(oldest_id)
                continue
            del self._entries[oldest_id]
        return status

    def forget(self, job_id: int, status: Status) -> None:
        """Drop the job's entry (if `status` is still it) and any edit it held back."""
        if self._entries.get(job_id) is status:
            del self._entries[job_id]
        if status.flush is not None and status.flush is not asyncio.current_task():
            status.flush.cancel()
        status.held = None

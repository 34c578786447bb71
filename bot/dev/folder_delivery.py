"""Deliver videos as files in a folder: a worker with no Discord (demos, benches, operators).

Each video is fitted to the job's upload limit if it has one (the same re-encode Discord needs),
written under a temporary name and renamed, so a file that exists is a whole delivery: after a
crash it is found and not written twice.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from bot.domain.jobs import Job
from bot.engine.notifier import Progress
from bot.i18n import Text
from bot.media.pools import MediaWorkers

log = logging.getLogger(__name__)


class FolderNotifier:
    """The Notifier of `python -m bot worker --output-dir DIR`."""

    def __init__(self, folder: Path, workers: MediaWorkers) -> None:
        self._folder = folder
        self._workers = workers
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, job: Job) -> Path:
        return self._folder / f"job-{job.id}.mp4"

    async def progress(self, job: Job, update: Progress) -> None:
        log.info("Job %s: %s", job.id, update.state.value)

    async def deliver(self, job: Job, video: Path) -> int | None:
        target = self.path(job)
        partial = target.with_suffix(f".{os.getpid()}.part")
        if job.filesize_limit and video.stat().st_size > job.filesize_limit:
            fitted = await self._workers.fit(video, partial, job.filesize_limit)
            if fitted is None:
                raise RuntimeError(f"video #{job.id} cannot be made small enough")
        else:
            shutil.copyfile(video, partial)
        partial.replace(target)
        log.info("Job %s delivered to %s", job.id, target)
        return job.id

    async def fail(self, job: Job, reason: Text) -> None:
        self._folder.joinpath(f"job-{job.id}.failed.txt").write_text(f"{reason}\n")
        log.info("Job %s ended without a video: %s", job.id, reason)

    async def delivered_message(self, job: Job) -> int | None:
        return job.id if self.path(job).exists() else None

"""The spool sweep: result files a stopped process left behind, deleted when it starts again.

A process keeps each result it carries in its spool folder as `job-<id>.mp4` (`.part` while it
downloads) from download to delivery, and deletes it once done. A process stopped mid-delivery
leaves its file: another process finishes that delivery from its own spool, or this one resumes
it after a restart from this very file (`Pipeline._resume_delivery`; the result's link may have
died by then). At start, before this process takes on any work, each file is judged by its job:
- no such job, or the job has ended (delivered, failed, canceled, expired): deleted;
- the job is downloading or delivering: kept, whoever holds its lease. With no live lease this
  process may resume it from the file; with one, the carrier may be another process sharing this
  folder (the default `data/spool` of two processes started in one folder). An interrupted
  download (`.part`) of such a job is deleted once a day old: no download lasts that long, and a
  resumed one starts its file afresh;
- the job is in any other state, which has no result yet: deleted once a day old.
Files not named like these are not ours and are left alone.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

from bot.domain.jobs import JobState
from storage.jobs import JobStore

log = logging.getLogger(__name__)

STALE_SECONDS = 86_400.0
CARRIED = frozenset({JobState.DOWNLOADING, JobState.DELIVERING})
_SPOOLED = re.compile(r"job-(\d+)\.mp4(\.part)?")


async def sweep_spool(
    folder: Path,
    jobs: JobStore,
    *,
    clock: Callable[[], float] = time.time,
    stale_seconds: float = STALE_SECONDS,
) -> list[Path]:
    """Delete the spool files in `folder` that no delivery of this process can need; return them.

    `clock` is the wall clock the files' modification times are compared with."""
    try:
        entries = sorted(folder.iterdir())
    except FileNotFoundError:
        return []
    swept = []
    for path in entries:
        match = _SPOOLED.fullmatch(path.name)
        if match is None or not path.is_file():
            continue
        if await _unwanted(path, int(match[1]), bool(match[2]), jobs, clock() - stale_seconds):
            try:
                path.unlink()
            except FileNotFoundError:
                continue  # another process sharing the folder swept it first
            except OSError as error:
                log.warning("Could not delete the spool file %s: %s", path, error)
                continue
            swept.append(path)
    if swept:
        log.info("Deleted %d spool files no delivery needs: %s", len(swept), _names(swept))
    return swept


async def _unwanted(path: Path, job_id: int, partial: bool, jobs: JobStore, stale: float) -> bool:
    job = await jobs.get(job_id)
    if job is None or job.state.is_final:
        return True
    if job.state in CARRIED and not partial:
        return False
    try:
        return path.stat().st_mtime < stale
    except FileNotFoundError:
        return False


def _names(paths: list[Path], most: int = 10) -> str:
    names = ", ".join(path.name for path in paths[:most])
    return names + (f" and {len(paths) - most} more" if len(paths) > most else "")

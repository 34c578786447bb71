"""The spool sweep: files a stopped process left are deleted when it starts again, except those a
delivery may still need (this process resuming from its own file, or another carrying it).

Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import aiohttp
from pydantic import SecretStr

from bot.dashscope import DashScopeClient
from bot.domain.jobs import JobState
from bot.engine.runner import Engine, EngineConfig
from bot.engine.spool import sweep_spool
from bot.media import samples
from storage.database import Database
from storage.jobs import JobStore
from storage.quotas import QuotaStore
from tests.support.cluster import WatchedNotifier
from tests.support.engine_rig import ALICE, video_request

DAY = 86_400.0
# Every state a job passes through on its way to a delivery, from queued.
ROUTE = {
    JobState.SUBMITTING: (JobState.SUBMITTING,),
    JobState.RUNNING: (JobState.SUBMITTING, JobState.RUNNING),
    JobState.DOWNLOADING: (JobState.SUBMITTING, JobState.RUNNING, JobState.DOWNLOADING),
    JobState.DELIVERING: (
        JobState.SUBMITTING,
        JobState.RUNNING,
        JobState.DOWNLOADING,
        JobState.DELIVERING,
    ),
    JobState.DELIVERED: (
        JobState.SUBMITTING,
        JobState.RUNNING,
        JobState.DOWNLOADING,
        JobState.DELIVERING,
        JobState.DELIVERED,
    ),
    JobState.FAILED: (JobState.SUBMITTING, JobState.RUNNING, JobState.FAILED),
    JobState.CANCELED: (JobState.CANCELED,),
}


async def job_in(db: Database, jobs: JobStore, state: JobState, **changes: object) -> int:
    """A job that has reached `state` (with a result link once at the provider's end)."""
    async with db.transaction() as tx:
        job_id = await jobs.create(tx, requester=ALICE, request=video_request(), reserved_seconds=0)
        for step in ROUTE.get(state, ()):
            extra = (
                {"result_url": "http://127.0.0.1:9/gone.mp4"}
                if step is JobState.DOWNLOADING
                else {}
            )
            await jobs.transition(tx, job_id, step, **extra)
        if changes:
            await jobs.update(tx, job_id, **changes)
    return job_id


def spooled(folder: Path, name: str, *, age: float = 0.0, content: bytes = b"video") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    if age:
        when = time.time() - age
        os.utime(path, (when, when))
    return path


async def test_sweep_keeps_only_what_a_delivery_may_need(db: Database, tmp_path: Path) -> None:
    jobs = JobStore(db)
    spool = tmp_path / "spool"
    ids = {state: await job_in(db, jobs, state) for state in ROUTE}
    leased = await job_in(
        db, jobs, JobState.DELIVERING, lease_owner="elsewhere", lease_expires_at=time.time() + 30
    )
    lapsed = await job_in(
        db, jobs, JobState.DOWNLOADING, lease_owner="dead", lease_expires_at=time.time() - 60
    )
    path = {state: spooled(spool, f"job-{job_id}.mp4") for state, job_id in ids.items()}
    kept = {
        # This process may resume these from its own file (a free or lapsed lease) …
        path[JobState.DELIVERING],
        path[JobState.DOWNLOADING],
        spooled(spool, f"job-{lapsed}.mp4", age=3 * DAY),
        # … another process sharing the folder is carrying this one …
        spooled(spool, f"job-{leased}.mp4"),
        spooled(spool, f"job-{leased}.mp4.part"),
        # … a file whose job has no result yet, if recent, and files that are not ours.
        path[JobState.RUNNING],
        spooled(spool, "notes.txt", age=30 * DAY),
        spooled(spool, "job-12a.mp4", age=30 * DAY),
    }
    swept = {
        path[JobState.DELIVERED],
        path[JobState.FAILED],
        path[JobState.CANCELED],
        spooled(spool, "job-999999.mp4"),  # no such job
        spooled(spool, "job-999998.mp4.part"),
        spooled(spool, f"job-{ids[JobState.DELIVERED]}.mp4.part"),
        spooled(spool, f"job-{ids[JobState.DOWNLOADING]}.mp4.part", age=2 * DAY),
        spooled(spool, f"job-{ids[JobState.SUBMITTING]}.mp4", age=2 * DAY),
    }

    deleted = await sweep_spool(spool, jobs)

    assert set(deleted) == swept
    assert {p for p in spool.iterdir()} == kept


async def test_sweep_of_a_folder_not_made_yet_does_nothing(db: Database, tmp_path: Path) -> None:
    assert await sweep_spool(tmp_path / "never", JobStore(db)) == []


async def test_a_restart_sweeps_what_it_left_and_resumes_from_its_own_file(
    db: Database, tmp_path: Path
) -> None:
    """A process killed mid-delivery starts again: the video it was posting comes from its own
    spool (the result's link died meanwhile), and files of jobs that ended elsewhere are gone."""
    jobs = JobStore(db)
    spool = tmp_path / "spool"
    video = samples.make_video(1.0)
    resumed = await job_in(db, jobs, JobState.DELIVERING)
    ended = await job_in(db, jobs, JobState.DELIVERED)  # finished by another process
    mine = spooled(spool, f"job-{resumed}.mp4", content=video)
    left = [spooled(spool, f"job-{ended}.mp4"), spooled(spool, "job-424242.mp4.part")]
    notifier = WatchedNotifier()
    async with aiohttp.ClientSession() as session:
        engine = Engine(
            db=db,
            jobs=jobs,
            quotas=QuotaStore(db),
            notifier=notifier,
            config=EngineConfig(spool_dir=spool),
            client=DashScopeClient(
                session, api_key=SecretStr("k"), base_url="http://127.0.0.1:9/api/v1"
            ),
        )
        await engine.start()
        try:
            async with asyncio.timeout(30):
                while resumed not in notifier.posted:
                    await notifier.changed.wait()
                    notifier.changed.clear()
                await engine.settle()
        finally:
            await engine.stop()

    assert notifier.sizes[resumed] == len(video)
    job = await jobs.get(resumed)
    assert job is not None and job.state is JobState.DELIVERED
    assert not any(path.exists() for path in left)
    assert not mine.exists()  # posted, then let go as always

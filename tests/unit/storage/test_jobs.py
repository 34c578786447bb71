"""JobStore: a posted video that was deleted stays a job, with its charge; on both backends."""

from __future__ import annotations

from bot.engine.virtual import VirtualClock
from storage.database import Database
from storage.jobs import JobStore
from storage.quotas import QuotaStore
from tests.support.quotas import ALICE, GUILD, MOD, commit, reserve


async def delivered(db: Database, quotas: QuotaStore, seconds: int = 5) -> int:
    """A job reserved, delivered and charged, as the engine leaves one."""
    job_id, _ = await reserve(db, quotas, ALICE, seconds)
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE jobs SET state = 'delivered', delivered_message_id = 7 WHERE id = ?", (job_id,)
        )
    assert await commit(db, quotas, job_id, seconds)
    return job_id


async def ledger(db: Database, job_id: int) -> list[tuple[str, int]]:
    rows = await db.fetch_all(
        "SELECT kind, seconds FROM quota_ledger WHERE job_id = ? ORDER BY id", (job_id,)
    )
    return [(row[0], int(row[1])) for row in rows]


async def test_a_deleted_video_is_marked_once_and_keeps_its_charge(
    db: Database, clock: VirtualClock
) -> None:
    jobs, quotas = JobStore(db, clock=clock), QuotaStore(db, default_seconds=100, clock=clock)
    job_id = await delivered(db, quotas)
    charged = await ledger(db, job_id)
    used = (await quotas.allowance(guild_id=GUILD, user_id=ALICE)).used_seconds
    assert not (await jobs.get(job_id)).deleted  # type: ignore[union-attr]

    clock.advance(60)
    assert await jobs.mark_deleted(job_id, by=MOD) is True
    job = await jobs.get(job_id)
    assert job is not None and job.deleted
    assert (job.deleted_at, job.deleted_by) == (clock(), MOD)
    assert job.delivered_message_id == 7, "the row is kept as it was, only marked"

    clock.advance(60)
    assert await jobs.mark_deleted(job_id, by=ALICE) is False, "deleting twice marks once"
    again = await jobs.get(job_id)
    assert again is not None and (again.deleted_at, again.deleted_by) == (job.deleted_at, MOD)
    assert await ledger(db, job_id) == charged
    assert (await quotas.allowance(guild_id=GUILD, user_id=ALICE)).used_seconds == used


async def test_a_video_not_delivered_cannot_be_marked_deleted(
    db: Database, clock: VirtualClock
) -> None:
    jobs, quotas = JobStore(db, clock=clock), QuotaStore(db, default_seconds=100, clock=clock)
    job_id, _ = await reserve(db, quotas, ALICE, 5)  # still queued
    assert await jobs.mark_deleted(job_id, by=ALICE) is False
    job = await jobs.get(job_id)
    assert job is not None and not job.deleted and job.deleted_by is None

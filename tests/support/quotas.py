"""Quota helpers at the store: jobs, reservations, commits and refunds in one transaction each, as
the engine makes them; UTC moments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot.domain.quota import Allowance
from storage.database import Database, Transaction
from storage.quotas import QuotaStore

GUILD = 1001


ALICE, BOB = 11, 12


MOD = 99


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


async def insert_job(tx: Transaction, user_id: int, guild_id: int | None = GUILD) -> int:
    """Insert the smallest job row the reservation's foreign key needs."""
    row = await tx.fetch_one(
        "INSERT INTO jobs (state, guild_id, user_id, model, resolution, duration, request_json,"
        " created_at, updated_at) VALUES ('queued', ?, ?, 'wan2.2-i2v-flash', '480P', 5, '{}', 0, 0)"
        " RETURNING id",
        (guild_id, user_id),
    )
    assert row is not None
    return int(row[0])


async def reserve(
    db: Database,
    store: QuotaStore,
    user_id: int,
    seconds: int,
    *,
    guild_id: int | None = GUILD,
    role_ids: Sequence[int] = (),
    exempt: bool = False,
) -> tuple[int, Allowance]:
    """Queue a job and reserve for it in one transaction, as the engine does."""
    async with db.transaction() as tx:
        job_id = await insert_job(tx, user_id, guild_id)
        allowance = await store.reserve(
            tx,
            guild_id=guild_id,
            user_id=user_id,
            role_ids=role_ids,
            seconds=seconds,
            job_id=job_id,
            exempt=exempt,
        )
    return job_id, allowance


async def commit(db: Database, store: QuotaStore, job_id: int, billed: int) -> bool:
    async with db.transaction() as tx:
        return await store.commit(tx, job_id=job_id, billed_seconds=billed)


async def refund(db: Database, store: QuotaStore, job_id: int, reason: str = "failed") -> bool:
    async with db.transaction() as tx:
        return await store.refund(tx, job_id=job_id, reason=reason)

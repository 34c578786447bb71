"""What several processes sharing one database agree on through it: who carries each delivery
(a lease), which cancels wait for the scheduler, and which queued jobs it has not seen yet.

Claims are conditional updates inside a write transaction, and every write transaction holds
the database's write lock (see storage/database.py), so two processes never claim one row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from storage.database import Database
from storage.jobs import Job, JobState

CARRIED = (JobState.DOWNLOADING.value, JobState.DELIVERING.value)


class Coordination:
    """The SQL of leases, cancel requests and new-job discovery."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    async def claim_delivery(
        self, owner: str, lease_seconds: float, *, job_id: int | None = None
    ) -> Job | None:
        """Take the lease of a delivery nobody carries (or whose carrier's lease lapsed):
        `job_id`'s, else the oldest. Return it, or None."""
        now = self._clock()
        parameters: dict[str, object] = {
            "owner": owner,
            "until": now + lease_seconds,
            "now": now,
            "downloading": CARRIED[0],
            "delivering": CARRIED[1],
        }
        only = ""
        if job_id is not None:
            only, parameters["job_id"] = "AND id = :job_id", job_id
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(
                "UPDATE jobs SET lease_owner = :owner, lease_expires_at = :until"
                " WHERE id = (SELECT id FROM jobs WHERE state IN (:downloading, :delivering)"
                "   AND (lease_owner IS NULL OR lease_expires_at < :now)"
                f"  {only} ORDER BY id LIMIT 1)"
                " RETURNING *",
                parameters,
            )
        return Job.from_row(row) if row else None

    async def renew(self, owner: str, job_ids: Sequence[int], lease_seconds: float) -> set[int]:
        """Extend `owner`'s leases on `job_ids`; return those it still holds."""
        if not job_ids:
            return set()
        marks = ", ".join("?" * len(job_ids))
        async with self._db.transaction() as tx:
            rows = await tx.fetch_all(
                f"UPDATE jobs SET lease_expires_at = ? WHERE lease_owner = ? AND id IN ({marks})"
                " RETURNING id",
                (self._clock() + lease_seconds, owner, *job_ids),
            )
        return {int(row[0]) for row in rows}

    async def release(self, owner: str, job_ids: Sequence[int]) -> None:
        """Give up `owner`'s leases on `job_ids` (stopping: another process may take them now)."""
        if not job_ids:
            return
        marks = ", ".join("?" * len(job_ids))
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL"
                f" WHERE lease_owner = ? AND id IN ({marks})",
                (owner, *job_ids),
            )
            await tx.notify("delivery", "released")

    async def announce(self, topic: str, payload: str) -> None:
        """Tell every process that something is there for it (a queued job, a delivery)."""
        async with self._db.transaction() as tx:
            await tx.notify(topic, payload)

    async def clear_leases(self) -> None:
        """Forget every lease (only when no other process can hold one: SQLite's one process)."""
        async with self._db.transaction() as tx:
            await tx.execute("UPDATE jobs SET lease_owner = NULL WHERE lease_owner IS NOT NULL")

    async def request_cancel(self, job_id: int) -> None:
        """Leave a cancel for the scheduler, wherever it runs."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE jobs SET cancel_requested_at = ? WHERE id = ?", (self._clock(), job_id)
            )
            await tx.notify("cancel", str(job_id))

    async def take_cancel_requests(self) -> list[int]:
        """The jobs whose cancel waits for the scheduler, each handed out once."""
        async with self._db.transaction() as tx:
            rows = await tx.fetch_all(
                "UPDATE jobs SET cancel_requested_at = NULL"
                " WHERE cancel_requested_at IS NOT NULL RETURNING id"
            )
        return sorted(int(row[0]) for row in rows)

    async def queued_after(self, job_id: int) -> list[Job]:
        """Queued jobs with an id above `job_id`, oldest first. Ids are handed out inside the
        write lock, so they commit in order: nothing below the highest seen appears later."""
        rows = await self._db.fetch_all(
            "SELECT * FROM jobs WHERE state = ? AND id > ? ORDER BY id",
            (JobState.QUEUED.value, job_id),
        )
        return [Job.from_row(row) for row in rows]

    async def waiting(self, guild_id: int | None, user_id: int) -> int:
        """How many jobs a member has queued (for a process that does not hold the line)."""
        row = await self._db.fetch_one(
            "SELECT COUNT(*) FROM jobs WHERE state = ? AND guild_id IS NOT DISTINCT FROM ?"
            " AND user_id = ?",
            (JobState.QUEUED.value, guild_id, user_id),
        )
        return int(row[0]) if row else 0

"""What several processes sharing one database agree on through it: who carries each delivery
(a lease), which cancels wait for the scheduler, and which queued jobs it has not seen yet.

Claims are conditional updates inside a write transaction, and every write transaction holds
the database's write lock (see storage/database.py), so two processes never claim one row.
Lease times are the database's clock (`NOW_SQL`), never one machine's against another's. A
carrier's writes about its job are fenced by its lease (`check_lease`): once another process has
claimed the job, the old carrier's writes are refused with `LeaseLost`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from bot.domain.jobs import Job, JobState
from storage.database import NOW_SQL, Database, Transaction
from storage.jobs import job_from_row

CARRIED = (JobState.DOWNLOADING.value, JobState.DELIVERING.value)


class LeaseLost(Exception):
    """Another process carries this delivery now: this one's write about it is refused."""

    def __init__(self, job_id: int) -> None:
        super().__init__(f"job {job_id}: the delivery's lease passed to another process")
        self.job_id = job_id


class Coordination:
    """The SQL of leases, cancel requests and new-job discovery."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock
        self._now = NOW_SQL[db.dialect]

    async def claim_delivery(
        self, owner: str, lease_seconds: float, *, job_id: int | None = None
    ) -> Job | None:
        """Take the lease of a delivery nobody carries (or whose carrier's lease lapsed):
        `job_id`'s, else the oldest. Return it, or None."""
        parameters: dict[str, object] = {
            "owner": owner,
            "seconds": lease_seconds,
            "now": self._clock(),
            "downloading": CARRIED[0],
            "delivering": CARRIED[1],
        }
        free = f"lease_owner IS NULL OR lease_expires_at < {self._now}"
        if job_id is not None:  # one job: held for this owner (see `hold`) counts as free
            free = f"id = :job_id AND ({free} OR lease_owner = :owner)"
            parameters["job_id"] = job_id
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(
                f"UPDATE jobs SET lease_owner = :owner, lease_expires_at = {self._now} + :seconds"
                " WHERE id = (SELECT id FROM jobs WHERE state IN (:downloading, :delivering)"
                f"   AND ({free}) ORDER BY id LIMIT 1)"
                " RETURNING *",
                parameters,
            )
        return job_from_row(row) if row else None

    async def hold(self, tx: Transaction, owner: str, job_id: int, lease_seconds: float) -> None:
        """In `tx`, lease `job_id`'s delivery to `owner` before it is offered to anyone, so no
        other process takes it before `owner` has said what it had to say about the job."""
        await tx.execute(
            f"UPDATE jobs SET lease_owner = :owner, lease_expires_at = {self._now} + :seconds"
            " WHERE id = :job_id",
            {"owner": owner, "seconds": lease_seconds, "job_id": job_id, "now": self._clock()},
        )

    async def renew(self, owner: str, job_ids: Sequence[int], lease_seconds: float) -> set[int]:
        """Extend `owner`'s leases on `job_ids`; return those it still holds."""
        if not job_ids:
            return set()
        ids = {f"job{n}": job_id for n, job_id in enumerate(job_ids)}
        marks = ", ".join(f":{name}" for name in ids)
        async with self._db.transaction() as tx:
            rows = await tx.fetch_all(
                f"UPDATE jobs SET lease_expires_at = {self._now} + :seconds"
                f" WHERE lease_owner = :owner AND id IN ({marks}) RETURNING id",
                {"seconds": lease_seconds, "owner": owner, "now": self._clock(), **ids},
            )
        return {int(row[0]) for row in rows}

    async def check_lease(self, tx: Transaction, owner: str, job_id: int) -> None:
        """Refuse (LeaseLost) the rest of `tx` unless `owner` still carries `job_id`."""
        row = await tx.fetch_one("SELECT lease_owner FROM jobs WHERE id = ?", (job_id,))
        if row is None or row[0] != owner:
            raise LeaseLost(job_id)

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
        return [job_from_row(row) for row in rows]

    async def waiting(self, guild_id: int | None, user_id: int) -> int:
        """How many jobs a member has queued (for a process that does not hold the line)."""
        row = await self._db.fetch_one(
            "SELECT COUNT(*) FROM jobs WHERE state = ? AND guild_id IS NOT DISTINCT FROM ?"
            " AND user_id = ?",
            (JobState.QUEUED.value, guild_id, user_id),
        )
        return int(row[0]) if row else 0

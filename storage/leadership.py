"""The scheduler's term: which process schedules, under which generation, until when.

Exactly one process schedules: the one holding the database's `scheduler` lock (see
storage/database.py `ProcessLock`). Holding the lock is not enough to write, though: a process
whose lock connection was cut keeps running until it notices, and a machine that went silent
may wake up. So winning the role also takes a *term*: in the transaction that takes over, the
role's generation goes up by one. Every write the scheduler makes about a job first checks, in
the same transaction, that its generation is still the current one (`check`); a deposed
scheduler's writes are refused with `Deposed`, and it stops at once. Writes follow each other
through the database's write lock, so a check and the write after it cannot straddle a takeover.

The holder renews its term on the database's clock while it lives. A term that lapsed while its
holder's lock session still holds the lock means that holder went silent (power lost, network
gone, without closing its TCP connection): a standby then ends that session (`lapsed_session`),
and the lock, and with it the role, is free.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from storage.database import NOW_SQL, Database, Transaction

SCHEDULER = "scheduler"


class Deposed(Exception):
    """This process's term ended: another process schedules now, and this one's write is refused."""

    def __init__(self, generation: int, current: int | None) -> None:
        super().__init__(f"scheduler term {generation} ended (current term: {current})")
        self.generation = generation
        self.current = current


@dataclass(frozen=True)
class Term:
    """A role as the database has it."""

    generation: int
    holder: str
    holder_session: int | None
    expires_at: float


class Leadership:
    """The SQL of one role's term."""

    def __init__(
        self, db: Database, role: str = SCHEDULER, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._db = db
        self._role = role
        self._clock = clock
        self._now = NOW_SQL[db.dialect]

    def _parameters(self, **values: object) -> dict[str, object]:
        return {"role": self._role, "now": self._clock(), **values}

    async def take(self, holder: str, session: int | None, seconds: float) -> int:
        """Begin a new term for `holder` (its lock connection's `session`); return its
        generation. Call only while holding the role's lock."""
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(
                "INSERT INTO leadership (role, generation, holder, holder_session, expires_at)"
                f" VALUES (:role, 1, :holder, :session, {self._now} + :seconds)"
                " ON CONFLICT (role) DO UPDATE SET generation = leadership.generation + 1,"
                " holder = excluded.holder, holder_session = excluded.holder_session,"
                " expires_at = excluded.expires_at"
                " RETURNING generation",
                self._parameters(holder=holder, session=session, seconds=seconds),
            )
        assert row is not None
        return int(row[0])

    async def renew(self, generation: int, seconds: float) -> bool:
        """Extend the term `generation` by `seconds` from now; False if it is no longer current."""
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(
                f"UPDATE leadership SET expires_at = {self._now} + :seconds"
                " WHERE role = :role AND generation = :generation RETURNING generation",
                self._parameters(generation=generation, seconds=seconds),
            )
        return row is not None

    async def end(self, generation: int) -> None:
        """Let the term lapse now (a graceful stop), if it is still current."""
        async with self._db.transaction() as tx:
            await tx.execute(
                f"UPDATE leadership SET expires_at = {self._now}"
                " WHERE role = :role AND generation = :generation",
                self._parameters(generation=generation),
            )

    async def check(self, tx: Transaction, generation: int) -> None:
        """Refuse (Deposed) the rest of `tx` unless `generation` is the current term."""
        row = await tx.fetch_one(
            "SELECT generation FROM leadership WHERE role = :role", self._parameters()
        )
        current = int(row[0]) if row is not None else None
        if current != generation:
            raise Deposed(generation, current)

    async def current(self) -> Term | None:
        """The role's current term, if any process ever held it."""
        row = await self._db.fetch_one(
            "SELECT generation, holder, holder_session, expires_at FROM leadership"
            " WHERE role = :role",
            self._parameters(),
        )
        if row is None:
            return None
        return Term(int(row[0]), str(row[1]), row[2], float(row[3]))

    async def lapsed_session(self) -> int | None:
        """The lock session of a holder whose term lapsed on the database's clock (it stopped
        renewing: gone silent), or None while the term runs."""
        row = await self._db.fetch_one(
            "SELECT holder_session FROM leadership"
            f" WHERE role = :role AND expires_at < {self._now} AND holder_session IS NOT NULL",
            self._parameters(),
        )
        return int(row[0]) if row is not None else None

"""Quota history row by row: seconds per UTC day and member, and the ledger between two moments.

`read_daily_usage` counts what `QuotaStore.usage` totals (USED_SECONDS of the COUNTED
reservations, by when they were reserved), so a chart of the days adds up to the report's numbers.
Days are bucketed in Python: a period holds at most a month of one guild's reservations, and
SQLite and PostgreSQL turn a float timestamp into a day (or round it) each their own way.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime

from bot.domain.quota import LedgerEntry
from storage.database import Database

# What a reservation counts for in a report: billed seconds once committed, else what it holds.
USED_SECONDS = "CASE state WHEN 'committed' THEN billed_seconds ELSE reserved_seconds END"
COUNTED = "state IN ('held', 'committed')"


@dataclass(frozen=True)
class DayUsage:
    """What one member used on one UTC day."""

    day: date
    user_id: int
    seconds: int
    jobs: int


async def read_daily_usage(db: Database, guild_id: int, start: float, end: float) -> list[DayUsage]:
    """Seconds and videos per UTC day and member reserved in [start, end), by day then member."""
    rows = await db.fetch_all(
        f"SELECT user_id, reserved_at, {USED_SECONDS} AS seconds FROM quota_reservations"
        f" WHERE guild_id = ? AND reserved_at >= ? AND reserved_at < ? AND {COUNTED}",
        (guild_id, start, end),
    )
    totals: defaultdict[tuple[date, int], list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        day = datetime.fromtimestamp(row["reserved_at"], UTC).date()
        total = totals[day, row["user_id"]]
        total[0] += row["seconds"]
        total[1] += 1
    return [
        DayUsage(day=day, user_id=user_id, seconds=seconds, jobs=jobs)
        for (day, user_id), (seconds, jobs) in sorted(totals.items())
    ]


async def read_ledger(
    db: Database,
    guild_id: int,
    *,
    user_id: int | None = None,
    since: float | None = None,
    until: float | None = None,
    limit: int | None = 50,
) -> list[LedgerEntry]:
    """Ledger rows recorded in [since, until) (either end open when None), newest first, at most
    `limit` of them (None: all)."""
    where: list[str] = ["guild_id = ?"]
    parameters: list[float] = [guild_id]
    for condition, value in (("user_id = ?", user_id), ("at >= ?", since), ("at < ?", until)):
        if value is not None:
            where.append(condition)
            parameters.append(value)
    query = (
        "SELECT id, at, guild_id, user_id, job_id, kind, seconds, actor_id, reason"
        f" FROM quota_ledger WHERE {' AND '.join(where)} ORDER BY id DESC"
    )
    if limit is not None:
        query += " LIMIT ?"
        parameters.append(limit)
    rows = await db.fetch_all(query, tuple(parameters))
    return [
        LedgerEntry(
            id=row["id"],
            at=row["at"],
            guild_id=row["guild_id"] or None,
            user_id=row["user_id"],
            job_id=row["job_id"],
            kind=row["kind"],
            seconds=row["seconds"],
            actor_id=row["actor_id"],
            reason=row["reason"],
        )
        for row in rows
    ]

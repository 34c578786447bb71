"""Retention on a backlog: how long each of its write transactions holds the write lock, and how
fast the backlog goes, on SQLite and on PostgreSQL.

The database holds JOBS jobs that ended 100–200 days ago (each with EVENTS state changes, ANSWERS
provider answers and two ledger rows) and RECENT jobs that ended in the last month, as a bot that
ran for half a year before retention existed would. `Retention(days=90)` is then called as the
scheduler's tick calls it, until its walk is done.

- `retention_write_ms_max_{sqlite,pg}`: the longest write transaction of a batch (BEGIN to COMMIT,
  the write lock taken included): what any other write may have waited behind it.
- `retention_call_ms_max_{sqlite,pg}`: the longest single call (what one tick spent on it).
- `retention_rows_per_s_{sqlite,pg}`: rows deleted per second of the calls' own time.
- `retention_calls_{sqlite,pg}`: calls (ticks) the backlog took.

The PostgreSQL server is started here (`pgserver`, as the tests do) and stopped at the end.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import warnings
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import percentile, report, report_header

from storage.connect import open_database
from storage.database import Database, Transaction
from storage.retention import DAY, Retention

JOBS = 100_000
RECENT = 10_000
EVENTS = 5
ANSWERS = 3
NOW = 1_800_000_000.0

# One job every ~86 s from 200 days ago to 100 days ago, then the recent ones over the last month.
_JOBS = """
INSERT INTO jobs (id, state, guild_id, user_id, model, resolution, duration, request_json,
                  reserved_seconds, billed_seconds, created_at, updated_at, finished_at)
SELECT n, 'delivered', 1, n % 50, 'wan2.7-i2v', '720P', 5, '{{}}', 5, 5, {at}, {at}, {at} + 120
FROM ({series}) AS s
"""
_EVENTS = """
INSERT INTO job_events (job_id, at, from_state, to_state)
SELECT n / {EVENTS} + 1, {job_at}, NULL, 'running' FROM ({series}) AS s
"""
_ANSWERS = """
INSERT INTO job_responses (job_id, at, call, body_json)
SELECT n / {ANSWERS} + 1, {job_at}, 'query', '{{"output": {{"task_status": "RUNNING"}}}}'
FROM ({series}) AS s
"""
_LEDGER = """
INSERT INTO quota_ledger (at, guild_id, user_id, job_id, kind, seconds)
SELECT {job_at}, 1, 0, n / 2 + 1, 'reserve', 5 FROM ({series}) AS s
"""


def series(dialect: str, first: int, last: int) -> str:
    """Rows n = first … last, in the dialect's way."""
    if dialect == "postgres":
        return f"SELECT generate_series({first}, {last}) AS n"
    return (
        f"WITH RECURSIVE r(n) AS (SELECT {first} UNION ALL SELECT n + 1 FROM r WHERE n < {last})"
        " SELECT n FROM r"
    )


def when(job: str) -> str:
    """When job number `job` (1-based SQL expression) was made: old ones, then recent ones."""
    return (
        f"(CASE WHEN {job} <= {JOBS} THEN {NOW - 200 * DAY} + ({job}) * {100 * DAY / JOBS}"
        f" ELSE {NOW - 30 * DAY} + ({job} - {JOBS}) * {29 * DAY / RECENT} END)"
    )


async def fill(db: Database) -> int:
    """The backlog; return the rows retention should delete."""
    total = JOBS + RECENT
    dialect = db.dialect
    async with db.transaction() as tx:
        await tx.execute(_JOBS.format(at=when("n"), series=series(dialect, 1, total)))
        for sql, rows, per in (
            (_EVENTS, total * EVENTS, EVENTS),
            (_ANSWERS, total * ANSWERS, ANSWERS),
            (_LEDGER, total * 2, 2),
        ):
            job_at = when(f"(n / {per} + 1)")
            await tx.execute(
                sql.format(
                    EVENTS=EVENTS,
                    ANSWERS=ANSWERS,
                    job_at=job_at,
                    series=series(dialect, 0, rows - 1),
                )
            )
    if dialect == "postgres":
        await db.fetch_all("ANALYZE")
    # Jobs 1..JOBS ended long ago; their events, answers and ledger rows go.
    return JOBS * (EVENTS + ANSWERS + 2)


def timed(db: Database, writes: list[float]) -> None:
    """Record how long each write transaction of `db` lasts, from asking for it to its commit."""
    real = db.transaction

    @asynccontextmanager
    async def transaction() -> AsyncIterator[Transaction]:
        started = time.perf_counter()
        async with real() as tx:
            yield tx
        writes.append(time.perf_counter() - started)

    def make() -> AbstractAsyncContextManager[Transaction]:
        return transaction()

    db.transaction = make  # type: ignore[method-assign]


async def measure(target: str, name: str) -> None:
    async with await open_database(target) as db:
        expected = await fill(db)
        writes: list[float] = []
        timed(db, writes)
        retention = Retention(db, days=90, clock=lambda: NOW)
        calls: list[float] = []
        deleted = 0
        while True:
            started = time.perf_counter()
            gone = await retention.run_if_due()
            calls.append(time.perf_counter() - started)
            if not gone:
                break
            deleted += sum(gone.values())
    if deleted != expected:
        raise SystemExit(f"{name}: deleted {deleted} rows, expected {expected}")
    report(f"retention_write_ms_max_{name}", max(writes) * 1000)
    report(f"retention_write_ms_p50_{name}", percentile(writes, 0.5) * 1000)
    report(f"retention_call_ms_max_{name}", max(calls) * 1000)
    report(f"retention_call_ms_p50_{name}", percentile(calls, 0.5) * 1000)
    report(f"retention_rows_per_s_{name}", deleted / sum(calls))
    report(f"retention_calls_{name}", len(calls) - 1)


def main() -> None:
    report_header(__file__, "real time (the retention's own clock is fixed)")
    report("backlog_rows", JOBS * (EVENTS + ANSWERS + 2))
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(measure(str(Path(folder) / "bench.sqlite3"), "sqlite"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pgserver and platformdirs (see tests/conftest.py)
        import pgserver

    folder = Path(tempfile.mkdtemp(prefix="wanbot-pg-"))
    folder.chmod(0o755)
    server = pgserver.get_server(folder, cleanup_mode="delete")
    try:
        asyncio.run(measure(server.get_uri(), "pg"))
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()

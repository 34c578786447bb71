"""Quota throughput and exactness: 1,000 concurrent jobs, each reserve → commit or refund.

Each job queues like the engine does (its job row and its reservation in one transaction), then
settles in a second transaction: two of three commit (some billed a second less than reserved),
one of three is refunded. Afterwards the totals the store reports are checked against what the
jobs did. Prints `name: value` lines; the figure is the median of 5 runs, each on a fresh file.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage.database import Database
from storage.quotas import QuotaStore

JOBS = 1000
USERS = 100
SECONDS = 5
RUNS = 5
GUILD = 1


async def _job(db: Database, store: QuotaStore, n: int) -> int:
    """Run one job; return the seconds it should leave charged."""
    async with db.transaction() as tx:
        cursor = await tx.execute(
            "INSERT INTO jobs (state, guild_id, user_id, model, resolution, duration,"
            " request_json, created_at, updated_at)"
            " VALUES ('queued', ?, ?, 'wan2.2-i2v-flash', '480P', ?, '{}', 0, 0)",
            (GUILD, n % USERS, SECONDS),
        )
        job_id = cursor.lastrowid
        assert job_id is not None
        await store.reserve(tx, guild_id=GUILD, user_id=n % USERS, seconds=SECONDS, job_id=job_id)
    async with db.transaction() as tx:
        if n % 3 == 2:
            assert await store.refund(tx, job_id=job_id, reason="failed")
            return 0
        billed = SECONDS - n % 2
        assert await store.commit(tx, job_id=job_id, billed_seconds=billed)
        return billed


async def _run(folder: Path, index: int) -> tuple[float, int]:
    """Return (operations per second, lost updates) of one run."""
    async with await Database.open(folder / f"run{index}.sqlite3") as db:
        # 10 jobs of 5 s per user fit in 60 s: every reservation must succeed.
        store = QuotaStore(db, default_seconds=60)
        started = time.perf_counter()
        charged = await asyncio.gather(*(_job(db, store, n) for n in range(JOBS)))
        elapsed = time.perf_counter() - started
        expected = sum(charged)
        used = 0
        for user_id in range(USERS):
            allowance = await store.allowance(guild_id=GUILD, user_id=user_id)
            assert allowance.held_seconds == 0
            used += allowance.used_seconds
        report = await store.usage(GUILD)
        lost = abs(expected - used) + abs(expected - report.total_seconds)
        return 2 * JOBS / elapsed, lost


async def _round_trip_us(folder: Path) -> float:
    """Time one trip to aiosqlite's worker thread (a trivial statement), in microseconds."""
    async with await Database.open(folder / "trip.sqlite3") as db:
        count = 2000
        started = time.perf_counter()
        for _ in range(count):
            await db.connection.execute_fetchall("SELECT 1")
        return (time.perf_counter() - started) / count * 1e6


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="wanbot-bench-") as name:
        folder = Path(name)
        results = [await _run(folder, index) for index in range(RUNS)]
        round_trip = await _round_trip_us(folder)
    rates = [rate for rate, _ in results]
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"quota_jobs: {JOBS} concurrent, {USERS} users, {RUNS} runs")
    print(f"quota_ops_per_s: {statistics.median(rates):.0f}")
    print(f"quota_ops_per_s_runs: {' '.join(f'{rate:.0f}' for rate in rates)}")
    print(f"quota_lost_updates: {sum(lost for _, lost in results)}")
    print(f"aiosqlite_round_trip_us: {round_trip:.0f}")
    print("reproduce: python bench/bench_quota.py")


if __name__ == "__main__":
    asyncio.run(main())

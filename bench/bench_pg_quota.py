"""Quota throughput and exactness across four processes on one PostgreSQL database.

The PostgreSQL counterpart of `bench_quota.py` (b): PROCESSES OS processes, each with its own
`open_database(url)` (its own asyncpg pool), reserve → commit or refund for the same USERS
members of one guild, whose ALLOWANCE s is far less than what is asked (each member is asked for
125 jobs of 5 s, 625 s; refunds give seconds back, so about 50 of the 125 get through). Which
reservations are refused depends on how the processes' transactions interleave.

Each process runs JOBS jobs, LANES at a time (each lane runs jobs back to back, so commits and
refunds land between other reservations instead of queueing behind all of them for the pool).
A job is bench_quota's: its job row and its reservation in one transaction, then commit (billed
5 s or 4 s) or refund (one in three) in a second.

- `pg_quota_ops_per_s`: settled jobs (reserve + settle pairs) per second of wall time, from the
  first process's start to the last one's end, all processes together; median of RUNS runs.
  Refused reservations cost a transaction each but are not counted; `pg_quota_transactions_per_s`
  counts every transaction (reservations tried, refused or not, and settlements), which is how
  `quota_ops_per_s` (one SQLite connection) counts.
- `pg_quota_lost_updates`: after each run, bench_quota's `check_contended` compares the database
  with what each process says it did (every reservation row, its state and billed seconds; the
  ledger's sums per member and kind; the store's allowance and usage report; and, replaying the
  ledger in order, that no member ever had more than the allowance held + committed); the sum of
  the discrepancies of all runs. It can come out badly: `--without-write-lock` runs the same
  workers without the advisory lock every write transaction takes, and the check finds members
  overdrawn.

The bench starts its own PostgreSQL (the `pgserver` package, as the tests do) in a temporary
folder, gives each run a fresh schema, and stops the server at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg
from bench_quota import SECONDS, WorkerLog, check_contended, contended_job, race, run_worker
from benchlib import report, report_header

import storage.postgres
from storage.connect import open_database
from storage.database import Database
from storage.quotas import QuotaStore

PROCESSES = 4
JOBS = 500  # per process
LANES = 20  # jobs in flight per process (each process's pool has 10 connections)
USERS = 16
ALLOWANCE = 150  # seconds per member: 30 jobs of 5 s held or committed at once
RUNS = 3
NO_LOCK = "SELECT 1"  # what --without-write-lock runs instead of the advisory lock


@contextmanager
def postgres_server(folder: Path) -> Iterator[str]:
    """A throwaway PostgreSQL server in `folder`; yields its URL and stops it afterwards."""
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime folder at import (see tests/conftest.py).
        warnings.simplefilter("ignore")
        import pgserver

    server = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


async def _new_schema(server_url: str, schema: str) -> str:
    """Create `schema`, migrate it, and return a URL whose connections see only it."""
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f"CREATE SCHEMA {schema}")
    finally:
        await connection.close()
    url = f"{server_url}{'&' if '?' in server_url else '?'}search_path={schema}"
    async with await open_database(url):  # migrate once, before the workers race
        pass
    return url


async def _worker(url: str, worker: int, *, without_lock: bool) -> None:
    if without_lock:
        storage.postgres.WRITE_LOCK = NO_LOCK  # the control: writers no longer queue

    async def jobs(db: Database, store: QuotaStore, out: WorkerLog) -> None:
        numbers = iter(range(JOBS))  # shared by the lanes: each takes the next job

        async def lane() -> None:
            for n in numbers:
                await contended_job(
                    db, store, worker, n, out, users=USERS, arrival_spread_s=0, settle_after_s=0
                )

        await asyncio.gather(*(lane() for _ in range(LANES)))

    await run_worker(url, jobs, allowance=ALLOWANCE)


def _run(server_url: str, index: int, *, without_lock: bool) -> dict:
    url = asyncio.run(_new_schema(server_url, f"run{index}"))
    flags = ["--without-write-lock"] if without_lock else []
    logs = race(
        [
            [sys.executable, __file__, "--worker", str(worker), "--url", url, *flags]
            for worker in range(PROCESSES)
        ]
    )
    problems, worst, switches = asyncio.run(
        check_contended(url, logs, users=USERS, allowance=ALLOWANCE)
    )
    wall = max(entry["finished_at"] for entry in logs) - min(entry["started_at"] for entry in logs)
    settled = sum(len(entry["committed"]) + len(entry["refunded"]) for entry in logs)
    return {
        "problems": problems,
        "switches": switches,
        "worst_over": worst,
        "refused": sum(entry["refused"] for entry in logs),
        "reserved": sum(len(entry["reserved"]) for entry in logs),
        "settled": settled,
        "errors": [error for entry in logs for error in entry["errors"]],
        "wall": wall,
        "ops_per_s": settled / wall,
        "transactions_per_s": (PROCESSES * JOBS + settled) / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--without-write-lock",
        action="store_true",
        help="the control: skip the advisory lock, so the check should find lost updates",
    )
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        asyncio.run(_worker(args.url, args.worker, without_lock=args.without_write_lock))
        return
    name = "pg_quota_without_lock" if args.without_write_lock else "pg_quota"
    with (
        tempfile.TemporaryDirectory(prefix="wanbot-bench-pg-") as folder,
        postgres_server(Path(folder) / "pg") as server_url,
    ):
        runs = [
            _run(server_url, index, without_lock=args.without_write_lock) for index in range(RUNS)
        ]
    report_header(
        __file__,
        "wall clock (time.time, from the first process's start to the last one's end)",
        ["--without-write-lock"] if args.without_write_lock else [],
    )
    report(
        f"{name}_set_up",
        f"{PROCESSES} processes x {JOBS} jobs ({LANES} at a time), {USERS} members,"
        f" {ALLOWANCE} s allowance, {SECONDS} s jobs, {RUNS} runs, one PostgreSQL server",
    )
    for index, run in enumerate(runs, start=1):
        report(
            f"{name}_run_{index}",
            f"{run['ops_per_s']:.0f} settled jobs/s ({run['settled']} in {run['wall']:.1f} s,"
            f" {run['transactions_per_s']:.0f} transactions/s), {len(run['problems'])}"
            f" discrepancies, {run['reserved']} reserved, {run['refused']} refused,"
            f" {len(run['errors'])} errors, worst overdraft {run['worst_over']} s,"
            f" ledger switched process {run['switches']} times",
        )
        for problem in run["problems"][:5] + run["errors"][:5]:
            print(f"# run {index}: {problem}")
    report(f"{name}_processes", PROCESSES)
    report(f"{name}_cores", os.cpu_count())
    report(f"{name}_ops_per_s", round(statistics.median(run["ops_per_s"] for run in runs)))
    report(
        f"{name}_transactions_per_s",
        round(statistics.median(run["transactions_per_s"] for run in runs)),
    )
    report(f"{name}_refused", round(statistics.median(run["refused"] for run in runs)))
    report(f"{name}_errors", sum(len(run["errors"]) for run in runs))
    report(f"{name}_max_over_allowance_s", max(run["worst_over"] for run in runs))
    report(f"{name}_lost_updates", sum(len(run["problems"]) for run in runs))
    print(
        f"# {name}_ops_per_s and _transactions_per_s are medians of {RUNS} runs; _lost_updates sums"
        " the discrepancies of all runs. max_over_allowance <= 0: no member was ever overdrawn."
    )


if __name__ == "__main__":
    main()

"""Quota throughput on one connection, and exactness across two processes that contend.

(a) Throughput (`quota_ops_per_s`): 1,000 concurrent jobs on one Database, each reserve → commit
    or refund. Each job queues like the engine does (its job row and its reservation in one
    transaction), then settles in a second: two of three commit (some billed a second less than
    reserved), one of three is refunded. The figure is the median of 5 runs, each on a fresh file.
(b) Exactness (`quota_lost_updates`): two OS processes, each with its own `Database` (its own
    SQLite connection) on the same file, each run 400 concurrent jobs for the same 8 members
    whose 60 s allowance holds 12 of the 5 s jobs: far more is asked than fits, so most
    reservations are refused, and which ones depends on how the two processes interleave. After
    both exit, the parent checks the file against what each process says it did: every
    reservation row, its state and billed seconds; the ledger's sums per member and kind; the
    store's own allowance and usage report; and, replaying the ledger in order, that no member
    ever had more than the allowance held + committed. `quota_lost_updates` is the number of
    discrepancies. It can come out badly: a reservation that read the member's usage outside the
    write lock, or a settle that raced another, shows up as an overdraft or a sum that differs.
    The median of 3 runs is printed with each run's counts.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.domain.errors import QuotaExceeded
from bot.domain.quota import Period
from storage.connect import open_database
from storage.database import Database
from storage.quotas import QuotaStore

JOBS = 1000
USERS = 100
SECONDS = 5
RUNS = 5
GUILD = 1

# (b): two processes
PROCESSES = 2
CONTENDED_JOBS = 400  # per process
CONTENDED_USERS = 8
ALLOWANCE = 60  # seconds per member; 12 jobs of 5 s
CONTENDED_RUNS = 3
ARRIVAL_SPREAD_S = 1.0
SETTLE_AFTER_S = 0.2


async def _job(db: Database, store: QuotaStore, n: int) -> int:
    """Run one job; return the seconds it should leave charged."""
    async with db.transaction() as tx:
        row = await tx.fetch_one(
            "INSERT INTO jobs (state, guild_id, user_id, model, resolution, duration,"
            " request_json, created_at, updated_at)"
            " VALUES ('queued', ?, ?, 'wan2.2-i2v-flash', '480P', ?, '{}', 0, 0) RETURNING id",
            (GUILD, n % USERS, SECONDS),
        )
        assert row is not None
        job_id = int(row[0])
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
    async with await open_database(folder / f"run{index}.sqlite3") as db:
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
    async with await open_database(folder / "trip.sqlite3") as db:
        count = 2000
        started = time.perf_counter()
        for _ in range(count):
            await db.fetch_all("SELECT 1")
        return (time.perf_counter() - started) / count * 1e6


# -- (b) two processes on one file -----------------------------------------------------------


@dataclass
class WorkerLog:
    """What one worker process says it did."""

    reserved: dict[int, tuple[int, int]] = field(default_factory=dict)  # job -> (user, seconds)
    committed: dict[int, int] = field(default_factory=dict)  # job -> billed seconds
    refunded: list[int] = field(default_factory=list)
    refused: int = 0
    errors: list[str] = field(default_factory=list)  # anything else (e.g. "database is locked")


async def contended_job(
    db: Database,
    store: QuotaStore,
    worker: int,
    n: int,
    out: WorkerLog,
    *,
    users: int = CONTENDED_USERS,
    arrival_spread_s: float = ARRIVAL_SPREAD_S,
    settle_after_s: float = SETTLE_AFTER_S,
) -> None:
    """Job `n` of process `worker`: reserve (job row and reservation in one transaction), then
    commit or refund in a second; what happened goes into `out`."""
    user = n % users
    rng = random.Random(f"{worker}:{n}")
    # In (b) jobs arrive over a second in each process, so the two processes' transactions
    # interleave (all at once, each process would run its own back to back while the other waits).
    await asyncio.sleep(rng.uniform(0, arrival_spread_s))
    try:
        async with db.transaction() as tx:
            row = await tx.fetch_one(
                "INSERT INTO jobs (state, guild_id, user_id, model, resolution, duration,"
                " request_json, created_at, updated_at)"
                " VALUES ('queued', ?, ?, 'wan2.2-i2v-flash', '480P', ?, '{}', 0, 0) RETURNING id",
                (GUILD, user, SECONDS),
            )
            assert row is not None
            job_id = int(row[0])
            await store.reserve(tx, guild_id=GUILD, user_id=user, seconds=SECONDS, job_id=job_id)
    except QuotaExceeded:
        out.refused += 1  # the job row went with the rolled-back transaction
        return
    except Exception as error:  # counted and reported, not hidden
        out.errors.append(f"reserve: {error!r}")
        return
    out.reserved[job_id] = (user, SECONDS)
    await asyncio.sleep(rng.uniform(0, settle_after_s))  # the job runs; others get in between
    try:
        async with db.transaction() as tx:
            if (n + worker) % 3 == 2:
                if await store.refund(tx, job_id=job_id, reason="failed"):
                    out.refunded.append(job_id)
            else:
                billed = SECONDS - n % 2
                if await store.commit(tx, job_id=job_id, billed_seconds=billed):
                    out.committed[job_id] = billed
    except Exception as error:
        out.errors.append(f"settle: {error!r}")


async def run_worker(
    target: Path | str,
    jobs: Callable[[Database, QuotaStore, WorkerLog], Awaitable[object]],
    *,
    allowance: int = ALLOWANCE,
) -> None:
    """One worker process: its own Database on `target`; says "ready", waits for "go" on stdin,
    runs `jobs`, then prints its log as JSON (with its start and end on the wall clock)."""
    async with await open_database(target) as db:
        store = QuotaStore(db, default_seconds=allowance, default_period=Period.MONTH)
        out = WorkerLog()
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        started, started_at = time.perf_counter(), time.time()
        await jobs(db, store, out)
        elapsed, finished_at = time.perf_counter() - started, time.time()
    print(
        json.dumps(
            {
                "reserved": {str(k): v for k, v in out.reserved.items()},
                "committed": {str(k): v for k, v in out.committed.items()},
                "refunded": out.refunded,
                "refused": out.refused,
                "errors": out.errors,
                "seconds": elapsed,
                "started_at": started_at,
                "finished_at": finished_at,
            }
        ),
        flush=True,
    )


async def _worker(path: Path, worker: int) -> None:
    async def jobs(db: Database, store: QuotaStore, out: WorkerLog) -> None:
        await asyncio.gather(
            *(contended_job(db, store, worker, n, out) for n in range(CONTENDED_JOBS))
        )

    await run_worker(path, jobs)


def race(commands: Sequence[Sequence[str]], *, timeout: float = 300) -> list[dict]:
    """Start one worker process per command, wait until each is ready, tell them all to go at
    once, and return each one's log (the last line it printed, as JSON)."""
    workers = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for command in commands
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:  # as close together as writes to pipes can be
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        logs = []
        for worker in workers:
            out, _ = worker.communicate(timeout=timeout)
            logs.append(json.loads(out.strip().splitlines()[-1]))
        return logs
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()


async def check_contended(
    target: Path | str,
    logs: list[dict],
    *,
    users: int = CONTENDED_USERS,
    allowance: int = ALLOWANCE,
) -> tuple[list[str], int, int]:
    """Compare the database at `target` with the workers' logs.

    Return the discrepancies, the worst overdraft, and how often the ledger switches from one
    process's jobs to another's (0 would mean the processes never actually contended).
    """
    problems: list[str] = []
    owner = {int(job): worker for worker, entry in enumerate(logs) for job in entry["reserved"]}
    reserved: dict[int, tuple[int, int]] = {}
    committed: dict[int, int] = {}
    refunded: set[int] = set()
    for entry in logs:
        for key, (user, seconds) in entry["reserved"].items():
            if int(key) in reserved:
                problems.append(f"job {key} reserved by both processes")
            reserved[int(key)] = (user, seconds)
        committed |= {int(k): v for k, v in entry["committed"].items()}
        refunded |= set(entry["refunded"])
    async with await open_database(target) as db:
        store = QuotaStore(db, default_seconds=allowance, default_period=Period.MONTH)
        rows = await db.fetch_all(
            "SELECT job_id, user_id, reserved_seconds, billed_seconds, state"
            " FROM quota_reservations WHERE guild_id = ?",
            (GUILD,),
        )
        stored = {row["job_id"]: row for row in rows}
        if set(stored) != set(reserved):
            problems.append(
                f"reservation rows {len(stored)} vs reported {len(reserved)}"
                f" ({len(set(stored) ^ set(reserved))} differ)"
            )
        for job_id, row in stored.items():
            expected = (
                ("committed", committed[job_id])
                if job_id in committed
                else ("refunded", None)
                if job_id in refunded
                else ("held", None)
            )
            if (row["state"], row["billed_seconds"]) != expected:
                problems.append(
                    f"job {job_id}: {row['state']}/{row['billed_seconds']} vs {expected}"
                )
        ledger = await db.fetch_all(
            "SELECT id, user_id, job_id, kind, seconds FROM quota_ledger"
            " WHERE guild_id = ? ORDER BY id",
            (GUILD,),
        )
        # Replay: held + committed per member after every ledger row never exceeds the allowance.
        held: dict[int, int] = {}
        charged: dict[int, int] = {}
        sums: dict[tuple[int, str], int] = {}
        worst = -allowance
        switches = sum(
            1
            for before, after in itertools.pairwise(ledger)
            if owner.get(before["job_id"]) != owner.get(after["job_id"])
        )
        for row in ledger:
            user, kind, seconds = row["user_id"], row["kind"], row["seconds"]
            sums[(user, kind)] = sums.get((user, kind), 0) + seconds
            size = stored[row["job_id"]]["reserved_seconds"] if row["job_id"] in stored else 0
            if kind == "reserve":
                held[user] = held.get(user, 0) + seconds
            elif kind == "commit":
                held[user] = held.get(user, 0) - size
                charged[user] = charged.get(user, 0) + seconds
            elif kind == "refund":
                held[user] = held.get(user, 0) - size
            used = held.get(user, 0) + charged.get(user, 0)
            worst = max(worst, used - allowance)
            if used > allowance:
                problems.append(f"ledger row {row['id']}: member {user} at {used} s > {allowance}")
        for user in range(users):
            mine = [job for job, (owner, _) in reserved.items() if owner == user]
            expected_sums = {
                "reserve": sum(reserved[j][1] for j in mine),
                "commit": sum(committed.get(j, 0) for j in mine),
                "refund": -sum(reserved[j][1] for j in mine if j in refunded),
            }
            for kind, value in expected_sums.items():
                if sums.get((user, kind), 0) != value:
                    problems.append(
                        f"member {user} ledger {kind} {sums.get((user, kind))} vs {value}"
                    )
            allowance = await store.allowance(guild_id=GUILD, user_id=user)
            if allowance.used_seconds != expected_sums["commit"] or allowance.held_seconds:
                problems.append(f"member {user} allowance used {allowance.used_seconds}")
        usage = await store.usage(GUILD)
        if usage.total_seconds != sum(committed.values()):
            problems.append(f"usage {usage.total_seconds} vs {sum(committed.values())}")
    return problems, worst, switches


async def _migrate(path: Path) -> None:
    async with await open_database(path):
        pass


def _contended_run(folder: Path, index: int) -> dict:
    path = folder / f"contended{index}.sqlite3"
    asyncio.run(_migrate(path))  # once, before the workers race
    logs = race(
        [
            [sys.executable, __file__, "--worker", str(worker), "--db", str(path)]
            for worker in range(PROCESSES)
        ]
    )
    problems, worst, switches = asyncio.run(check_contended(path, logs))
    return {
        "problems": problems,
        "switches": switches,
        "worst_over": worst,
        "refused": sum(entry["refused"] for entry in logs),
        "reserved": sum(len(entry["reserved"]) for entry in logs),
        "errors": [error for entry in logs for error in entry["errors"]],
        "seconds": max(entry["seconds"] for entry in logs),
    }


async def _throughput(folder: Path) -> tuple[list[float], int, float]:
    results = [await _run(folder, index) for index in range(RUNS)]
    round_trip = await _round_trip_us(folder)
    return [rate for rate, _ in results], sum(lost for _, lost in results), round_trip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        asyncio.run(_worker(args.db, args.worker))
        return
    with tempfile.TemporaryDirectory(prefix="wanbot-bench-") as name:
        folder = Path(name)
        rates, single_lost, round_trip = asyncio.run(_throughput(folder))
        runs = [_contended_run(folder, index) for index in range(CONTENDED_RUNS)]
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}")
    print("clock: wall clock (time.perf_counter)")
    print(f"quota_jobs: {JOBS} concurrent, {USERS} users, {RUNS} runs, one connection")
    print(f"quota_ops_per_s: {statistics.median(rates):.0f}")
    print(f"quota_ops_per_s_runs: {' '.join(f'{rate:.0f}' for rate in rates)}")
    print(f"quota_single_connection_lost_updates: {single_lost}")
    print(f"aiosqlite_round_trip_us: {round_trip:.0f}")
    print(
        f"quota_contended: {PROCESSES} processes x {CONTENDED_JOBS} concurrent jobs,"
        f" {CONTENDED_USERS} members, {ALLOWANCE} s allowance, {SECONDS} s jobs,"
        f" {CONTENDED_RUNS} runs"
    )
    for index, run in enumerate(runs, start=1):
        print(
            f"quota_contended_run_{index}: {len(run['problems'])} discrepancies,"
            f" {run['reserved']} reserved, {run['refused']} refused, {len(run['errors'])} errors,"
            f" worst overdraft {run['worst_over']} s, ledger switched process"
            f" {run['switches']} times, {run['seconds']:.1f} s"
        )
        for problem in run["problems"][:5] + run["errors"][:5]:
            print(f"# run {index}: {problem}")
    print(f"quota_refused: {statistics.median(run['refused'] for run in runs):.0f}")
    print(f"quota_reserved: {statistics.median(run['reserved'] for run in runs):.0f}")
    print(f"quota_errors: {sum(len(run['errors']) for run in runs)}")
    print(f"quota_max_over_allowance_s: {max(run['worst_over'] for run in runs)}")
    print(f"quota_lost_updates: {sum(len(run['problems']) for run in runs)}")
    print(
        "# quota_lost_updates sums the discrepancies of all runs; quota_refused and"
        " quota_reserved are medians. max_over_allowance <= 0 means no member was ever overdrawn."
    )
    print("reproduce: .venv/bin/python bench/bench_quota.py")


if __name__ == "__main__":
    main()

"""Scheduler failover: seconds from SIGKILLing the scheduling worker to the standby's first request
at the provider.

Set-up: a throwaway PostgreSQL server (`pgserver`), the real-time simulator in this process, and
two `python -m bot worker --output-dir` processes with the default settings (tick 2 s). Worker A
reaches the simulator as 127.0.0.1 and worker B as localhost, so the Host header the simulator
records with each request says which process sent it. A steady stream of jobs (one every
ARRIVAL_S; wan2.7-i2v, tasks PENDING_S + RUNNING_S long) is put in line from this process
through an engine that is never started, without announcing them: the scheduler adopts them on
its tick. So no notification wakes the standby either, and it finds the lock free only on its
own tick (every WANBOT_TICK_SECONDS, 2 s by default; `--tick-seconds S` to change it). With
announcements (as a `run` process that is not the scheduler makes) every arrival also wakes the
standby, and takeovers come sooner.

KILLS times: once the standby is up and tasks are in flight, at a seeded random moment (so the
kill falls anywhere in the standby's tick), SIGKILL the scheduler (the worker whose log said
"This process is the scheduler now") and time, on the simulator's clock, from the kill to the
first API request (submit, poll, task list or cancel: only the scheduler sends those) the
simulator receives from the standby. Only then is the killed worker started again, as the next
standby. A takeover that did not happen reads as `never` (after DEADLINE_S) and fails the bench;
one that waited for a lease would read ~LEASE_S.

- `failover_s`: the median of the KILLS readings, target at most 10 s.
- `failover_jobs_ok`: after the stream stops and every job has ended, whether each job was
  delivered exactly once: state delivered, one `job-N.mp4` and no `.failed.txt` in the folder, at
  most one "delivered to" line in all the workers' logs, and its quota ledger exactly
  reserve + commit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import percentile, report, report_header, video_request

from bot.dev.local_cluster import (
    DELIVERED,
    RUNNING,
    SCHEDULER_NOW,
    Enqueuer,
    Worker,
    enqueuer,
    throwaway_postgres,
)
from bot.domain.jobs import FINAL_STATES, JobState, Requester
from bot.simulator import RecordedRequest, Simulator, SimulatorConfig
from storage.connect import open_database

KILLS = 5
ARRIVAL_S = 0.7  # one job this often, all through the run
PENDING_S, RUNNING_S = 1.0, 3.0
SETTLE_S = 3.0  # after a worker (re)starts, before the next kill: tasks go on meanwhile
LEASE_S = 10  # WANBOT_LEASE_SECONDS: deliveries the killed worker carried are taken on after it
DEADLINE_S = 60.0  # a takeover not seen by then is reported `never`
START_DEADLINE_S = 60.0
DRAIN_DEADLINE_S = 180.0
SEED = 7
HOSTS = {"A": "127.0.0.1", "B": "localhost"}
API_PREFIX = "/api/v1/"


def scheduler_request(request: RecordedRequest) -> bool:
    """A request only the scheduler sends: any API call but the upload policy."""
    path = request.path
    return path.startswith(API_PREFIX) and not path.startswith(API_PREFIX + "uploads")


async def first_request_from(
    simulator: Simulator, host: str, after: float, start_index: int
) -> float | None:
    """The simulator's time of the first scheduler request from `host` at or after `after`."""
    deadline = time.monotonic() + DEADLINE_S
    index = start_index
    while time.monotonic() < deadline:
        requests = simulator.requests
        while index < len(requests):
            request = requests[index]
            index += 1
            if (
                request.time >= after
                and scheduler_request(request)
                and request.headers.get("Host", "").split(":")[0] == host
            ):
                return request.time
        # The figure is the simulator's own timestamp; this only decides when it is read.
        await asyncio.sleep(0.02)
    return None


async def in_flight(url: str) -> int:
    async with await open_database(url) as db:
        row = await db.fetch_one(
            "SELECT COUNT(*) FROM jobs WHERE state IN (?, ?)",
            (JobState.PENDING.value, JobState.RUNNING.value),
        )
    return int(row[0]) if row else 0


async def until_in_flight(url: str) -> None:
    """Return once the provider has at least one task of ours (pending or running)."""
    while True:
        if await in_flight(url) > 0:
            return
        await asyncio.sleep(0.1)


async def stream(queue: Enqueuer, made: list[int]) -> None:
    """One job every ARRIVAL_S until cancelled."""
    n = 0
    while True:
        n += 1
        request = video_request("wan2.7-i2v", "720P", 2, prompt=f"failover clip {n}")
        job = await queue.enqueue(request, Requester(user_id=n % 40 + 1, guild_id=10))
        made.append(job.id)
        await asyncio.sleep(ARRIVAL_S)


async def check_jobs(
    url: str, job_ids: list[int], output: Path, workers: list[Worker]
) -> list[str]:
    """Every way a job was not delivered exactly once (empty: all were)."""
    problems = []
    writes: Counter[int] = Counter()
    for worker in workers:
        for line in worker.log_path.read_text().splitlines():
            if DELIVERED in line and "Job " in line:
                writes[int(line.split("Job ", 1)[1].split()[0])] += 1
    async with await open_database(url) as db:
        for job_id in job_ids:
            row = await db.fetch_one("SELECT state FROM jobs WHERE id = ?", (job_id,))
            ledger = [
                r[0]
                for r in await db.fetch_all(
                    "SELECT kind FROM quota_ledger WHERE job_id = ? ORDER BY id", (job_id,)
                )
            ]
            state = row[0] if row else None
            if state != JobState.DELIVERED.value:
                problems.append(f"job {job_id} ended {state}")
            if not (output / f"job-{job_id}.mp4").is_file():
                problems.append(f"job {job_id} has no file")
            if (output / f"job-{job_id}.failed.txt").exists():
                problems.append(f"job {job_id} has a .failed.txt")
            if writes[job_id] > 1:
                problems.append(f"job {job_id} was written {writes[job_id]} times")
            if ledger != ["reserve", "commit"]:
                problems.append(f"job {job_id} ledger {ledger}")
    return problems


async def wait_all_final(url: str, job_ids: list[int]) -> int:
    """Wait (DRAIN_DEADLINE_S at most) until every job has ended; return how many have not."""
    final = tuple(state.value for state in FINAL_STATES)
    marks = ", ".join("?" * len(final))
    deadline = time.monotonic() + DRAIN_DEADLINE_S
    async with await open_database(url) as db:
        while True:
            row = await db.fetch_one(
                f"SELECT COUNT(*) FROM jobs WHERE state NOT IN ({marks})", final
            )
            left = int(row[0]) if row else 0
            if left == 0 or time.monotonic() > deadline:
                return left
            await asyncio.sleep(0.5)


async def run(folder: Path, url: str, tick_seconds: float | None) -> dict:
    settings = {"WANBOT_LEASE_SECONDS": str(LEASE_S)}
    if tick_seconds is not None:
        settings["WANBOT_TICK_SECONDS"] = str(tick_seconds)

    async def kill(worker: Worker) -> None:
        await worker.kill()

    return await take_turns(
        folder, {name: url for name in HOSTS}, url, settings, kills=KILLS, fail=kill, word="kill"
    )


async def take_turns(
    folder: Path,
    worker_urls: dict[str, str],
    url: str,
    settings: dict[str, str],
    *,
    kills: int,
    fail: Callable[[Worker], Awaitable[None]],
    word: str,
    after: Callable[[Worker], Awaitable[None]] | None = None,
) -> dict:
    """Two workers take turns as the scheduler while jobs stream in: `kills` times, `fail` the
    scheduler (then `after` it), time the standby's first request, start the failed one again
    as the next standby. Return the readings and how the jobs ended."""
    rng = random.Random(SEED)
    config = SimulatorConfig(pending_seconds=PENDING_S, running_seconds=RUNNING_S)
    output = folder / "output"
    async with Simulator(config) as simulator:
        assert simulator.base_url is not None
        port = simulator.base_url.split(":")[2].split("/")[0]
        workers = {
            name: Worker(
                name,
                database_url=worker_urls[name],
                api_base_url=f"http://{host}:{port}/api/v1",
                api_key="sk-bench",
                output_dir=output,
                folder=folder / "workers",
                settings=settings,
            )
            for name, host in HOSTS.items()
        }
        readings: list[float | None] = []
        made: list[int] = []
        try:
            async with asyncio.timeout(START_DEADLINE_S):
                await workers["A"].start()
                await workers["A"].wait_for(f"{RUNNING} (scheduler)")
                await workers["B"].start()
                await workers["B"].wait_for(f"{RUNNING} (standing by)")
            scheduler, standby = workers["A"], workers["B"]
            async with enqueuer(url, folder, announce=False) as queue:
                arrivals = asyncio.create_task(stream(queue, made), name="arrivals")
                try:
                    for turn in range(1, kills + 1):
                        await asyncio.sleep(SETTLE_S + rng.uniform(0, 2.0))
                        await until_in_flight(url)
                        start_index = len(simulator.requests)
                        failed_at = time.time()
                        await fail(scheduler)
                        seen = await first_request_from(
                            simulator, HOSTS[standby.name], failed_at, start_index
                        )
                        reading = None if seen is None else seen - failed_at
                        readings.append(reading)
                        shown = "never" if reading is None else f"{reading:.3f} s"
                        print(
                            f"# {word} {turn}: {scheduler.name} (pid {scheduler.pid});"
                            f" {standby.name} sent its first request {shown} later",
                            flush=True,
                        )
                        if after is not None:
                            await after(scheduler)
                        if reading is None:
                            break
                        async with asyncio.timeout(START_DEADLINE_S):
                            await standby.wait_for(SCHEDULER_NOW)
                            await scheduler.start()
                            await scheduler.wait_for(f"{RUNNING} (standing by)")
                        scheduler, standby = standby, scheduler
                finally:
                    arrivals.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await arrivals
            left = await wait_all_final(url, made)
        finally:
            for worker in workers.values():
                await worker.stop()
        problems = await check_jobs(url, made, output, list(workers.values()))
        leftovers = sorted(p.name for p in output.glob("*.part"))
    return {
        "readings": readings,
        "jobs": len(made),
        "left": left,
        "problems": problems,
        "leftovers": leftovers,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tick-seconds", type=float, help="the workers' WANBOT_TICK_SECONDS (default: 2)"
    )
    args = parser.parse_args()
    report_header(
        __file__,
        "wall clock: the simulator's request times (time.time) against the moment of the kill",
        [] if args.tick_seconds is None else ["--tick-seconds", str(args.tick_seconds)],
    )
    with (
        tempfile.TemporaryDirectory(prefix="wanbot-bench-failover-") as folder,
        throwaway_postgres() as url,
    ):
        result = asyncio.run(run(Path(folder), url, args.tick_seconds))
    readings = result["readings"]
    report(
        "failover_set_up",
        f"2 worker processes, tick {args.tick_seconds or 2:g} s, lease {LEASE_S} s; a job every {ARRIVAL_S} s"
        f" ({PENDING_S:g} + {RUNNING_S:g} s tasks); {KILLS} SIGKILLs of the scheduler",
    )
    for index, reading in enumerate(readings, start=1):
        report(f"failover_kill_{index}_s", "never" if reading is None else reading)
    report("failover_jobs", result["jobs"])
    report("failover_jobs_unfinished", result["left"])
    report("failover_problems", len(result["problems"]))
    for problem in result["problems"][:10]:
        print(f"# {problem}")
    if result["leftovers"]:
        print(f"# partial files left by killed workers: {', '.join(result['leftovers'])}")
    report("failover_jobs_ok", not result["problems"] and result["left"] == 0)
    seen = [r for r in readings if r is not None]
    if len(seen) < len(readings) or not seen:
        report("failover_s", "never")
        return 1
    report("failover_max_s", max(seen))
    report("failover_p90_s", percentile(seen, 0.9))
    report("failover_s", statistics.median(seen))
    print("# failover_s: median of the kills; target <= 10 s")
    return 0 if not result["problems"] and result["left"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

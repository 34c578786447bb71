"""Deliveries per minute with two delivery processes ÷ one, when fitting each video dominates.

Set-up: a throwaway PostgreSQL server (`pgserver`), the real-time simulator in this process, and
one or two `python -m bot worker --output-dir` processes with the default delivery settings
(8 deliveries carried at once each, fits on cores − 1 threads). The simulator's results are
1080p30 with sound (its `video_max_side` and `video_fps`), DURATION s long: about 0.7 MB each,
over the jobs' FILESIZE_LIMIT (set on the Requester, as Discord's upload limit would be), so every
delivery re-encodes the video to fit, which costs a second or two of CPU. The model's
concurrency is raised (engine and simulator alike) so the provider is never what waits.

Each run puts the same BACKLOG jobs in line at once on a fresh schema, for one process and then
for two (the order alternates run by run), and waits until every job has ended. A side's rate is
BACKLOG ÷ (last delivery − first result ready) × 60: from the first job to reach `downloading`
to the last to reach `delivered`, by the jobs' own events, so the workers' start-up and the
provider's first minutes are left out of both sides.

- `delivery_scaling`: the median over RUNS of two processes' rate ÷ one's. Two processes could at
  best double it; on 2 cores, with x264 using more than one core per fit, less.
- `delivery_per_min_one` / `delivery_per_min_two`: each side's median rate.
- `delivery_cores_busy_one` / `_two`: CPU-seconds the workers and this process (the simulator)
  used per second of the side, and `delivery_cpu_s_per_job_*` per job: one process alone already
  keeps more than one core busy (FFmpeg decodes and x264 encodes on threads of their own), and
  2 ÷ that is as far as two processes on two cores can go.
- `delivery_machine_parallelism`: what the machine itself gave at the time: before each run, two
  busy Python processes' throughput ÷ one's (2.0 on two idle cores). On a shared machine it
  drops when neighbours are busy, and the scaling with it.
Every job must end delivered, in a file within its limit; the bench fails otherwise.
`--delivery-slots N` sets the workers' WANBOT_DELIVERY_SLOTS (default 8), to see how much of the
gap is the first process claiming deliveries it can only fit one after another.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg
from benchlib import MB, report, report_header, video_request

from bot.dev.local_cluster import RUNNING, Worker, enqueuer, throwaway_postgres
from bot.domain.jobs import FINAL_STATES, JobState, Requester
from bot.simulator import Simulator, SimulatorConfig
from storage.connect import open_database

MODEL, RESOLUTION, DURATION = "wan2.7-i2v", "1080P", 10
FILESIZE_LIMIT = 500_000  # bytes: the results are ~0.7 MB, so each one is fitted
BACKLOG = 24
RUNS = 3
CONCURRENCY = 30  # provider tasks at once, engine and simulator
PENDING_S, RUNNING_S = 0.5, 1.0
START_DEADLINE_S = 60.0
DRAIN_DEADLINE_S = 300.0


SPIN = "for i in range(15_000_000): pass"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system, every thread) a live process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


async def spin(copies: int) -> float:
    """Wall seconds for `copies` busy Python processes run side by side."""
    started = time.perf_counter()
    processes = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", SPIN) for _ in range(copies)
    ]
    for process in processes:
        await process.wait()
    return time.perf_counter() - started


async def parallelism() -> float:
    """Two busy processes' throughput ÷ one's: the cores this machine gives right now."""
    alone = await spin(1)
    return 2 * alone / await spin(2)


async def new_schema(server_url: str, schema: str) -> str:
    """Create `schema` and return a URL whose connections see only it."""
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f"CREATE SCHEMA {schema}")
    finally:
        await connection.close()
    return f"{server_url}{'&' if '?' in server_url else '?'}search_path={schema}"


async def wait_all_final(url: str) -> None:
    final = tuple(state.value for state in FINAL_STATES)
    marks = ", ".join("?" * len(final))
    deadline = time.monotonic() + DRAIN_DEADLINE_S
    async with await open_database(url) as db:
        while True:
            row = await db.fetch_one(
                f"SELECT COUNT(*) FROM jobs WHERE state NOT IN ({marks})", final
            )
            if row is not None and int(row[0]) == 0:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{row[0] if row else '?'} jobs unfinished")
            await asyncio.sleep(0.25)


async def side(
    simulator: Simulator,
    server_url: str,
    folder: Path,
    name: str,
    processes: int,
    *,
    backlog: int = BACKLOG,
    slots: int | None = None,
) -> dict:
    """Run `backlog` jobs through `processes` workers on a fresh schema; their figures."""
    url = await new_schema(server_url, name)
    async with await open_database(url):  # migrate once, before the workers race to
        pass
    assert simulator.base_url is not None
    output = folder / name / "output"
    settings = {"WANBOT_CONCURRENCY": f'{{"{MODEL}": {CONCURRENCY}}}'}
    if slots is not None:
        settings["WANBOT_DELIVERY_SLOTS"] = str(slots)
    workers = [
        Worker(
            f"w{index}",
            database_url=url,
            api_base_url=simulator.base_url,
            api_key="sk-bench",
            output_dir=output,
            folder=folder / name,
            settings=settings,
        )
        for index in range(processes)
    ]
    try:
        async with asyncio.timeout(START_DEADLINE_S):
            for worker in workers:
                await worker.start()
                await worker.wait_for(RUNNING)
        cpu_before = sum(cpu_seconds(worker.pid) for worker in workers) + time.process_time()
        started = time.perf_counter()
        async with enqueuer(url, folder / name) as queue:
            for n in range(backlog):
                request = video_request(MODEL, RESOLUTION, DURATION, prompt=f"{name} clip {n}")
                requester = Requester(user_id=n + 1, guild_id=10, filesize_limit=FILESIZE_LIMIT)
                await queue.enqueue(request, requester)
        await wait_all_final(url)
        wall = time.perf_counter() - started
        cpu = sum(cpu_seconds(worker.pid) for worker in workers) + time.process_time() - cpu_before
    finally:
        for worker in workers:
            await worker.stop()
    found = await figures(url, output, {worker.pid: worker.name for worker in workers})
    # The workers' CPU and this process's (the simulator); PostgreSQL's is not counted.
    return {**found, "cores_busy": cpu / wall, "cpu_per_job": cpu / backlog}


async def figures(url: str, output: Path, names: dict[int | None, str]) -> dict:
    async with await open_database(url) as db:
        jobs = await db.fetch_all("SELECT id, state, lease_owner FROM jobs ORDER BY id")
        ready = await db.fetch_one(
            "SELECT MIN(at) FROM job_events WHERE to_state = ?", (JobState.DOWNLOADING.value,)
        )
        done = await db.fetch_one(
            "SELECT MAX(at) FROM job_events WHERE to_state = ?", (JobState.DELIVERED.value,)
        )
    problems = []
    by_worker: Counter[str] = Counter()
    sizes = []
    for job_id, state, owner in jobs:
        file = output / f"job-{job_id}.mp4"
        if state != JobState.DELIVERED.value or not file.is_file():
            problems.append(f"job {job_id} ended {state}")
            continue
        sizes.append(file.stat().st_size)
        if sizes[-1] > FILESIZE_LIMIT:
            problems.append(f"job {job_id}: {sizes[-1]} bytes, over the limit")
        by_worker[names.get(int(str(owner).split(":")[1]) if owner else None, "?")] += 1
    assert ready is not None and done is not None
    window = float(done[0]) - float(ready[0])
    return {
        "per_min": len(jobs) / window * 60,
        "window": window,
        "by_worker": dict(sorted(by_worker.items())),
        "largest": max(sizes, default=0),
        "problems": problems,
    }


async def run_all(folder: Path, server_url: str, slots: int | None) -> list[dict]:
    config = SimulatorConfig(
        pending_seconds=PENDING_S,
        running_seconds=RUNNING_S,
        concurrency={MODEL: CONCURRENCY},
        video_max_side=1920,
        video_fps=30,
    )
    runs = []
    async with Simulator(config) as simulator:
        # One job first, not measured: the simulator makes its result video once, here.
        await side(simulator, server_url, folder, "warmup", 1, backlog=1)
        for index in range(1, RUNS + 1):
            order = (1, 2) if index % 2 else (2, 1)
            run: dict = {"parallelism": await parallelism()}
            for processes in order:
                name = f"run{index}_{processes}"
                run[processes] = await side(
                    simulator, server_url, folder, name, processes, slots=slots
                )
                shown = run[processes]
                print(
                    f"# run {index}, {processes} process(es): {shown['per_min']:.1f} deliveries/min"
                    f" ({BACKLOG} in {shown['window']:.1f} s; by worker {shown['by_worker']};"
                    f" {shown['cpu_per_job']:.2f} CPU-s per job, {shown['cores_busy']:.2f} cores"
                    f" busy; machine parallelism {run['parallelism']:.2f})",
                    flush=True,
                )
            runs.append(run)
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--delivery-slots", type=int, help="the workers' WANBOT_DELIVERY_SLOTS (default: 4)"
    )
    args = parser.parse_args()
    report_header(
        __file__,
        "wall clock: the jobs' event times (time.time) in PostgreSQL",
        [] if args.delivery_slots is None else ["--delivery-slots", str(args.delivery_slots)],
    )
    with (
        tempfile.TemporaryDirectory(prefix="wanbot-bench-scaling-") as folder,
        throwaway_postgres() as server_url,
    ):
        runs = asyncio.run(run_all(Path(folder), server_url, args.delivery_slots))
    report(
        "delivery_scaling_set_up",
        f"{BACKLOG} jobs at once per side, {DURATION} s 1080p30 results with sound fitted under"
        f" {FILESIZE_LIMIT / MB:.2f} MiB, {RUNS} runs, one or two worker processes,"
        f" {args.delivery_slots or 4} delivery slots each",
    )
    report("delivery_scaling_cores", os.cpu_count())
    sides = [run[n] for run in runs for n in (1, 2)]
    problems = [p for s in sides for p in s["problems"]]
    for index, run in enumerate(runs, start=1):
        one, two = run[1], run[2]
        report(
            f"delivery_scaling_run_{index}",
            f"{two['per_min'] / one['per_min']:.3f} ({one['per_min']:.1f} vs"
            f" {two['per_min']:.1f} deliveries/min; two split {two['by_worker']};"
            f" machine parallelism {run['parallelism']:.2f})",
        )
    report("delivery_largest_file_bytes", max(s["largest"] for s in sides))
    report("delivery_problems", len(problems))
    for problem in problems[:10]:
        print(f"# {problem}")
    report("delivery_machine_parallelism", statistics.median(run["parallelism"] for run in runs))
    for n, word in ((1, "one"), (2, "two")):
        report(
            f"delivery_cores_busy_{word}", statistics.median(run[n]["cores_busy"] for run in runs)
        )
        report(
            f"delivery_cpu_s_per_job_{word}",
            statistics.median(run[n]["cpu_per_job"] for run in runs),
        )
    report("delivery_per_min_one", statistics.median(run[1]["per_min"] for run in runs))
    report("delivery_per_min_two", statistics.median(run[2]["per_min"] for run in runs))
    report(
        "delivery_scaling",
        statistics.median(run[2]["per_min"] / run[1]["per_min"] for run in runs),
    )
    print("# delivery_scaling: median of the runs' ratios; target >= 1.5 on 2 shared cores")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m bot demo-scale`: two worker processes share the jobs, and when the scheduler is
killed the other takes over.

On this machine, with no credentials: a throwaway PostgreSQL server, the simulator in this
process, and two `python -m bot worker --output-dir DIR` processes. Jobs are put in line from
here; as they go the demo prints which process is the scheduler and which delivered each job.
Half way it SIGKILLs the scheduler: the standby takes over, the killed worker comes back as the
new standby, and two more jobs go through the new scheduler. It ends with a summary (every job
delivered once, charged once) and the folder. Every wait is for a line a worker logs, under a
deadline; the processes and the server are stopped however it ends.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.dev.local_cluster import (
    DELIVERED,
    RUNNING,
    SCHEDULER_NOW,
    Enqueuer,
    Worker,
    enqueuer,
    throwaway_postgres,
)
from bot.domain.catalog import MediaType
from bot.domain.jobs import Requester
from bot.domain.requests import GenerationRequest, MediaItem
from bot.simulator import Simulator, SimulatorConfig
from storage.connect import open_database

MODEL = "wan2.7-i2v"
FIRST_WAVE = (2, 3, 4, 5, 6, 8)  # seconds of video; longer ones take the provider longer
SECOND_WAVE = (3, 4)  # put in line after the takeover
KILL_AFTER = 3  # deliveries before the scheduler is killed
DEADLINE_S = 60.0  # for any one thing waited for
WORKER_SETTINGS = {
    # One delivery at a time each, so both processes carry some; a short lease, so the one the
    # killed worker was carrying (if any) is taken on within seconds.
    "WANBOT_DELIVERY_SLOTS": "1",
    "WANBOT_LEASE_SECONDS": "5",
}
_STATE = re.compile(r"^Job (\d+): (\w+)$")
_WRITTEN = re.compile(rf"^Job (\d+){DELIVERED}(.+)$")
_FAILED = re.compile(r"^Job (\d+) ended without a video")


def run_demo_scale(output_dir: Path) -> int:
    """Run the demo; return 0 when every job was delivered exactly once."""
    _clear(output_dir)
    print("Starting a throwaway PostgreSQL server ...", flush=True)
    with throwaway_postgres() as url:
        print(f"PostgreSQL at {url}", flush=True)
        return asyncio.run(_Demo(url, output_dir).run())


def _clear(output_dir: Path) -> None:
    """Remove what an earlier run left (job numbers start again at 1 in a new database)."""
    for old in output_dir.glob("job-*"):
        old.unlink()
    shutil.rmtree(output_dir / "workers", ignore_errors=True)


@dataclass
class _Seen:
    """What the workers have said, job by job; `changed` is set on every line."""

    states: dict[int, str] = field(default_factory=dict)
    written_by: dict[int, str] = field(default_factory=dict)
    writes: Counter[int] = field(default_factory=Counter)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def count(self, state: str) -> int:
        return sum(1 for s in self.states.values() if s == state)

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait until `condition()` holds, looking again after every line (DEADLINE_S at most)."""
        async with asyncio.timeout(DEADLINE_S):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


class _Demo:
    def __init__(self, database_url: str, output_dir: Path) -> None:
        self._url = database_url
        self._output = output_dir
        self._started = time.monotonic()
        self._seen = _Seen()
        self._jobs: list[int] = []
        self._labels: dict[int, str] = {}  # pid -> "A (pid 123)", every run of each worker

    def say(self, text: str) -> None:
        print(f"{time.monotonic() - self._started:5.1f} s  {text}", flush=True)

    async def run(self) -> int:
        config = SimulatorConfig(pending_seconds=1.0, running_seconds=2.0, timing=_timing)
        async with Simulator(config) as simulator:
            assert simulator.base_url is not None
            self.say(f"DashScope simulator on {simulator.base_url}")
            workers = [self._worker(name, simulator.base_url) for name in ("A", "B")]
            try:
                await self._play(*workers)
            except TimeoutError:
                # A line may be lost with a killed process; the database below has the truth.
                self.say(f"Stopped waiting after {DEADLINE_S:.0f} s for the workers")
            finally:
                for worker in workers:
                    await worker.stop()
        return await self._summary()

    def _worker(self, name: str, base_url: str) -> Worker:
        return Worker(
            name,
            database_url=self._url,
            api_base_url=base_url,
            api_key="demo-key",
            output_dir=self._output,
            folder=self._output / "workers",
            settings=WORKER_SETTINGS,
            on_line=self._heard,
        )

    async def _play(self, first: Worker, second: Worker) -> None:
        seen = self._seen
        await self._start(first, "scheduler")
        await self._start(second, "standing by")
        async with enqueuer(self._url, self._output / "workers") as queue:
            await self._enqueue(queue, FIRST_WAVE)
            # Kill while the provider still has tasks of ours (unless every job is done by then).
            await seen.until(
                lambda: (
                    seen.count("delivered") >= KILL_AFTER
                    and (seen.count("pending") + seen.count("running") > 0 or self._all_ended())
                )
            )
            scheduler, standby = (first, second) if _leads(first) else (second, first)
            self.say(
                f"Killing {self._label(scheduler)}, the scheduler, with SIGKILL;"
                f" {standby.name} tries for the scheduler's lock on its tick (every 2 s)"
            )
            killed_at = time.monotonic()
            await scheduler.kill()
            async with asyncio.timeout(DEADLINE_S):
                await standby.wait_for(SCHEDULER_NOW)
            self.say(
                f"{standby.name} took over {time.monotonic() - killed_at:.1f} s after the kill"
            )
            await self._start(scheduler, "standing by")
            await self._enqueue(queue, SECOND_WAVE)
        await seen.until(self._all_ended)

    def _all_ended(self) -> bool:
        return all(self._seen.states.get(job_id) in _FINAL for job_id in self._jobs)

    async def _start(self, worker: Worker, expect: str) -> None:
        await worker.start()
        assert worker.pid is not None
        self._labels[worker.pid] = f"{worker.name} (pid {worker.pid})"
        async with asyncio.timeout(DEADLINE_S):
            line = await worker.wait_for(RUNNING)
        role = line.split(RUNNING, 1)[1].strip(" ()")
        self.say(f"Worker {self._label(worker)} started: {role}")
        if expect not in role:
            self.say(f"  (expected {expect})")

    async def _enqueue(self, queue: Enqueuer, durations: tuple[int, ...]) -> None:
        for seconds in durations:
            request = GenerationRequest.build(
                model=MODEL,
                media=(MediaItem(type=MediaType.FIRST_FRAME, url="https://example.com/a.png"),),
                duration=seconds,
                resolution="720P",
                prompt=f"A paper boat drifts for {seconds} seconds",
            )
            job = await queue.enqueue(request, Requester(user_id=len(self._jobs) + 1))
            self._jobs.append(job.id)
            self._seen.states[job.id] = "queued"
        shown = ", ".join(f"#{j}" for j in self._jobs[-len(durations) :])
        self.say(f"Put {len(durations)} jobs in line ({shown})")

    def _heard(self, worker: Worker, line: str) -> None:
        # "2025-01-01 12:00:00,000 LEVEL logger: message" (the format of `python -m bot worker`)
        head, _, message = line.partition(": ")
        level, logger = [*head.split(), "", "", "", ""][2:4]
        seen = self._seen
        if match := _WRITTEN.match(message):
            job_id = int(match.group(1))
            seen.writes[job_id] += 1
            seen.written_by[job_id] = self._label(worker)
            self.say(f"Job #{job_id} delivered by {self._label(worker)}: {match.group(2)}")
        elif match := _STATE.match(message):
            seen.states[int(match.group(1))] = match.group(2)
        elif match := _FAILED.match(message):
            seen.states[int(match.group(1))] = "failed"
            self.say(f"  {worker.name}: {message}")
        elif SCHEDULER_NOW in message:
            self.say(f"{self._label(worker)} is the scheduler now")
        elif message.startswith("Recovered "):
            self.say(f"  {worker.name}: {message}")
        elif level in ("WARNING", "ERROR") and not logger.startswith("discord"):
            # discord.py's own warnings (no intents, no voice) mean nothing for a folder worker.
            self.say(f"  {worker.name} says: {message}")
        seen.changed.set()

    def _label(self, worker: Worker) -> str:
        return self._labels.get(worker.pid or 0, worker.name)

    async def _summary(self) -> int:
        rows: list[list[str]] = []
        good = 0
        async with await open_database(self._url) as db:
            for job_id in self._jobs:
                job = await db.fetch_one(
                    "SELECT state, duration, lease_owner FROM jobs WHERE id = ?", (job_id,)
                )
                ledger = await db.fetch_all(
                    "SELECT kind FROM quota_ledger WHERE job_id = ? ORDER BY id", (job_id,)
                )
                assert job is not None
                rows.append(self._row(job_id, job, [row[0] for row in ledger]))
                good += rows[-1][-1] == "yes"
        print()
        _print_table(["job", "video", "state", "delivered by", "charged", "file", "once"], rows)
        print(
            f"\n{good} of {len(self._jobs)} jobs delivered exactly once and charged once;"
            f" the videos are in {self._output}/ (worker logs in {self._output}/workers/)."
        )
        return 0 if good == len(self._jobs) else 1

    def _row(self, job_id: int, job: Any, ledger: list[str]) -> list[str]:
        file = self._output / f"job-{job_id}.mp4"
        by = self._seen.written_by.get(job_id)
        if by is None and job[2]:
            # Written by a process killed before it could say so; the carrier found the file.
            by = self._labels.get(int(str(job[2]).split(":")[1]), "?") + " (found it)"
        once = (
            job[0] == "delivered"
            and file.is_file()
            and not (self._output / f"job-{job_id}.failed.txt").exists()
            and self._seen.writes[job_id] <= 1
            and ledger == ["reserve", "commit"]
        )
        size = f"{file.name} ({file.stat().st_size // 1000} kB)" if file.is_file() else "-"
        charged = "+".join(ledger)
        return [f"#{job_id}", f"{job[1]} s", job[0], by or "-", charged, size, _yes(once)]


_FINAL = ("delivered", "failed", "canceled", "expired")


def _leads(worker: Worker) -> bool:
    """Whether this run of the worker said it is the scheduler (and has not stood down)."""
    return any(SCHEDULER_NOW in line for line in worker.lines) and not any(
        "Lost the scheduler lock" in line for line in worker.lines
    )


def _timing(model: str, body: dict[str, Any]) -> tuple[float, float]:
    """The simulator's time for a task: 1 s waiting, then 0.7 s per second of video."""
    seconds = float(body.get("parameters", {}).get("duration", 5))
    return 1.0, 0.7 * seconds


def _yes(value: bool) -> str:
    return "yes" if value else "NO"


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for line in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())

"""From the provider's end to the video in the channel: the wait a member has after the work is done.

Set-up. The real bot (`WanBot`, its cogs, engine and notifier, built with `Services.create`) logs
in to the fake Discord (tests/support/fakediscord/process.py) in another process; the simulator
runs in this one, on the wall clock. A new member asks `/video text` (dispatched through
discord.py's own `parse_interaction_create`, as in bench_ack.py), one job at a time; each task
takes 2 s at the provider (1 s of it PENDING). The bot polls with its default settings and
learns as it goes (the first job of each case is not counted: its kind was never seen, so it is
probed early).

Two cases, RUNS jobs each:
- `fits`: the simulator's own drawn result (320 px, a few hundred kB): posted as it is.
- `fitted`: every result is the same 15 s 1080p30 video with sound, grainy and moving
  (bench_fit.py's source, about 34 MB): over the fake's 10 MiB upload limit, so it is fitted first.

Figure per job: the fake's answer to the post that carries the video (time.monotonic(), one clock
for every process on Linux, turned to wall time in this process) − the provider's end time (the
simulator's). Broken down by the job's own events and the media workers' fit timer:
- detection: end → the poll that saw it succeed (`downloading`),
- download: → the file downloaded, probed and handed over (`delivering`),
- fit: the re-encode, waiting for a thread included (0 when it fits),
- post: the rest (the status message's update first, then discord.py's upload to the fake).
`finish_to_post_{case}_p50_s` / `_p95_s` over the counted jobs; targets: for `fits`, at most
1.5 s above the detection lag. Not included: Discord's real network (the upload here is on
loopback: a 10 MiB file to Discord's CDN takes seconds more on a home line).

It can come out badly: a slow poll schedule, a download that waits, a fit on one thread, a post
behind the status update, or the event loop held up by any of them shows in its part.
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from bench_fit import make_source  # noqa: E402
from benchlib import percentile, report  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from bot.dashscope import DashScopeClient  # noqa: E402
from bot.domain.jobs import JobState  # noqa: E402
from bot.media.pools import FitOutcome, MediaWorkers  # noqa: E402
from bot.run.app import Services, WanBot  # noqa: E402
from bot.run.settings import Settings  # noqa: E402
from bot.simulator import Simulator, SimulatorConfig  # noqa: E402
from storage.connect import open_database  # noqa: E402
from tests.support.fakediscord.process import point_discord_at, spawn  # noqa: E402

RUNS = 6  # counted jobs per case, after one not counted
PENDING_S, RUNNING_S = 1.0, 1.0
WAIT_S = 120.0  # for one job to be posted


class Session:
    """The bot on the fake, the simulator, and what the bench reads back."""

    def __init__(self, rest_url: str, simulator: Simulator, services: Services) -> None:
        self.rest_url = rest_url
        self.simulator = simulator
        self.services = services
        self.http: aiohttp.ClientSession
        self.bot: WanBot

    async def ask(self, prompt: str) -> dict[str, Any]:
        """A new member's `/video text` through discord.py's dispatch; the post that answered it."""
        before = len(await self._get("posts"))
        body = {
            "command": "video",
            "subcommand": "text",
            "options": {"prompt": prompt, "duration": 15},
        }
        async with self.http.post(f"{self.rest_url}/_bench/slash", json=body) as answer:
            payload = await answer.json()
        self.bot._connection.parse_interaction_create(payload)  # the gateway's own entry point
        # The post is seen in another process: ask it until it is there (its own clock timed it).
        for _ in range(round(WAIT_S / 0.05)):
            posts = await self._get("posts")
            if len(posts) > before:
                return dict(posts[before])
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no video posted for {prompt!r} within {WAIT_S:.0f} s")

    async def _get(self, what: str) -> Any:
        async with self.http.get(f"{self.rest_url}/_bench/{what}") as answer:
            return await answer.json()


async def one_job(session: Session, prompt: str, fits: list[float]) -> dict[str, float]:
    fits.clear()
    post = await session.ask(prompt)
    wall = time.time() - time.monotonic()  # the fake's monotonic times on this process's clock
    jobs = session.services.jobs
    job = next(
        j for j in await jobs.with_states([JobState.DELIVERED]) if j.request.prompt == prompt
    )
    events = {e.to_state: e.at for e in await jobs.events(job.id)}
    task = session.simulator.tasks[job.task_id or ""]
    end = task.ended_at
    seen, handed = events[JobState.DOWNLOADING], events[JobState.DELIVERING]
    fit = sum(fits)
    answered = post["answered"] + wall
    return {
        "total": answered - end,
        "detection": seen - end,
        "download": handed - seen,
        "fit": fit,
        "post": answered - handed - fit,
        "bytes": float(post["bytes"] or 0),
    }


async def measure(rest_url: str, big: bytes) -> dict[str, list[dict[str, float]]]:
    point_discord_at(rest_url)
    config = SimulatorConfig(pending_seconds=PENDING_S, running_seconds=RUNNING_S)
    simulator = Simulator(config)
    await simulator.start()
    folder = Path(tempfile.mkdtemp(prefix="wanbot-post-"))
    settings = Settings(
        database_path=folder / "db.sqlite3",
        spool_dir=folder / "spool",
        heartbeat_path=folder / "heartbeat",
        quota_default_seconds=10**6,
        max_waiting_per_user=100,
    )
    fits: list[float] = []

    def timed(outcome: FitOutcome, seconds: float) -> None:
        fits.append(seconds)

    results: dict[str, list[dict[str, float]]] = {}
    try:
        async with (
            aiohttp.ClientSession() as http,
            await open_database(settings.database_target()) as db,
        ):
            assert simulator.base_url
            client = DashScopeClient(http, api_key=SecretStr("k"), base_url=simulator.base_url)
            services = Services.create(settings, http, db, client)
            services.workers = MediaWorkers(on_fit=timed)
            bot = WanBot(settings, services)
            session = Session(rest_url, simulator, services)
            session.http, session.bot = http, bot
            async with http.get(f"{rest_url}/_bench/info") as answer:
                token = (await answer.json())["token"]
            await bot.login(token)  # the fake's /users/@me; setup_hook starts the engine
            try:
                for case, result in (("fits", None), ("fitted", big)):
                    simulator.config.result_video = result
                    await one_job(session, f"{case} warm-up", fits)  # not counted
                    results[case] = [
                        await one_job(session, f"{case} {n}", fits) for n in range(RUNS)
                    ]
            finally:
                await bot.close()
    finally:
        await simulator.close()
    return results


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-post-") as workdir:
        source = Path(workdir) / "source.mp4"
        make_source(source)
        big = source.read_bytes()
    with spawn("discord") as rest_url:
        results = asyncio.run(measure(rest_url, big))
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}")
    print("clock: wall clock; the fake's arrival times in time.monotonic(), one clock on Linux")
    print("reproduce: .venv/bin/python bench/bench_finish_to_post.py")
    report("result_fitted_source_mb", len(big) / 1024 / 1024)
    for case, jobs in results.items():
        for part in ("detection", "download", "fit", "post"):
            report(f"finish_to_post_{case}_{part}_p50_s", statistics.median(j[part] for j in jobs))
        report(
            f"finish_to_post_{case}_posted_mb", statistics.median(j["bytes"] for j in jobs) / 2**20
        )
        totals = [j["total"] for j in jobs]
        report(f"finish_to_post_{case}_max_s", max(totals))
        report(
            f"finish_to_post_{case}_above_detection_p50_s",
            statistics.median(j["total"] - j["detection"] for j in jobs),
        )
    for case, jobs in results.items():
        totals = [j["total"] for j in jobs]
        report(f"finish_to_post_{case}_p50_s", statistics.median(totals))
        report(f"finish_to_post_{case}_p95_s", percentile(totals, 0.95))


if __name__ == "__main__":
    main()

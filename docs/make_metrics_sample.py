"""Print a real scrape of `/metrics`, for docs/metrics.md: two `python -m bot worker` processes on
a throwaway PostgreSQL, against the simulator, with jobs under way.

Six videos are queued for one model that may run one task at a time, and the simulator answers
the first submit with a 429; the scheduler's endpoint is scraped once two videos were delivered
(so some still wait), the other's just after. Prints the scheduler's scrape, then the other's
`wanbot_scheduler_*` lines and both `/healthz` answers.

    .venv/bin/python docs/make_metrics_sample.py
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's code, not an installed copy

from bot.dev.local_cluster import Worker, enqueuer, throwaway_postgres  # noqa: E402
from bot.domain.catalog import MediaType  # noqa: E402
from bot.domain.jobs import Requester  # noqa: E402
from bot.domain.requests import GenerationRequest, MediaItem  # noqa: E402
from bot.simulator import Simulator, SimulatorConfig  # noqa: E402

MODEL = "wan2.7-i2v"
VIDEOS = 6


def request(duration: int) -> GenerationRequest:
    media = (MediaItem(type=MediaType.FIRST_FRAME, url="https://example.com/a.png"),)
    return GenerationRequest.build(model=MODEL, media=media, duration=duration)


async def get(session: aiohttp.ClientSession, port: int, path: str) -> str:
    async with session.get(f"http://127.0.0.1:{port}{path}") as answer:
        return f"{answer.status} {await answer.text()}".rstrip()


async def main() -> None:
    config = SimulatorConfig(pending_seconds=1.0, running_seconds=2.0)
    with throwaway_postgres() as url, tempfile.TemporaryDirectory() as folder:
        async with Simulator(config) as simulator:
            assert simulator.base_url is not None
            workers = [
                Worker(
                    name,
                    database_url=url,
                    api_base_url=simulator.base_url,
                    api_key="sk-sample",
                    output_dir=Path(folder) / "out",
                    folder=Path(folder) / name,
                    settings={
                        "WANBOT_METRICS_PORT": "0",
                        "WANBOT_CONCURRENCY": f'{{"{MODEL}": 1}}',
                        "WANBOT_TICK_SECONDS": "0.5",
                        "WANBOT_POLL_DENSE_SECONDS": "0.5",
                    },
                )
                for name in ("worker1", "worker2")
            ]
            ports = []
            try:
                for worker in workers:
                    await worker.start()
                    async with asyncio.timeout(60):
                        line = await worker.wait_for("Metrics at http://")
                        found = re.search(r":(\d+)/metrics", line)
                        assert found is not None
                        ports.append(int(found.group(1)))
                async with asyncio.timeout(60):
                    await workers[0].wait_for("This process is the scheduler now")
                simulator.script("429")
                async with enqueuer(url, Path(folder)) as queue:
                    for n in range(VIDEOS):
                        await queue.enqueue(request(5 if n % 2 else 10), Requester(user_id=n))
                async with asyncio.timeout(120):
                    await until_delivered(workers, 2)
                async with aiohttp.ClientSession() as session:
                    scheduler = await get(session, ports[0], "/metrics")
                    standby = await get(session, ports[1], "/metrics")
                    health = [await get(session, port, "/healthz") for port in ports]
            finally:
                for worker in workers:
                    await worker.stop()
    print(scheduler.removeprefix("200 "))
    print("# worker2 (standing by):")
    print("\n".join(line for line in standby.splitlines() if line.startswith("wanbot_scheduler")))
    print("# /healthz of each:")
    print("\n".join(health))


async def until_delivered(workers: list[Worker], count: int) -> None:
    """Until `count` videos were delivered and their status said (so their figures are in)."""
    while True:
        said = sum(
            1 for w in workers for line in w.lines if re.search(r"Job \d+: delivered$", line)
        )
        if said >= count:
            return
        waits = [
            asyncio.ensure_future(w.wait_for(": delivered", since=len(w.lines))) for w in workers
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()


if __name__ == "__main__":
    asyncio.run(main())

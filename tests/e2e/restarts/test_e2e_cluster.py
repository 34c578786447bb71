"""Three processes on PostgreSQL, SIGKILLed at random moments: nothing lost, nothing twice.

`python -m bot run` (the gateway: members' commands) and two `python -m bot worker`s (engine
only, posting over REST) share one PostgreSQL database (a schema of the test server) and talk
to one simulator and one fake Discord in this test process. Whichever holds the scheduler lock
submits and polls; any of them carries deliveries. Kills are seeded: at a random moment one
process dies (the scheduler or not), or, when a video has just been posted, every process dies
at once so none learns it was posted. Each is started again. In the end every job is delivered
once: one task at the provider, one status message, one video replying to it, one charge.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import asyncpg
import pytest

from bot.simulator import Simulator
from tests.support.bot_process import BotProcess, all_done, assert_each_job_once, queue_videos
from tests.support.fakediscord import FakeDiscord, Message
from tests.support.postgres import new_postgres_schema

JOBS = 8
KILLS = ["one", "all-on-video", "one", "one", "all-on-video", "one"]  # shuffled with the seed
SEED = 20261123


@pytest.fixture
async def database_url(postgres_server: str) -> str:
    return await new_postgres_schema(postgres_server)


async def test_three_processes_killed_at_random_deliver_each_job_once(
    fake: FakeDiscord,
    simulator: Simulator,
    database_url: str,
    tmp_path: Path,
) -> None:
    assert simulator.base_url is not None
    rng = random.Random(SEED)
    kills = rng.sample(KILLS, len(KILLS))
    shared = {
        "WANBOT_DATABASE_URL": database_url,
        "WANBOT_TICK_SECONDS": "0.3",
        "WANBOT_LEASE_SECONDS": "5",
        "WANBOT_DELIVERY_SLOTS": "2",
    }
    gateway = BotProcess(fake, simulator.base_url, tmp_path, name="run", env=shared)
    workers = [
        BotProcess(
            fake,
            simulator.base_url,
            tmp_path,
            command="worker",
            name=f"worker{n}",
            env=shared | {"WANBOT_SPOOL_DIR": str(tmp_path / f"spool{n}")},
        )
        for n in (1, 2)
    ]
    everyone = [gateway, *workers]
    armed = {"video": False}
    killed = asyncio.Event()

    def on_create(message: Message) -> None:
        if armed["video"] and message.attachments:
            armed["video"] = False
            for process in everyone:
                process.kill()  # the video exists; no process learns its id
            killed.set()

    fake.on_create.append(on_create)
    # Posting takes a second, as a large upload does: each delivery spans several ticks of the
    # other processes, so a delivery claimed twice would be posted twice.
    fake.faults.delay("POST", r"/channels/\d+/messages", 1.0)
    killed_names: set[str] = set()
    try:
        for process in everyone:
            await process.start()
        job_ids = await queue_videos(fake, JOBS)

        for kind in kills:
            if all_done(fake, job_ids):
                break
            killed.clear()
            if kind == "all-on-video":
                armed["video"] = True
                await fake.wait_for(
                    lambda: killed.is_set() or all_done(fake, job_ids),
                    within=30,
                    what="a video post",
                )
                armed["video"] = False
                if not killed.is_set():
                    break
                victims = everyone
            else:
                await asyncio.sleep(rng.uniform(0.3, 2.5))  # a random moment, by design
                victims = [rng.choice(everyone)]
                victims[0].kill()
            for victim in victims:
                await victim.wait()
                killed_names.add(victim.log.stem)
            for victim in victims:
                await victim.start()

        await fake.wait_for(lambda: all_done(fake, job_ids), within=60, what="every job done")
    finally:
        for process in everyone:
            await process.stop()
    logs = "\n".join(p.log.read_text(errors="replace")[-1500:] for p in everyone)

    connection = await asyncpg.connect(database_url)
    try:
        rows = {r["id"]: r["state"] for r in await connection.fetch("SELECT id, state FROM jobs")}
        task_ids = [r["task_id"] for r in await connection.fetch("SELECT task_id FROM jobs")]
        charges = [
            tuple(r)
            for r in await connection.fetch(
                "SELECT job_id, kind, COUNT(*) FROM quota_ledger WHERE job_id IS NOT NULL"
                " GROUP BY job_id, kind"
            )
        ]
    finally:
        await connection.close()
    assert_each_job_once(fake, simulator, job_ids, rows, task_ids, charges, logs)
    assert len(killed_names) >= 2, f"only {killed_names} were killed"

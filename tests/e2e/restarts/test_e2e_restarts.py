"""SIGKILL the bot at random moments while it works; after restarts every job ends exactly once.

`python -m bot run` runs as a subprocess logged in to the fake Discord (through a sitecustomize
on its PYTHONPATH) and talks to a simulator in this test process. The simulator must outlive the
bot so its tasks survive the kills: that is why `run` is pointed at it with DASHSCOPE_BASE_URL
rather than started with `--simulator`, whose in-process simulator would die with the bot.

Kills are seeded: some when a video was just posted (the bot is killed before it hears back,
the moment a crash loses "I posted it"), some after a random delay.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain.catalog import IMAGE2VIDEO_PATH, VIDEO_GENERATION_PATH
from bot.media import samples
from bot.media.probe import check_media
from bot.simulator import Simulator, SimulatorConfig
from tests import test_e2e_video
from tests.fakediscord import FakeDiscord, Message, subprocess_env, write_sitecustomize
from tests.fakediscord.wanbot import result_messages, status_messages, status_text

ROOT = Path(__file__).resolve().parents[1]
JOBS = 7
KILLS = ["video", "time", "video", "time"]  # shuffled with the seed
SEED = 20261122


class BotProcess:
    """`python -m bot run` (or `worker`) against the fake and the simulator; started, killed and
    restarted. `env` adds to (or overrides) the environment, e.g. a PostgreSQL database."""

    def __init__(
        self,
        fake: FakeDiscord,
        simulator_url: str,
        folder: Path,
        *,
        command: str = "run",
        name: str = "bot",
        env: dict[str, str] | None = None,
    ) -> None:
        self.fake = fake
        self.command = command
        self.log = folder / f"{name}.log"
        site = write_sitecustomize(folder / "site")
        self.env = (
            subprocess_env(fake.api_base, fake.gateway_url, site)
            | {
                "DISCORD_TOKEN": fake.token,
                "DASHSCOPE_API_KEY": "sk-restarts",
                "DASHSCOPE_BASE_URL": simulator_url,
                "WANBOT_DATABASE_PATH": str(folder / "wanbot.sqlite3"),
                "WANBOT_SPOOL_DIR": str(folder / "spool"),
                "WANBOT_HEARTBEAT_PATH": str(folder / "heartbeat"),
                "WANBOT_POLL_DENSE_SECONDS": "0.2",
                "WANBOT_POLL_LONGEST_SECONDS": "0.3",
                "WANBOT_PROGRESS_EDIT_SECONDS": "1",
                "WANBOT_MAX_WAITING_PER_USER": "10",
                "WANBOT_QUOTA_DEFAULT_SECONDS": "1000",
                # The simulator answers a submit at once: a submit a kill cut off is reconciled
                # 3 + 15 s after it was sent, not 75 + 15 s.
                "WANBOT_SUBMIT_TIMEOUT_SECONDS": "3",
            }
            | (env or {})
        )
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                self.command,
                cwd=ROOT,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        self.starts += 1
        if self.command == "run":  # a worker has no gateway session to wait for
            await self.fake.wait_ready(self.fake.gateway.ready_count + 1, within=20)

    def kill(self) -> None:
        """SIGKILL, synchronously (it may run inside the fake's request handler)."""
        if self.process is not None and self.process.returncode is None:
            os.kill(self.process.pid, signal.SIGKILL)

    async def wait(self) -> int:
        assert self.process is not None
        return await self.process.wait()

    async def stop(self) -> None:
        """Ctrl-C, as a person would; SIGKILL if it does not stop."""
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.kill()
            await self.process.wait()


fake = test_e2e_video.fake  # the fake Discord, checked for spec violations at the end


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    config = SimulatorConfig(pending_seconds=0.5, running_seconds=1.0, media_checker=check_media)
    async with Simulator(config) as sim:
        yield sim


def all_done(fake: FakeDiscord, job_ids: list[int]) -> bool:
    return all(
        result_messages(fake, j) and any(status_text(m) == "Done" for m in status_messages(fake, j))
        for j in job_ids
    )


async def test_sigkill_restarts_deliver_each_job_once(
    fake: FakeDiscord, simulator: Simulator, tmp_path: Path
) -> None:
    assert simulator.base_url is not None
    rng = random.Random(SEED)
    kills = rng.sample(KILLS, len(KILLS))
    bot = BotProcess(fake, simulator.base_url, tmp_path)
    armed: dict[str, bool] = {"video": False}
    killed = asyncio.Event()

    def on_create(message: Message) -> None:
        if armed["video"] and message.attachments:
            armed["video"] = False
            bot.kill()  # the message exists; the bot never learns its id
            killed.set()

    fake.on_create.append(on_create)
    try:
        await bot.start()
        job_ids = await queue_videos(fake, JOBS)

        for kind in kills:
            if all_done(fake, job_ids):
                break
            killed.clear()
            if kind == "video":
                armed["video"] = True
                await fake.wait_for(
                    lambda: killed.is_set() or all_done(fake, job_ids),
                    within=15,
                    what="a video post",
                )
                armed["video"] = False
                if not killed.is_set():
                    break  # every video was posted before the kill
            else:
                await asyncio.sleep(rng.uniform(0.3, 2.0))  # a random moment, by design
                bot.kill()
            await bot.wait()
            await bot.start()

        await fake.wait_for(lambda: all_done(fake, job_ids), within=25, what="every job done")
    finally:
        await bot.stop()
    log = bot.log.read_text(errors="replace")[-3000:]

    with sqlite3.connect(tmp_path / "wanbot.sqlite3") as db:
        rows = dict(db.execute("SELECT id, state FROM jobs").fetchall())
        task_ids = [t for (t,) in db.execute("SELECT task_id FROM jobs").fetchall()]
        charges = db.execute(
            "SELECT job_id, kind, COUNT(*) FROM quota_ledger WHERE job_id IS NOT NULL "
            "GROUP BY job_id, kind"
        ).fetchall()
    assert_each_job_once(fake, simulator, job_ids, rows, task_ids, charges, log)
    assert bot.starts >= 3, f"only {bot.starts} starts: the kills did not happen"


async def queue_videos(fake: FakeDiscord, count: int, *, within: float = 30) -> list[int]:
    """Ask for `count` 2 s videos with `/video animate`; return their job ids once all are queued."""
    interactions = []
    for index in range(count):
        image = fake.upload(
            f"frame{index}.png", samples.make_image(640, 360, hue=index), "image/png"
        )
        # Prompts of their own, as members' are: equal ones are sent one after another, and
        # after a kill mid-submit they would all wait for that submit's deadline.
        interactions.append(
            await fake.slash(
                "video", "animate", image=image, duration=2, prompt=f"a cat, take {index}"
            )
        )
    await fake.wait_for(
        lambda: all(i.texts() for i in interactions), within=within, what="every job queued"
    )
    texts = [i.texts()[0] for i in interactions]
    assert all(t.startswith("Queued as video #") for t in texts), texts
    return [int(t.split("#")[1].split()[0]) for t in texts]


def assert_each_job_once(
    fake: FakeDiscord,
    simulator: Simulator,
    job_ids: list[int],
    rows: dict[int, str],
    task_ids: list[str],
    charges: list[tuple[int, str, int]],
    log: str,
) -> None:
    """Every job delivered; submitted once; one status message, one video replying to it; one
    reservation and one commit. `rows` (id -> state), `task_ids` and `charges` (job, kind,
    count) come from the database."""
    assert sorted(rows) == sorted(job_ids), log
    assert all(state == "delivered" for state in rows.values()), (rows, log)
    posts = [
        r
        for r in simulator.requests
        if r.method == "POST" and r.path.endswith((VIDEO_GENERATION_PATH, IMAGE2VIDEO_PATH))
    ]
    assert len(simulator.tasks) == len(job_ids), "a job was submitted to the provider twice"
    assert sorted(task_ids) == sorted(simulator.tasks)
    assert len(posts) == len(job_ids)
    for job_id in job_ids:
        statuses = status_messages(fake, job_id)
        assert len(statuses) == 1, f"video #{job_id}: {len(statuses)} status messages"
        videos = result_messages(fake, job_id)
        assert len(videos) == 1, f"video #{job_id} was posted {len(videos)} times"
        assert videos[0].reply_to == statuses[0].id
    assert sorted(charges) == sorted(
        [(j, "commit", 1) for j in job_ids] + [(j, "reserve", 1) for j in job_ids]
    )


async def test_kill_after_posting_in_a_busy_channel_posts_once(
    fake: FakeDiscord, simulator: Simulator, tmp_path: Path
) -> None:
    assert simulator.base_url is not None
    bot = BotProcess(fake, simulator.base_url, tmp_path)
    chatty = fake.add_member("bob")
    killed = asyncio.Event()

    def on_create(message: Message) -> None:
        if message.author is fake.bot_user and message.embeds and not killed.is_set():
            for n in range(120):  # members talk while the video is being made
                fake.say(chatty, f"message {n} while we wait")
        if message.attachments and not killed.is_set():
            bot.kill()  # the video is posted; the bot never learns it
            killed.set()

    fake.on_create.append(on_create)
    try:
        await bot.start()
        image = fake.upload("frame.png", samples.make_image(640, 360), "image/png")
        await fake.slash("video", "animate", image=image, duration=2)
        await fake.wait_for(killed.is_set, within=20, what="the video post")
        await bot.wait()
        await bot.start()
        await fake.wait_for(lambda: all_done(fake, [1]), within=20, what="video #1 done")
    finally:
        await bot.stop()
    assert _state(tmp_path, 1) == "delivered"
    videos = result_messages(fake, 1)
    assert len(videos) == 1, f"video #1 was posted {len(videos)} times"
    assert len(status_messages(fake, 1)) == 1


def _state(folder: Path, job_id: int) -> str | None:
    with sqlite3.connect(folder / "wanbot.sqlite3") as db:
        row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return row[0] if row else None

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
import random
import sqlite3
from pathlib import Path

from bot.media import samples
from bot.simulator import Simulator
from tests.support.bot_process import BotProcess, all_done, assert_each_job_once, queue_videos
from tests.support.fakediscord import FakeDiscord, Message
from tests.support.fakediscord.wanbot import result_messages, status_messages

JOBS = 7
KILLS = ["video", "time", "video", "time"]  # shuffled with the seed
SEED = 20261122


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

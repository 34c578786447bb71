"""Delivered once, found again after a crash: in a busy channel, by DM; buttons on a DM'd video.

A real WanBot on the fake Discord. The crash comes between posting the video and recording the
post (the worst moment); a new bot on the same database must find the post, record it and charge
once, without posting again, however many messages followed it and wherever it went.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from bot.simulator import Simulator
from tests.support.e2e import job_of, ledger, media
from tests.support.fakediscord import FakeDiscord, Message
from tests.support.fakediscord.model import Channel
from tests.support.fakediscord.wanbot import (
    RunningBot,
    fast_settings,
    result_job,
    running_bot,
    status_job,
)


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs in that task, nothing catches it."""


def crash_after_posting(running: RunningBot) -> None:
    """The bot posts the video, then dies before it can record that it did."""
    notifier = running.bot._notifier  # the notifier the engine delivers through
    assert notifier is not None
    post = notifier.deliver

    async def deliver_then_die(job, video):  # type: ignore[no-untyped-def]
        await post(job, video)
        raise Crash

    notifier.deliver = deliver_then_die  # type: ignore[method-assign]


def messages_for(fake: FakeDiscord, channel_id: int, job_id: int) -> list[Message]:
    return [m for m in fake.channel_messages(channel_id) if result_job(m) == job_id]


def job_state(database: Path, job_id: int) -> str:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]


async def request_and_crash(
    fake: FakeDiscord, simulator: Simulator, settings: object, *, chatter: int = 0
) -> int:
    """Ask for a video; once its status shows, `chatter` messages follow; the bot dies right
    after posting the video. Return the job id."""
    other = fake.add_member("bob")
    async with running_bot(fake, simulator, settings) as running:  # type: ignore[arg-type]
        crash_after_posting(running)
        image = fake.upload("first.png", *media("first.png"))
        interaction = await fake.slash("video", "animate", image=image, prompt="A cat")
        await fake.wait_for(lambda: job_of(interaction) is not None, what="the Queued reply")
        job_id = job_of(interaction)
        assert job_id is not None
        await fake.wait_for(
            lambda: any(status_job(m) == job_id for m in fake.messages.values()),
            what="the status message",
        )
        for n in range(chatter):  # a busy channel while the video is made
            fake.say(other, f"message {n}")
        await fake.wait_for(
            lambda: any(result_job(m) == job_id for m in fake.messages.values()),
            what="the video posted",
        )
        await running.bot.engine.settle()
    assert job_state(settings.database_path, job_id) == "delivering"  # type: ignore[attr-defined]
    return job_id


async def restart_until_delivered(
    fake: FakeDiscord, simulator: Simulator, settings: object, job_id: int
) -> None:
    async with running_bot(fake, simulator, settings) as running:  # type: ignore[arg-type]
        await running.bot.engine.settle()  # the resumed delivery
    assert job_state(settings.database_path, job_id) == "delivered"  # type: ignore[attr-defined]


async def test_a_post_in_a_busy_channel_is_found_after_a_crash_not_repeated(
    fake: FakeDiscord, simulator: Simulator, tmp_path: Path
) -> None:
    settings = fast_settings(tmp_path)
    job_id = await request_and_crash(fake, simulator, settings, chatter=150)
    await restart_until_delivered(fake, simulator, settings, job_id)

    assert len(messages_for(fake, fake.channel.id, job_id)) == 1, "posted exactly once"
    assert fake.nonce_hits == 0, "found by looking, not saved by Discord's nonce check"
    assert ledger(settings.database_path, job_id) == {"reserve": 1, "commit": 1}


async def test_a_video_delivered_by_dm_is_found_after_a_crash_not_repeated(
    fake: FakeDiscord, simulator: Simulator, tmp_path: Path
) -> None:
    settings = fast_settings(tmp_path)
    fake.faults.fail("POST", rf"/channels/{fake.channel.id}/messages", 403, times=None)
    job_id = await request_and_crash(fake, simulator, settings)
    dm = fake.dm_channel(fake.member)
    assert len(messages_for(fake, dm.id, job_id)) == 1

    await restart_until_delivered(fake, simulator, settings, job_id)
    assert len(messages_for(fake, dm.id, job_id)) == 1, "posted exactly once"
    assert messages_for(fake, fake.channel.id, job_id) == []
    assert fake.nonce_hits == 0
    assert ledger(settings.database_path, job_id) == {"reserve": 1, "commit": 1}


async def video_in_dm(fake: FakeDiscord) -> tuple[int, Channel, Message]:
    """Ask for a video in a channel the bot may not post in; return its job, the member's DM
    channel and the video delivered there."""
    image = fake.upload("first.png", *media("first.png"))
    asked = await fake.slash("video", "animate", image=image, prompt="A cat")
    await fake.wait_for(lambda: job_of(asked) is not None, what="the Queued reply")
    first = job_of(asked)
    assert first is not None
    dm = fake.dm_channel(fake.member)
    await fake.wait_for(lambda: bool(messages_for(fake, dm.id, first)), what="the DM'd video")
    [video] = messages_for(fake, dm.id, first)
    return first, dm, video


async def test_retry_on_a_video_delivered_by_dm_makes_a_new_one(
    fake: FakeDiscord, simulator: Simulator, tmp_path: Path
) -> None:
    settings = fast_settings(tmp_path)
    fake.faults.fail("POST", rf"/channels/{fake.channel.id}/messages", 403, times=None)
    async with running_bot(fake, simulator, settings) as running:
        first, dm, video = await video_in_dm(fake)

        pressed = await fake.press(video, f"wanbot:retry:{first}")
        await fake.wait_for(lambda: bool(pressed.texts()), what="the answer to Retry")
        again = re.search(r"Queued as video #(\d+)", " ".join(pressed.texts()))
        assert again, pressed.texts()
        second = int(again.group(1))
        await fake.wait_for(lambda: bool(messages_for(fake, dm.id, second)), what="the new video")
        await running.bot.engine.settle()
    assert ledger(settings.database_path, second)["commit"] == 1


async def test_retry_in_dms_after_leaving_the_server_makes_nothing(
    fake: FakeDiscord, simulator: Simulator, tmp_path: Path
) -> None:
    settings = fast_settings(tmp_path)
    fake.faults.fail("POST", rf"/channels/{fake.channel.id}/messages", 403, times=None)
    async with running_bot(fake, simulator, settings) as running:
        first, _dm, video = await video_in_dm(fake)
        await running.bot.engine.settle()

        fake.remove_member(fake.member)  # Alice leaves the server (or is banned); the DM stays
        for action in ("retry", "extend", "lastframe"):
            pressed = await fake.press(video, f"wanbot:{action}:{first}")
            await fake.wait_for(lambda: bool(pressed.texts()), what=f"the answer to {action}")  # noqa: B023
            assert pressed.texts() == [
                f"You are no longer a member of the server where video #{first} was made, so "
                "its buttons cannot make new videos."
            ]
            assert all(reply.ephemeral for reply in pressed.replies)
    with sqlite3.connect(settings.database_path) as db:
        assert db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 1
        held = db.execute("SELECT COUNT(*) FROM quota_ledger WHERE kind = 'reserve'").fetchone()
        assert held[0] == 1, "the server's quota paid for the first video only"

"""A member deletes their posted video through the fake Discord: asked first, then the video and
its status message are gone from the channel, the quota stays charged once, and the buttons on
it refuse. Every body the bot sends is checked against Discord's OpenAPI spec (the `fake`
fixture fails the test on a violation)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.simulator import Simulator
from tests.support.e2e import job_of, ledger, media
from tests.support.fakediscord import FakeDiscord, Interaction, Message
from tests.support.fakediscord.wanbot import (
    RunningBot,
    fast_settings,
    result_job,
    result_messages,
    running_bot,
    status_job,
    status_messages,
)


async def answered(fake: FakeDiscord, interaction: Interaction, what: str) -> list[str]:
    await fake.wait_for(lambda: bool(interaction.texts()), what=what)
    assert all(reply.ephemeral for reply in interaction.replies), "every answer is private"
    return interaction.texts()


async def test_a_member_deletes_their_posted_video(wanbot: RunningBot) -> None:
    fake = wanbot.fake
    image = fake.upload("first.png", *media("first.png"))
    asked = await fake.slash("video", "animate", image=image, prompt="A cat")
    await fake.wait_for(lambda: job_of(asked) is not None, what="the private 'Queued' reply")
    job_id = job_of(asked)
    assert job_id is not None
    await fake.wait_for(
        lambda: bool(result_messages(fake, job_id)), within=20, what=f"video #{job_id} posted"
    )
    await wanbot.bot.engine.settle()
    [status], [video] = status_messages(fake, job_id), result_messages(fake, job_id)
    assert f"wanbot:delete:{job_id}" in video.custom_ids()

    pressed = await fake.press(video, f"wanbot:delete:{job_id}")
    [question] = await answered(fake, pressed, "the question before deleting")
    assert question.startswith(f"Delete video #{job_id}?")
    assert pressed.original is not None
    assert pressed.original.custom_ids() == [
        f"wanbot:confirmdelete:{job_id}",
        f"wanbot:keep:{job_id}",
    ]
    assert not video.deleted and not status.deleted, "nothing goes before the member confirms"

    confirmed = await fake.press(pressed.original, f"wanbot:confirmdelete:{job_id}")
    assert await answered(fake, confirmed, "the answer to Delete") == [
        f"Video #{job_id} is deleted."
    ]
    assert pressed.original.custom_ids() == [], "the question lost its buttons"
    assert video.deleted and status.deleted
    assert result_messages(fake, job_id) == [] and status_messages(fake, job_id) == []
    database = wanbot.services.settings.database_path
    assert ledger(database, job_id) == {"reserve": 1, "commit": 1}, "still charged, once"
    with sqlite3.connect(database) as db:
        deleted_by = db.execute("SELECT deleted_by FROM jobs WHERE id = ?", (job_id,)).fetchone()
    assert deleted_by == (fake.member.id,)

    for action in ("retry", "extend", "lastframe", "delete"):
        again = await fake.press(video, f"wanbot:{action}:{job_id}")
        [refused] = await answered(fake, again, f"the answer to {action}")
        assert refused == (
            f"Video #{job_id} is already deleted."
            if action == "delete"
            else f"Video #{job_id} was deleted, so its buttons no longer work."
        )
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 1, "nothing new made"


def in_channel(
    fake: FakeDiscord, channel_id: int, job_id: int
) -> tuple[list[Message], list[Message]]:
    """The job's status messages and posted videos in `channel_id`, not deleted."""
    shown = fake.channel_messages(channel_id)
    return (
        [m for m in shown if status_job(m) == job_id],
        [m for m in shown if result_job(m) == job_id],
    )


async def test_a_video_delivered_by_dm_is_deleted_there_even_with_its_status_gone(
    fake: FakeDiscord, simulator: Simulator, tmp_path: Path
) -> None:
    settings = fast_settings(tmp_path)
    fake.faults.fail("POST", rf"/channels/{fake.channel.id}/messages", 403, times=None)
    async with running_bot(fake, simulator, settings) as running:
        image = fake.upload("first.png", *media("first.png"))
        asked = await fake.slash("video", "animate", image=image)
        await fake.wait_for(lambda: job_of(asked) is not None, what="the Queued reply")
        job_id = job_of(asked)
        assert job_id is not None
        dm = fake.dm_channel(fake.member)
        await fake.wait_for(
            lambda: bool(in_channel(fake, dm.id, job_id)[1]), within=20, what="the DM'd video"
        )
        await running.bot.engine.settle()
        [status], [video] = in_channel(fake, dm.id, job_id)
        status.deleted = True  # already gone at Discord: deleting it answers 404

        pressed = await fake.press(video, f"wanbot:delete:{job_id}")
        await answered(fake, pressed, "the question before deleting")
        assert pressed.original is not None
        confirmed = await fake.press(pressed.original, f"wanbot:confirmdelete:{job_id}")
        assert await answered(fake, confirmed, "the answer to Delete") == [
            f"Video #{job_id} is deleted."
        ]
        assert video.deleted
    assert ledger(settings.database_path, job_id) == {"reserve": 1, "commit": 1}
    with sqlite3.connect(settings.database_path) as db:
        row = db.execute("SELECT deleted_at FROM jobs WHERE id = ?", (job_id,)).fetchone()
    assert row[0] is not None

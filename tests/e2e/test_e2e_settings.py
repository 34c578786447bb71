"""Personal defaults and private mode through the fake Discord: a member's /video settings are
used by their next /video animate without options; in private mode the status message and the
video come to their DM and the channel gets nothing; a closed DM brings them back to the channel,
saying why. Every body the bot sends is checked against Discord's OpenAPI spec."""

from __future__ import annotations

import sqlite3

from tests.support.e2e import job_of, ledger, media
from tests.support.fakediscord import FakeDiscord, Interaction, Message
from tests.support.fakediscord.wanbot import RunningBot, result_job, status_job, status_text


async def answered(fake: FakeDiscord, interaction: Interaction, what: str) -> list[str]:
    await fake.wait_for(lambda: bool(interaction.texts()), what=what)
    assert all(reply.ephemeral for reply in interaction.replies), "every answer is private"
    return interaction.texts()


def of_job(fake: FakeDiscord, channel_id: int, job_id: int) -> tuple[list[Message], list[Message]]:
    """The job's status messages and posted videos in `channel_id`."""
    shown = fake.channel_messages(channel_id)
    return (
        [m for m in shown if status_job(m) == job_id],
        [m for m in shown if result_job(m) == job_id],
    )


async def animate(fake: FakeDiscord) -> int:
    image = fake.upload("first.png", *media("first.png"))
    asked = await fake.slash("video", "animate", image=image, prompt="A cat")
    await fake.wait_for(lambda: job_of(asked) is not None, what="the private 'Queued' reply")
    job_id = job_of(asked)
    assert job_id is not None
    return job_id


async def test_a_members_defaults_are_used_by_animate_without_options(wanbot: RunningBot) -> None:
    fake = wanbot.fake
    shown = await answered(fake, await fake.slash("video", "settings"), "the settings shown")
    assert shown[0].startswith("Your video settings on this server")
    saved = await fake.slash(
        "video", "settings", model="wan2.6-i2v-flash", resolution="720P", duration=3
    )
    [reply] = await answered(fake, saved, "the settings saved")
    assert reply.startswith("Your video settings on this server Saved.")

    job_id = await animate(fake)
    await fake.wait_for(
        lambda: bool(of_job(fake, fake.channel.id, job_id)[1]), within=20, what="the video"
    )
    database = wanbot.services.settings.database_path
    with sqlite3.connect(database) as db:
        row = db.execute(
            "SELECT model, resolution, duration FROM jobs WHERE id = ?", (job_id,)
        ).fetchone()
    assert row == ("wan2.6-i2v-flash", "720P", 3)


async def test_in_private_mode_the_video_comes_by_dm_and_the_channel_gets_nothing(
    wanbot: RunningBot,
) -> None:
    fake = wanbot.fake
    await wanbot.services.guild_settings.update(fake.guild.id, private_mode=True)
    await answered(fake, await fake.slash("video", "settings", private=True), "saved")
    before = len(fake.channel_messages())

    job_id = await animate(fake)
    dm = fake.dm_channel(fake.member)
    await fake.wait_for(
        lambda: bool(of_job(fake, dm.id, job_id)[1]), within=20, what="the video in the DM"
    )
    await wanbot.bot.engine.settle()
    [status], [video] = of_job(fake, dm.id, job_id)
    assert status_text(status) == "Done", "the status message, in the DM, edited to the end"
    assert any(a.filename.endswith(".mp4") for a in video.attachments)
    assert f"wanbot:delete:{job_id}" in video.custom_ids()
    assert len(fake.channel_messages()) == before, "nothing in the channel"
    assert ledger(wanbot.services.settings.database_path, job_id) == {"reserve": 1, "commit": 1}


async def test_a_closed_dm_in_private_mode_brings_the_video_to_the_channel(
    wanbot: RunningBot,
) -> None:
    fake = wanbot.fake
    await wanbot.services.guild_settings.update(fake.guild.id, private_mode=True)
    await answered(fake, await fake.slash("video", "settings", private=True), "saved")
    dm = fake.dm_channel(fake.member)
    fake.faults.fail("POST", rf"/channels/{dm.id}/messages", 403, times=None)

    job_id = await animate(fake)
    await fake.wait_for(
        lambda: bool(of_job(fake, fake.channel.id, job_id)[1]), within=20, what="the video"
    )
    [status], [video] = of_job(fake, fake.channel.id, job_id)
    why = f"your DMs are closed to me, so video #{job_id} is posted here instead of in private."
    assert why in status.content and why in video.content

"""/video settings at the Discord edge: a member keeps their own defaults on this server, and
every new video of theirs honours them (with a word when one no longer fits); private mode by
DM only where the moderators allow it (/videoadmin settings private_mode)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain.member import MemberSettings
from bot.i18n import ENGLISH
from cogs.admin import AdminCog
from cogs.render import member as member_words
from cogs.video.commands import VideoCog
from cogs.views import RetryButton
from tests.support.admin import moderator, run
from tests.support.discord_fakes import member, private_replies
from tests.support.video_rig import IMAGE, Rig, make_rig


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async for made in make_rig(tmp_path):
        yield made


async def settings(rig: Rig, user_id: int = 1, **options: object) -> str:
    fake = rig.fake(member(user_id))
    await rig.call(VideoCog.settings, fake, **options)
    [reply] = private_replies(fake)
    return reply


async def animate(rig: Rig, **options: object) -> str:
    fake = rig.fake()
    image = rig.host.attachment("cat.png", IMAGE, content_type="image/png")
    await rig.call(VideoCog.animate, fake, image=image, **options)
    return "\n".join(private_replies(fake))


async def test_with_no_options_it_shows_what_applies(rig: Rig) -> None:
    shown = await settings(rig)
    assert shown.startswith("Your video settings on this server")
    assert "not set (the server's default: the bot's choice for your inputs)" in shown
    assert "not allowed on this server" in shown


async def test_a_member_sets_defaults_and_animate_without_options_uses_them(rig: Rig) -> None:
    shown = await settings(rig, model="wan2.6-i2v", resolution="720P", duration=10)
    assert shown.startswith("Your video settings on this server Saved.")
    assert "wan2.6-i2v" in shown and "720P" in shown and "10 s" in shown
    assert await rig.services.member_settings.get(10, 1) == MemberSettings(
        10, 1, "wan2.6-i2v", "720P", 10
    )
    assert await rig.services.member_settings.get(10, 2) == MemberSettings(10, 2)

    reply = await animate(rig, prompt="A cat")
    [job] = await rig.jobs()
    assert (job.model, job.resolution, job.duration) == ("wan2.6-i2v", "720P", 10)
    assert (
        reply
        == f"Queued as video #{job.id} (10 s of your quota). Progress is posted in this channel."
    )

    await animate(rig, prompt="A cat", model="wan2.7-i2v", duration=3)
    typed = (await rig.jobs())[0]
    assert (typed.model, typed.resolution, typed.duration) == ("wan2.7-i2v", "720P", 3)


async def test_what_the_server_does_not_offer_is_refused_and_nothing_kept(rig: Rig) -> None:
    await rig.services.guild_settings.update(10, max_duration=8)
    reply = await settings(rig, duration=10)
    assert reply == "This server allows videos of at most 8 s."
    reply = await settings(rig, model="wanx2.1-kf2v-plus", resolution="1080P")
    assert reply.startswith("No model offered here makes 1080P")
    assert await rig.services.member_settings.get(10, 1) == MemberSettings(10, 1)


async def test_a_stale_default_is_passed_over_and_the_reply_says_so(rig: Rig) -> None:
    await settings(rig, model="wan2.6-i2v", duration=10)
    await rig.services.guild_settings.change(
        10, lambda s: s.with_model_hidden("wan2.6-i2v", hidden=True)
    )
    await rig.services.guild_settings.update(10, max_duration=8)
    reply = await animate(rig, prompt="A cat")
    [job] = await rig.jobs()
    assert (job.model, job.duration) == ("wan2.7-i2v", 5)
    assert reply.splitlines()[1:] == [
        "Your default model wan2.6-i2v cannot make this video here (not offered, or not for"
        " these inputs), so it uses wan2.7-i2v.",
        "Your default length of 10 s is not possible with wan2.7-i2v on this server now, so"
        " this video is 5 s.",
    ]


async def test_reset_clears_one_setting_or_all(rig: Rig) -> None:
    await settings(rig, model="wan2.6-i2v", resolution="720P")
    await settings(rig, reset="model")
    assert await rig.services.member_settings.get(10, 1) == MemberSettings(10, 1, resolution="720P")
    await settings(rig, reset="all", duration=4)
    assert await rig.services.member_settings.get(10, 1) == MemberSettings(10, 1, duration=4)


async def test_private_mode_only_where_the_moderators_allow_it(rig: Rig) -> None:
    reply = await settings(rig, private=True)
    assert reply.startswith("This server does not allow private mode")
    admin = AdminCog(rig.bot)
    said = await run(admin.settings_private_mode, admin, moderator(), allowed=True)
    assert said == (
        "Private mode: allowed: members may have their videos by DM"
        " (was off: videos are posted in the channel)."
    )
    assert "on: your videos come to your DMs" in await settings(rig, private=True)

    reply = await animate(rig, prompt="A cat")
    [job] = await rig.jobs()
    assert job.by_dm is True
    assert member_words.video_link(ENGLISH, job) == f"Video #{job.id} was sent to your DMs."
    assert reply == (
        f"Queued as video #{job.id} (5 s of your quota). Private mode: its progress and the"
        " video come to your DMs."
    )

    said = await run(admin.settings_private_mode, admin, moderator(), allowed=False)
    assert said.endswith(
        "Videos already queued still go where they were asked to go; new ones are posted in the channel."
    )
    reply = await animate(rig, prompt="A dog")
    newest, first = await rig.jobs()
    assert newest.by_dm is False and first.by_dm is True, "the queued one keeps its DM"
    assert reply.splitlines()[-1] == (
        "This server has turned private mode off, so this video is posted in the channel."
    )


async def test_a_button_honours_private_mode_as_the_commands_do(rig: Rig) -> None:
    await rig.services.guild_settings.update(10, private_mode=True)
    await settings(rig, private=True)
    await animate(rig, prompt="A cat")
    [job] = await rig.jobs()
    fake = rig.fake()
    await RetryButton(job.id).callback(fake)
    [reply] = private_replies(fake)
    retried = (await rig.jobs())[0]
    assert retried.id != job.id and retried.by_dm is True
    assert reply == (
        f"Queued as video #{retried.id}, a new take on #{job.id}. Private mode: it comes to your"
        " DMs."
    )

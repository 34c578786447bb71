"""/video at the Discord edge: spec'd interactions, real attachment bytes from loopback, a real engine."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.domain.catalog import DEFAULT_MODEL, MediaType
from bot.domain.jobs import JobState
from bot.engine.runner import QueueFull
from bot.engine.virtual import VirtualClock, drive
from bot.i18n import ENGLISH
from bot.i18n import catalogs as upkeep
from bot.media import samples
from bot.media.probe import check_media
from cogs.render import member as render_member
from cogs.video.commands import VideoCog
from cogs.views import DYNAMIC_ITEMS, ExtendButton, LastFrameButton, RetryButton
from tests.support.discord_fakes import (
    MB,
    member,
    private_replies,
    server,
)
from tests.support.video_rig import IMAGE, Rig, make_rig


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async for made in make_rig(tmp_path):
        yield made


async def test_animate_with_audio_queues_the_right_request(rig: Rig) -> None:
    fake = rig.fake()
    image = rig.host.attachment("cat.png", IMAGE, content_type="image/png")
    audio = rig.host.attachment("song.wav", samples.make_audio(4.0), content_type="audio/wav")
    await rig.call(
        VideoCog.animate, fake, image=image, prompt="The cat sings", audio=audio, duration=6, seed=3
    )

    [job] = await rig.jobs()
    request = job.request
    assert (job.model, job.duration, job.resolution) == ("wan2.7-i2v", 6, "1080P")
    assert request.prompt == "The cat sings" and request.seed == 3
    assert request.media_types == {MediaType.FIRST_FRAME, MediaType.DRIVING_AUDIO}
    uploaded = {item.type: rig.simulator.uploads[item.url].data for item in request.media}
    assert uploaded[MediaType.FIRST_FRAME] == IMAGE
    assert (job.guild_id, job.channel_id, job.filesize_limit) == (10, 100, 10 * MB)
    allowance = await rig.services.quotas.allowance(guild_id=10, user_id=1)
    assert allowance.held_seconds == 6
    fake.response.defer.assert_awaited_once_with(ephemeral=True, thinking=True)
    assert private_replies(fake) == [
        f"Queued as video #{job.id} (6 s of your quota). Progress is posted in this channel."
    ]


async def test_interpolate_continue_and_effect_use_their_models(rig: Rig) -> None:
    first = rig.host.attachment("a.png", IMAGE, content_type="image/png")
    last = rig.host.attachment(
        "b.jpg", samples.make_image(1280, 720, fmt="JPEG", hue=3), content_type="image/jpeg"
    )
    await rig.call(
        VideoCog.interpolate,
        rig.fake(),
        first=first,
        last=last,
        model="wan2.2-kf2v-flash",
        resolution="480P",
    )
    clip = rig.host.attachment(
        "c.mp4", samples.make_video(3.0, 320, 240, fps=5), content_type="video/mp4"
    )
    await rig.call(VideoCog.continue_, rig.fake(), clip=clip, prompt="More")
    await rig.call(VideoCog.effect, rig.fake(), image=first, template="mech1")

    kf2v, continuation, effect = sorted(await rig.jobs(), key=lambda j: j.id)
    assert kf2v.request.body()["input"].keys() >= {"first_frame_url", "last_frame_url"}
    assert kf2v.resolution == "480P"
    assert continuation.request.media_types == {MediaType.FIRST_CLIP}
    assert continuation.duration == 8, "a 3 s clip continues to 3 + 5 s by default"
    assert effect.model == "wanx2.1-kf2v-plus" and effect.request.template == "mech1"


@pytest.mark.parametrize(
    ("command", "files", "options", "message"),
    [
        (
            "interpolate",
            ("first", "last"),
            {"model": "wan2.7-i2v", "resolution": "480P"},
            "wan2.7-i2v does not make 480P videos; choose one of: 720P, 1080P.",
        ),
        (
            "interpolate",
            ("first", "last"),
            {"model": "wanx2.1-kf2v-plus", "duration": 8},
            "wanx2.1-kf2v-plus always makes 5 s videos; leave the duration out.",
        ),
        (
            "animate",
            ("image",),
            {"model": "wan2.6-i2v", "duration": 7},
            "wan2.6-i2v makes videos of 5, 10 or 15 s, not 7 s.",
        ),
        (
            "interpolate",
            ("first", "last", "audio"),
            {"model": "wan2.2-kf2v-flash"},
            "wan2.2-kf2v-flash does not take this input.",
        ),
        (
            "animate",
            ("image",),
            {"model": "wan2.6-i2v-flash", "shot_type": "multi", "prompt_extend": False},
            "Multi-shot videos need the prompt extended: turn prompt_extend on, or ask for a "
            "single shot.",
        ),
        (
            "animate",
            ("image",),
            {"model": "wan2.7-i2v", "shot_type": "multi"},
            "wan2.7-i2v does not take a shot type; leave it out.",
        ),
    ],
)
async def test_offered_choices_that_do_not_go_together_are_refused_before_anything_is_spent(
    rig: Rig, command: str, files: tuple[str, ...], options: dict[str, Any], message: str
) -> None:
    """Each of these choices is offered (it works with another model), but not with this one."""
    attachments = {
        "audio": rig.host.attachment("song.mp3", b"ID3" + bytes(4000), content_type="audio/mpeg")
    }
    fake = rig.fake()
    given = {name: attachments.get(name) for name in files}
    for name in files:
        given[name] = given[name] or rig.host.attachment(
            f"{name}.png", IMAGE, content_type="image/png"
        )
    await rig.call(getattr(VideoCog, command), fake, **given, **options)

    [reply] = private_replies(fake)
    assert message in reply
    fake.response.defer.assert_not_awaited()
    assert "download" not in rig.timeline.names()
    assert await rig.jobs() == [] and rig.uploads() == 0
    assert (await rig.services.quotas.allowance(guild_id=10, user_id=1)).used_seconds == 0


UNREADABLE = (
    "First frame: the file is not an image wan2.7-i2v can read; send one of these formats: "
    "JPEG, PNG, BMP, WEBP."
)


@pytest.mark.parametrize(
    ("name", "data", "content_type", "size", "message", "deferred"),
    [
        (
            "big.png",
            IMAGE,
            "image/png",
            25 * MB,
            "First frame: the file is 25.0 MB; wan2.7-i2v takes at most 20 MB.",
            False,
        ),
        (
            "song.png",
            IMAGE,
            "audio/mpeg",
            None,
            "First frame: the file should be an image, but “song.png” is audio/mpeg.",
            False,
        ),
        ("empty.png", b"", "image/png", None, "First frame: the file is empty (0 bytes).", False),
        (
            "alpha.png",
            samples.make_image(800, 600, alpha=True),
            "image/png",
            None,
            "First frame: the PNG has transparency; save it without an alpha channel (or as JPEG).",
            True,
        ),
        (
            "tiny.png",
            samples.make_image(100, 100),
            "image/png",
            None,
            "First frame: the width is 100 px; wan2.7-i2v needs at least 240 px.",
            True,
        ),
        ("ls.png", Path("/bin/ls").read_bytes()[:8000], "image/png", None, UNREADABLE, True),
        ("cut.png", IMAGE[: len(IMAGE) // 2], "image/png", None, UNREADABLE, True),
    ],
)
async def test_bad_attachments_get_a_private_message_and_cost_nothing(
    rig: Rig,
    name: str,
    data: bytes,
    content_type: str,
    size: int | None,
    message: str,
    deferred: bool,
) -> None:
    fake = rig.fake()
    image = rig.host.attachment(name, data, content_type=content_type, size=size)
    await rig.call(VideoCog.animate, fake, image=image)

    [reply] = private_replies(fake)
    assert message in reply
    assert (fake.response.defer.await_count == 1) is deferred
    assert ("download" in rig.timeline.names()) is deferred, "metadata problems need no download"
    assert await rig.jobs() == []
    assert rig.uploads() == 0
    assert (await rig.services.quotas.allowance(guild_id=10, user_id=1)).used_seconds == 0


async def test_the_defer_comes_before_any_download(rig: Rig) -> None:
    rig.host.delay = 0.3  # a slow CDN
    fake = rig.fake()
    image = rig.host.attachment("cat.png", IMAGE, content_type="image/png")
    await rig.call(VideoCog.animate, fake, image=image)
    assert rig.timeline.names()[:2] == ["defer", "download"]
    assert len(await rig.jobs()) == 1


async def test_server_settings_apply_before_anything_is_downloaded(rig: Rig) -> None:
    store = rig.services.guild_settings
    image = rig.host.attachment("cat.png", IMAGE, content_type="image/png")

    await store.update(10, allowed_channels=frozenset({555}))
    fake = rig.fake()
    await rig.call(VideoCog.animate, fake, image=image)
    assert "Videos can be made in <#555> on this server." in private_replies(fake)[0]

    await store.update(10, allowed_channels=frozenset(), banned_words=("gore",))
    fake = rig.fake()
    await rig.call(VideoCog.animate, fake, image=image, prompt="lots of GORE")
    assert (
        "The prompt uses “gore”, which this server does not allow. Please rephrase it."
        in private_replies(fake)[0]
    )

    await store.update(10, banned_words=(), max_duration=8)
    fake = rig.fake()
    await rig.call(VideoCog.animate, fake, image=image, duration=10)
    assert "This server allows videos of at most 8 s." in private_replies(fake)[0]
    assert "download" not in rig.timeline.names()

    await store.update(10, force_watermark=True, default_resolution="720P")
    await rig.call(VideoCog.animate, rig.fake(), image=image)
    [job] = await rig.jobs()
    assert job.request.watermark and job.resolution == "720P"


async def test_no_quota_left_is_refused_before_downloading(rig: Rig) -> None:
    await rig.services.quotas.set_override(10, 1, 4)
    fake = rig.fake()
    await rig.call(
        VideoCog.animate,
        fake,
        image=rig.host.attachment("cat.png", IMAGE, content_type="image/png"),
    )
    assert "needs 5 s of your quota but you have 4 s left this week" in private_replies(fake)[0]
    assert "download" not in rig.timeline.names()
    fake.response.defer.assert_not_awaited()


async def test_quota_jobs_job_and_models_answer_privately(rig: Rig) -> None:
    await rig.call(
        VideoCog.animate,
        rig.fake(),
        image=rig.host.attachment("cat.png", IMAGE, content_type="image/png"),
        prompt="A cat",
    )
    [job] = await rig.jobs()
    for command, options in (
        (VideoCog.quota, {}),
        (VideoCog.jobs, {}),
        (VideoCog.job, {"id": job.id}),
        (VideoCog.models, {}),
    ):
        fake = rig.fake()
        await rig.call(command, fake, **options)
        assert private_replies(fake)
    fake = rig.fake(member(2))
    await rig.call(VideoCog.job, fake, id=job.id)
    assert "belongs to someone else" in private_replies(fake)[0]


async def test_cancel_a_queued_video(rig: Rig) -> None:
    await rig.call(
        VideoCog.animate,
        rig.fake(),
        image=rig.host.attachment("cat.png", IMAGE, content_type="image/png"),
    )
    [job] = await rig.jobs()
    stranger = rig.fake(member(2))
    await rig.call(VideoCog.cancel, stranger, job=job.id)
    assert "only they or a moderator" in private_replies(stranger)[0]
    fake = rig.fake()
    await rig.call(VideoCog.cancel, fake, job=job.id)
    assert "Nothing was charged" in private_replies(fake)[0]
    assert (await rig.services.jobs.get(job.id)).state is JobState.CANCELED


async def test_cancel_answers_discord_before_asking_the_provider(rig: Rig) -> None:
    await rig.call(
        VideoCog.animate,
        rig.fake(),
        image=rig.host.attachment("cat.png", IMAGE, content_type="image/png"),
    )
    [job] = await rig.jobs()
    await rig.services.engine.step()  # type: ignore[union-attr]
    assert (await rig.services.jobs.get(job.id)).state is JobState.PENDING  # type: ignore[union-attr]
    order: list[str] = []
    engine = rig.services.engine
    assert engine is not None
    real_cancel = engine.cancel

    async def cancel(job_id: int) -> object:
        order.append("provider")
        return await real_cancel(job_id)

    engine.cancel = cancel  # type: ignore[method-assign]
    fake = rig.fake()
    fake.response.defer.side_effect = lambda **kwargs: order.append("defer")  # type: ignore[attr-defined]
    fake.response.is_done.side_effect = lambda: "defer" in order  # type: ignore[attr-defined]
    await rig.call(VideoCog.cancel, fake, job=job.id)
    assert order == ["defer", "provider"]
    assert fake.response.defer.await_args.kwargs["ephemeral"] is True  # type: ignore[attr-defined]
    assert "Canceled" in private_replies(fake)[0]


def dm_interaction(rig: Rig, user: discord.Member) -> discord.Interaction:
    """A button pressed in the requester's DMs: no server, a DM channel."""
    return rig.fake(user, guild_id=None, channel_id=555)


async def test_buttons_on_a_video_delivered_by_dm_work_for_the_requester(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = await _delivered_job(rig)
    the_server_is(rig, monkeypatch, server(10, member(1), member(2)))
    fake = dm_interaction(rig, member(1))
    await RetryButton(job_id).callback(fake)
    assert re.match(r"Queued as video #\d+, a new take on #1", private_replies(fake)[0])
    retried = next(j for j in await rig.jobs() if j.id != job_id)
    assert (retried.guild_id, retried.channel_id) == (10, 100), "counted in the job's server"
    assert (await rig.services.quotas.allowance(guild_id=10, user_id=1)).held_seconds == 5

    stranger = dm_interaction(rig, member(2))
    await RetryButton(job_id).callback(stranger)
    assert "belongs to someone else" in private_replies(stranger)[0]


async def _delivered_job(rig: Rig) -> int:
    await rig.call(
        VideoCog.animate,
        rig.fake(),
        image=rig.host.attachment("cat.png", IMAGE, content_type="image/png"),
        prompt="A cat",
    )
    [job] = await rig.jobs()

    async def done() -> bool:
        current = await rig.services.jobs.get(job.id)
        return current is not None and current.state.is_final

    await drive(rig.services.engine, rig.clock, until=done)  # type: ignore[arg-type]
    return job.id


async def test_buttons_decode_after_a_restart_and_check_who_presses(tmp_path: Path) -> None:
    clock = VirtualClock()
    async for rig in make_rig(tmp_path, clock):
        job_id = await _delivered_job(rig)
        custom_ids = [
            c.custom_id
            for c in __import__("cogs.views", fromlist=["result_view"])
            .result_view(job_id, ENGLISH)
            .children
        ]
    # A new process: new bot, cog, engine; the same database. Only the custom_id survives.
    async for rig in make_rig(tmp_path, clock):
        retry_id = next(c for c in custom_ids if c.startswith("wanbot:retry:"))
        match = RetryButton.__discord_ui_compiled_template__.fullmatch(retry_id)
        assert match and RetryButton in DYNAMIC_ITEMS
        stranger = rig.fake(member(2))
        button = await RetryButton.from_custom_id(
            stranger, discord.ui.Button(custom_id=retry_id), match
        )
        assert button.job_id == job_id
        await button.callback(stranger)
        assert "only they or a moderator" in private_replies(stranger)[0]

        moderator = rig.fake(member(3, manage_guild=True))
        await button.callback(moderator)
        assert re.match(r"Queued as video #\d+, a new take on #1", private_replies(moderator)[0])
        retried = (await rig.services.jobs.for_user(10, 3))[0]
        original = await rig.services.jobs.get(job_id)
        assert retried.request.media == original.request.media
        assert retried.request.seed is not None


async def test_extend_and_animate_last_frame_build_on_the_finished_video(rig: Rig) -> None:
    job_id = await _delivered_job(rig)
    from cogs.views import ExtendButton, LastFrameButton

    fake = rig.fake()
    await ExtendButton(job_id).callback(fake)
    assert "continuing #" in private_replies(fake)[0]
    fake = rig.fake()
    await LastFrameButton(job_id).callback(fake)
    assert "from the last frame of #" in private_replies(fake)[0]
    extended, framed = sorted((j for j in await rig.jobs() if j.id != job_id), key=lambda j: j.id)
    assert extended.request.media_types == {MediaType.FIRST_CLIP}
    assert extended.duration == 10, "a 5 s result continues to 5 + 5 s"
    assert framed.request.media_types == {MediaType.FIRST_FRAME}
    clip = rig.simulator.uploads[extended.request.media[0].url].data
    assert check_media(MediaType.FIRST_CLIP, clip, extended.request.spec).duration == pytest.approx(
        5, abs=0.5
    )


async def test_job_details_come_with_the_evidence(rig: Rig) -> None:
    job_id = await _delivered_job(rig)
    fake = rig.fake()
    await rig.call(VideoCog.job, fake, id=job_id)
    sent = fake.response.send_message.await_args.kwargs
    assert sent["ephemeral"] is True
    evidence = json.loads(sent["file"].fp.read())
    assert evidence["task_id"] and evidence["responses"][0]["call"] == "submit"
    again = fake.followup.send.await_args
    assert again.kwargs["ephemeral"] is True
    assert again.kwargs["view"].children[0].custom_id == f"wanbot:retry:{job_id}"


async def test_an_unexpected_error_is_logged_and_apologised_for(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database on fire")

    rig.services.engine.enqueue = broken  # type: ignore[method-assign, union-attr]
    fake = rig.fake()
    await rig.call(
        VideoCog.animate,
        fake,
        image=rig.host.attachment("cat.png", IMAGE, content_type="image/png"),
    )
    [reply] = private_replies(fake)
    error_id = re.search(r"error id `([0-9a-f]{8})`", reply)
    assert error_id, reply
    assert "database on fire" not in reply
    [record] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert error_id.group(1) in record.getMessage() and record.exc_info


# -- languages ------------------------------------------------------------------------------------


def translated(catalog: str, msgid: str, **values: object) -> str:
    """A message as the catalog's translator wrote it, read from the .po file (not via the bot)."""
    return upkeep.read(catalog)[msgid].string.format(**values)


async def test_a_member_is_answered_in_their_own_language(rig: Rig) -> None:
    japanese = rig.fake(locale=discord.Locale.japanese, guild_locale=discord.Locale.german)
    await rig.call(VideoCog.job, japanese, id=999)
    missing = "There is no video #{id} in this server."
    assert private_replies(japanese) == [translated("ja", missing, id=999)]
    await rig.call(VideoCog.quota, japanese)
    assert private_replies(japanese)[-1].startswith(translated("ja", "Video quota"))

    italian = rig.fake(locale=discord.Locale.italian, guild_locale=discord.Locale.german)
    await rig.call(VideoCog.job, italian, id=999)
    assert private_replies(italian) == [translated("de", missing, id=999)]  # the server's

    english = rig.fake(locale=discord.Locale.british_english, guild_locale=discord.Locale.german)
    await rig.call(VideoCog.job, english, id=999)
    assert private_replies(english) == ["There is no video #999 in this server."]


async def test_bad_input_is_explained_in_the_members_language(rig: Rig) -> None:
    fake = rig.fake(locale=discord.Locale.korean)
    await rig.call(
        VideoCog.animate,
        fake,
        image=rig.host.attachment("cat.png", IMAGE, content_type="image/png"),
        duration=13,
        model="wan2.6-i2v",  # offered, but it makes 5, 10 or 15 s
    )
    [reply] = private_replies(fake)
    assert re.search("[\uac00-\ud7a3]", reply), f"not Korean: {reply}"
    assert rig.uploads() == 0 and await rig.jobs() == []


async def test_a_job_keeps_the_servers_language_for_its_channel_messages(rig: Rig) -> None:
    fake = rig.fake(locale=discord.Locale.japanese, guild_locale=discord.Locale.german)
    image = rig.host.attachment("cat.png", IMAGE, content_type="image/png")
    await rig.call(VideoCog.animate, fake, image=image, prompt="A cat")
    [job] = await rig.jobs()
    assert (job.locale, job.member_locale) == ("de", "ja")
    queued = "Queued as video #{id} ({s} s of your quota). Progress is posted in this channel."
    assert private_replies(fake) == [translated("ja", queued, id=job.id, s=job.duration)]

    await rig.services.guild_settings.update(10, language="fr")  # a moderator's choice wins
    await rig.call(VideoCog.animate, rig.fake(guild_locale=discord.Locale.german), image=image)
    latest = max(await rig.jobs(), key=lambda j: j.id)
    assert (latest.locale, latest.member_locale) == ("fr", "en-US")


async def test_quota_shows_the_periods_use_as_a_bar_and_when_it_renews(rig: Rig) -> None:
    fake = rig.fake()
    await rig.call(VideoCog.quota, fake)
    [untouched] = private_replies(fake)
    assert "`░░░░░░░░░░░░` 0% · 0 s of 60 s" in untouched
    image = rig.host.attachment("cat.png", IMAGE, content_type="image/png")
    await rig.call(VideoCog.animate, rig.fake(), image=image, duration=15)
    fake = rig.fake()
    await rig.call(VideoCog.quota, fake)
    [used] = private_replies(fake)
    assert "`███░░░░░░░░░` 25% · 15 s of 60 s" in used
    renews = rig.services.quotas  # the renewal is a Discord timestamp, shown in each reader's zone
    allowance = await renews.allowance(guild_id=10, user_id=1, role_ids=())
    assert f"<t:{int(allowance.renews_at)}:f> (<t:{int(allowance.renews_at)}:R>)" in used


@pytest.mark.parametrize("name", ["data:x.png", "oss:x.png", "https:x.png"])
async def test_an_attachment_named_like_a_url_is_uploaded_as_its_bytes(rig: Rig, name: str) -> None:
    """Attachments are always read and staged; only URLs given as URLs (generate) pass through."""
    image = rig.host.attachment(name, IMAGE, content_type="image/png")
    await rig.call(VideoCog.animate, rig.fake(), image=image, prompt="A cat")
    [job] = await rig.jobs()
    [item] = job.request.media
    assert item.url.startswith("oss://")
    assert rig.simulator.uploads[item.url].data == IMAGE


# -- buttons go through what /video goes through ----------------------------------------------

LEFT = (
    "You are no longer a member of the server where video #{id} was made, so its buttons "
    "cannot make new videos."
)


def the_server_is(rig: Rig, monkeypatch: pytest.MonkeyPatch, found: discord.Guild) -> None:
    """The job's server, as the bot's cache holds it."""
    monkeypatch.setattr(rig.bot, "get_guild", lambda guild_id: found if guild_id == 10 else None)


async def test_buttons_in_dms_refuse_a_member_who_left_the_server(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = await _delivered_job(rig)
    the_server_is(rig, monkeypatch, server(10))  # Alice left, or was banned
    for button in (RetryButton, ExtendButton, LastFrameButton):
        fake = dm_interaction(rig, member(1))
        await button(job_id).callback(fake)
        assert private_replies(fake) == [LEFT.format(id=job_id)], button
        fake.response.defer.assert_not_awaited()  # type: ignore[attr-defined]

    the_server_is(rig, monkeypatch, server(10, member(1), failing=503))
    fake = dm_interaction(rig, member(1))
    await RetryButton(job_id).callback(fake)
    assert private_replies(fake) == [
        f"Could not check that you are still a member of the server where video #{job_id} "
        "was made; try again shortly."
    ]
    assert [job.id for job in await rig.jobs()] == [job_id], "nothing new was made"
    allowance = await rig.services.quotas.allowance(guild_id=10, user_id=1)
    assert (allowance.used_seconds, allowance.held_seconds) == (5, 0), "the server paid nothing"


async def test_buttons_in_dms_follow_the_servers_rules_for_its_members(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = await _delivered_job(rig)
    the_server_is(rig, monkeypatch, server(10, member(1, role_ids=(77,))))
    await rig.services.quotas.set_role_default(10, 77, 600)
    await rig.services.guild_settings.update(10, force_watermark=True, max_duration=3)
    fake = dm_interaction(rig, member(1))
    await RetryButton(job_id).callback(fake)
    assert re.match(r"Queued as video #\d+, a new take on #1", private_replies(fake)[0])
    [retried] = [job for job in await rig.jobs() if job.id != job_id]
    assert retried.request.watermark and retried.duration == 3
    assert (retried.guild_id, retried.channel_id) == (10, 100)
    allowance = await rig.services.quotas.allowance(guild_id=10, user_id=1, role_ids=(77,))
    assert allowance.source == "role:77" and allowance.held_seconds == 3


async def test_retry_follows_the_servers_rules_as_they_are_now(rig: Rig) -> None:
    job_id = await _delivered_job(rig)  # "A cat", 5 s
    store = rig.services.guild_settings

    async def retry() -> str:
        fake = rig.fake()
        await RetryButton(job_id).callback(fake)
        [reply] = private_replies(fake)
        return reply

    await store.update(10, banned_words=("cat",))
    assert await retry() == (
        "The prompt uses “cat”, which this server does not allow. Please rephrase it."
    )
    await store.update(10, banned_words=(), allowed_channels=frozenset({555}))
    assert await retry() == "Videos can be made in <#555> on this server."
    await store.update(10, allowed_channels=frozenset())
    await rig.services.quotas.block(10, 1, actor_id=7)
    assert await retry() == "You are blocked from making videos here by a moderator."
    await rig.services.quotas.unblock(10, 1, actor_id=7)
    assert [job.id for job in await rig.jobs()] == [job_id]

    await store.update(10, force_watermark=True, max_duration=4)
    assert (await retry()).startswith("Queued as video #")
    [retried] = [job for job in await rig.jobs() if job.id != job_id]
    assert retried.request.watermark and retried.duration == 4
    assert (
        retried.request.prompt == "A cat"
        and retried.request.media == (await rig.services.jobs.get(job_id)).request.media
    )  # type: ignore[union-attr]


async def test_extend_keeps_within_the_servers_longest_duration(rig: Rig) -> None:
    job_id = await _delivered_job(rig)
    await rig.services.guild_settings.update(10, max_duration=8)
    fake = rig.fake()
    await ExtendButton(job_id).callback(fake)
    assert "continuing #" in private_replies(fake)[0]
    [extended] = [job for job in await rig.jobs() if job.id != job_id]
    assert extended.duration == 8, "as /video continue does: the clip + 5 s, at most the server's"


async def test_a_server_default_model_that_cannot_take_the_inputs_is_passed_over(rig: Rig) -> None:
    # The server's default makes videos between two pictures; a member animating one picture
    # gets the bot's default model, not a refusal for a choice they never made.
    await rig.services.guild_settings.update(10, default_model="wan2.2-kf2v-flash")
    image = rig.host.attachment("cat.png", IMAGE, content_type="image/png")
    fake = rig.fake()
    await rig.call(VideoCog.animate, fake, image=image)
    [job] = await rig.jobs()
    assert job.model == DEFAULT_MODEL
    assert job.state is JobState.QUEUED

    first, last = image, rig.host.attachment("dog.png", IMAGE, content_type="image/png")
    await rig.call(VideoCog.interpolate, rig.fake(), first=first, last=last)
    assert {job.model for job in await rig.jobs()} == {DEFAULT_MODEL, "wan2.2-kf2v-flash"}


async def test_retired_and_hidden_models_are_refused_before_anything_is_downloaded(
    rig: Rig,
) -> None:
    engine = rig.services.running_engine
    engine.config = replace(engine.config, retired_models=frozenset({"wan2.6-i2v-flash"}))
    store = rig.services.guild_settings
    await store.update(10, hidden_models=frozenset({"wan2.7-i2v"}), default_model="wan2.7-i2v")
    image = rig.host.attachment("cat.png", IMAGE, content_type="image/png")

    fake = rig.fake()
    await rig.call(VideoCog.animate, fake, image=image, model="wan2.6-i2v-flash")
    assert (
        "wan2.6-i2v-flash has been retired and no longer makes videos" in private_replies(fake)[0]
    )
    fake = rig.fake()
    await rig.call(VideoCog.animate, fake, image=image, model="wan2.7-i2v")
    assert "wan2.7-i2v is not offered on this server" in private_replies(fake)[0]
    assert "download" not in rig.timeline.names()
    assert await rig.jobs() == []
    assert (await rig.services.quotas.allowance(guild_id=10, user_id=1)).used_seconds == 0

    # No model named: the server's default is hidden, the bot's retired: one it offers is used.
    await rig.call(VideoCog.animate, rig.fake(), image=image)
    [job] = await rig.jobs()
    assert job.model == "wan2.6-i2v"

    fake = rig.fake()
    await rig.call(VideoCog.models, fake)
    [call] = fake.response.send_message.await_args_list
    listed = [field.name for field in call.kwargs["embed"].fields]
    assert "wan2.6-i2v" in listed
    assert "wan2.7-i2v" not in listed and "wan2.6-i2v-flash" not in listed


async def test_a_multi_shot_animation_is_sent_as_asked_and_retry_keeps_it(rig: Rig) -> None:
    image = rig.host.attachment("cat.png", IMAGE, content_type="image/png")
    await rig.call(
        VideoCog.animate,
        rig.fake(),
        image=image,
        prompt="A cat chases a mouse",
        shot_type="multi",
    )
    [job] = await rig.jobs()
    assert job.model == "wan2.6-i2v-flash", "no model chosen: one that takes a shot type"

    async def done() -> bool:
        current = await rig.services.jobs.get(job.id)
        return current is not None and current.state.is_final

    await drive(rig.services.engine, rig.clock, until=done)  # type: ignore[arg-type]
    submit = next(r for r in rig.simulator.requests if r.path.endswith("video-synthesis"))
    assert submit.json["parameters"]["shot_type"] == "multi"
    assert submit.json["parameters"]["prompt_extend"] is True

    fake = rig.fake()
    await RetryButton(job.id).callback(fake)
    assert private_replies(fake)[0].startswith("Queued as video #")
    [retried] = [j for j in await rig.jobs() if j.id != job.id]
    assert (retried.model, retried.request.shot_type) == ("wan2.6-i2v-flash", "multi")
    assert retried.request.body()["parameters"]["shot_type"] == "multi"


async def test_a_shot_type_without_a_model_passes_over_models_the_server_hides(rig: Rig) -> None:
    await rig.services.guild_settings.update(10, hidden_models=frozenset({"wan2.6-i2v-flash"}))
    image = rig.host.attachment("cat.png", IMAGE, content_type="image/png")
    await rig.call(VideoCog.animate, rig.fake(), image=image, shot_type="single")
    [job] = await rig.jobs()
    assert (job.model, job.request.shot_type) == ("wan2.6-i2v", "single")
    assert "shot_type" not in job.request.body()["parameters"], "single is the default"


async def test_variations_queue_one_job_per_seed_on_one_upload_of_each_input(rig: Rig) -> None:
    fake = rig.fake()
    image = rig.host.attachment("cat.png", IMAGE, content_type="image/png")
    audio = rig.host.attachment("song.wav", samples.make_audio(4.0), content_type="audio/wav")
    await rig.call(VideoCog.animate, fake, image=image, audio=audio, duration=5, seed=41, count=3)

    jobs = sorted(await rig.jobs(), key=lambda job: job.id)
    assert [job.request.seed for job in jobs] == [41, 42, 43]
    # Each has its own fingerprint: none is ever taken for another's earlier result.
    assert len({job.dedup_key for job in jobs}) == 3 and None not in {j.dedup_key for j in jobs}
    assert rig.uploads() == 2  # the image and the audio, once each, for all three
    assert len({frozenset(item.url for item in job.request.media) for job in jobs}) == 1
    allowance = await rig.services.quotas.allowance(guild_id=10, user_id=1)
    assert allowance.held_seconds == 15
    ids = ", ".join(f"#{job.id}" for job in jobs)
    assert private_replies(fake) == [
        f"Queued as videos {ids} (15 s of your quota). "
        "Each is posted in this channel as it finishes."
    ]

    await drive(rig.services.engine, rig.clock, until=lambda: len(rig.notifier.posted) == 3)  # type: ignore[arg-type]
    assert sorted(rig.notifier.posted) == [job.id for job in jobs]


async def test_variations_without_a_seed_each_get_a_different_one(rig: Rig) -> None:
    image = rig.host.attachment("cat.png", IMAGE, content_type="image/png")
    await rig.call(VideoCog.effect, rig.fake(), image=image, template="mech1", count=2)
    seeds = [job.request.seed for job in await rig.jobs()]
    assert len(seeds) == 2 and None not in seeds and len(set(seeds)) == 2
    assert rig.uploads() == 1


async def test_variations_the_quota_cannot_cover_are_refused_as_a_whole(rig: Rig) -> None:
    await rig.services.quotas.set_override(10, 1, 15)
    fake = rig.fake()
    image = rig.host.attachment("cat.png", IMAGE, content_type="image/png")
    await rig.call(VideoCog.animate, fake, image=image, duration=5, count=4)
    assert "needs 20 s of your quota but you have 15 s left" in private_replies(fake)[0]
    assert "download" not in rig.timeline.names() and rig.uploads() == 0
    fake.response.defer.assert_not_awaited()
    assert await rig.jobs() == []
    assert (await rig.services.quotas.allowance(guild_id=10, user_id=1)).held_seconds == 0


async def test_variations_cut_short_by_another_request_say_which_were_queued(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Between the check and the queueing, another request of hers took the last place in line.
    engine = rig.services.engine
    enqueue = engine.enqueue
    calls = 0

    async def line_fills_after_two(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise QueueFull(3)
        return await enqueue(*args, **kwargs)

    monkeypatch.setattr(engine, "enqueue", line_fills_after_two)
    fake = rig.fake()
    image = rig.host.attachment("cat.png", IMAGE, content_type="image/png")
    await rig.call(VideoCog.animate, fake, image=image, duration=5, count=3)
    jobs = sorted(await rig.jobs(), key=lambda job: job.id)
    assert len(jobs) == 2
    assert private_replies(fake) == [
        f"Queued as videos #{jobs[0].id}, #{jobs[1].id} (10 s of your quota). "
        "Each is posted in this channel as it finishes.\n"
        "You already have 3 videos waiting; wait for one to start before asking for more."
    ]


async def test_reference_queues_each_reference_in_its_place_with_its_voice(rig: Rig) -> None:
    """/video reference: reference1 a picture, reference3 a clip (reference2 left empty takes no
    number), voice3 the clip's voice: told apart by what Discord says of each file, uploaded
    once each, sent in order; the quota holds the video's seconds and the clip's."""
    fake = rig.fake()
    picture = rig.host.attachment("me.png", IMAGE, content_type="image/png")
    clip_bytes = samples.make_video(3.0, 320, 240)
    clip = rig.host.attachment("dog.mp4", clip_bytes, content_type="video/mp4")
    voice = rig.host.attachment("bark.wav", samples.make_audio(2.0), content_type="audio/wav")
    await rig.call(
        VideoCog.reference,
        fake,
        prompt="Image 1 walks Video 1",
        reference1=picture,
        reference3=clip,
        voice3=voice,
        duration=4,
    )
    [job] = await rig.jobs()
    request = job.request
    assert job.model == "wan2.7-r2v"
    assert [item.type for item in request.media] == [
        MediaType.REFERENCE_IMAGE,
        MediaType.REFERENCE_VIDEO,
    ]
    uploads = rig.simulator.uploads
    assert uploads[request.media[0].url].data == IMAGE
    assert uploads[request.media[1].url].data == clip_bytes
    assert request.media[1].reference_voice is not None
    assert request.media[0].reference_voice is None
    assert request.input_seconds == pytest.approx(3.0, abs=0.1)
    allowance = await rig.services.quotas.allowance(guild_id=10, user_id=1)
    assert allowance.held_seconds == 7  # 4 s of video + the 3 s clip
    assert private_replies(fake) == [
        f"Queued as video #{job.id} (7 s of your quota). Progress is posted in this channel."
    ]


async def test_reference_refusals_cost_nothing(rig: Rig) -> None:
    picture = rig.host.attachment("me.png", IMAGE, content_type="image/png")
    clip = rig.host.attachment(
        "dog.mp4", samples.make_video(3.0, 320, 240), content_type="video/mp4"
    )
    voice = rig.host.attachment("bark.wav", samples.make_audio(2.0), content_type="audio/wav")
    cases = [
        ({"reference1": clip, "duration": 12}, "With a reference clip, wan2.7-r2v makes videos"),
        ({"reference1": picture, "voice2": voice}, "voice2: reference2 is empty"),
        ({"reference1": voice}, "Reference 1: “bark.wav” is neither a picture nor a video clip"),
    ]
    for options, says in cases:
        fake = rig.fake()
        await rig.call(VideoCog.reference, fake, prompt="Image 1", **options)
        assert says in private_replies(fake)[0]
        fake.response.defer.assert_not_awaited()
    assert await rig.jobs() == []
    assert "download" not in rig.timeline.names()


async def test_a_reference_clip_that_leaves_no_quota_is_refused_once_read(rig: Rig) -> None:
    """Admitted on the least the clip can cost (1 s), refused once its 3 s are read: nothing
    queued, nothing charged."""
    await rig.services.quotas.set_override(10, 1, 6)
    clip = rig.host.attachment(
        "dog.mp4", samples.make_video(3.0, 320, 240), content_type="video/mp4"
    )
    fake = rig.fake()
    await rig.call(VideoCog.reference, fake, prompt="Video 1 runs", reference1=clip, duration=4)
    assert "needs 7 s of your quota but you have 6 s left" in private_replies(fake)[-1]
    assert await rig.jobs() == []
    allowance = await rig.services.quotas.allowance(guild_id=10, user_id=1)
    assert allowance.held_seconds == 0


async def test_edit_queues_the_clip_with_its_pictures_and_keeps_its_sound(rig: Rig) -> None:
    fake = rig.fake()
    clip_bytes = samples.make_video(3.0, 320, 240, with_audio=True)
    clip = rig.host.attachment("me.mp4", clip_bytes, content_type="video/mp4")
    coat = rig.host.attachment("coat.png", IMAGE, content_type="image/png")
    await rig.call(
        VideoCog.edit, fake, clip=clip, prompt="Give me this coat", reference1=coat, keep_sound=True
    )
    [job] = await rig.jobs()
    request = job.request
    assert job.model == "wan2.7-videoedit"
    assert [item.type for item in request.media] == [MediaType.VIDEO, MediaType.REFERENCE_IMAGE]
    assert rig.simulator.uploads[request.media[0].url].data == clip_bytes
    assert request.audio_setting == "origin" and request.duration is None
    assert "duration" not in request.body()["parameters"]
    assert job.duration == 3  # as long as the clip
    allowance = await rig.services.quotas.allowance(guild_id=10, user_id=1)
    assert allowance.held_seconds == 6  # the clip's 3 s and the new video's 3 s
    assert private_replies(fake) == [
        f"Queued as video #{job.id} (6 s of your quota). Progress is posted in this channel."
    ]


async def test_edit_refusals_cost_nothing(rig: Rig) -> None:
    clip = rig.host.attachment(
        "me.mp4", samples.make_video(3.0, 320, 240), content_type="video/mp4"
    )
    fake = rig.fake()
    await rig.call(VideoCog.edit, fake, clip=clip, prompt="Claymation", duration=8)
    assert "an edit can cut it, not make it longer" in private_replies(fake)[-1]
    fake = rig.fake()
    await rig.call(VideoCog.edit, fake, clip=clip, prompt="Claymation", reference1=clip)
    assert "Reference video: wan2.7-videoedit does not take this input." in private_replies(fake)[0]
    fake.response.defer.assert_not_awaited()
    assert await rig.jobs() == []


def test_the_model_list_says_where_your_clips_count_too() -> None:
    fields = {f.name: f.value for f in render_member.models(ENGLISH).fields}
    assert "Your clips' seconds count too (at most 5 s)." in fields["wan2.7-r2v"]
    assert "Your clips' seconds count too (at most 10 s)." in fields["wan2.7-videoedit"]
    assert "count too" not in fields["wan2.7-i2v"]


async def test_an_edit_longer_than_the_servers_longest_is_cut_to_it(rig: Rig) -> None:
    await rig.services.guild_settings.update(10, max_duration=2)
    clip = rig.host.attachment(
        "me.mp4", samples.make_video(3.0, 320, 240), content_type="video/mp4"
    )
    await rig.call(VideoCog.edit, rig.fake(), clip=clip, prompt="Claymation")
    [job] = await rig.jobs()
    assert job.duration == 2 and job.request.body()["parameters"]["duration"] == 2
    allowance = await rig.services.quotas.allowance(guild_id=10, user_id=1)
    assert allowance.held_seconds == 5  # 2 s of video from the 3 s clip

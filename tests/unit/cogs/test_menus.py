"""Message menus at the Discord edge: right-click a message → Apps → "Animate this image" or
"Continue this clip", a modal for the prompt, a video queued the way /video queues one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest import mock

import discord
import pytest
from discord import app_commands

from bot.domain.catalog import MODELS, MediaType
from bot.i18n import CATALOGS, _, language
from bot.media import samples
from cogs.choices import withdraw
from cogs.video.menus import (
    EXPIRY_MARGIN_SECONDS,
    MESSAGE_ACTIONS,
    MODAL_SECONDS,
    MessageAction,
    PromptModal,
    VideoMenus,
    forgotten,
    modal_id,
)
from tests.support.discord_fakes import MB, member, private_replies
from tests.support.video_rig import IMAGE, Rig, make_rig

ANIMATE, CONTINUE = "Animate this image", "Continue this clip"
CLIP = samples.make_video(3.0, 320, 240, fps=5)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async for made in make_rig(tmp_path):
        yield made


@pytest.fixture
async def menus(rig: Rig) -> VideoMenus:
    cog = VideoMenus(rig.bot)
    await rig.bot.add_cog(cog)
    return cog


def message(*files: discord.Attachment, author: discord.Member | None = None) -> discord.Message:
    """A message in the channel, by anyone (another member by default), with `files`."""
    fake = mock.create_autospec(discord.Message, instance=True, spec_set=True)
    fake.id = 777
    fake.author = author or member(2)
    fake.attachments = list(files)
    return fake


def menu_named(rig: Rig, name: str) -> app_commands.ContextMenu:
    found = rig.bot.tree.get_command(name, type=discord.AppCommandType.message)
    assert isinstance(found, app_commands.ContextMenu), f"no message menu {name!r}"
    return found


async def right_click(rig: Rig, name: str, fake: discord.Interaction, target: Any) -> None:
    """Choose a message menu the way discord.py runs it, errors through the tree's handler."""
    menu = menu_named(rig, name)
    try:
        await menu._invoke(fake, target)
    except app_commands.AppCommandError as error:
        await rig.bot.tree.on_error(fake, error)


def opened(fake: discord.Interaction) -> PromptModal:
    """The modal the menu answered with (its only answer)."""
    fake.response.send_modal.assert_awaited_once()
    fake.response.defer.assert_not_awaited()
    fake.response.send_message.assert_not_awaited()
    modal = fake.response.send_modal.await_args.args[0]
    assert isinstance(modal, PromptModal)
    return modal


def shown(modal: PromptModal) -> dict[str, Any]:
    """What the member sees: the texts, and each field by its label, as Discord is sent them."""
    sent = modal.to_dict()["components"]
    return {
        "texts": [c["content"] for c in sent if c["type"] == 10],
        "fields": {c["label"]: c["component"] for c in sent if c["type"] == 18},
    }


async def submit(
    modal: PromptModal, fake: discord.Interaction, prompt: str, negative: str = ""
) -> None:
    """Submit the modal as discord.py does: the typed values read from Discord's payload."""
    labels = [
        {
            "type": 18,
            "component": {"type": 4, "custom_id": item.custom_id, "value": value},
        }
        for item, value in ((modal.prompt, prompt), (modal.negative_prompt, negative))
    ]
    await modal._scheduled_task(fake, labels, {})  # type: ignore[arg-type]


async def nothing_spent(rig: Rig) -> None:
    assert await rig.jobs() == []
    assert rig.uploads() == 0
    allowance = await rig.services.quotas.allowance(guild_id=10, user_id=1)
    assert allowance.used_seconds == 0 and allowance.held_seconds == 0


async def test_animate_this_image_makes_a_video_from_another_members_picture(
    rig: Rig, menus: VideoMenus
) -> None:
    picture = rig.host.attachment("cat.png", IMAGE, content_type="image/png")
    fake = rig.fake()
    await right_click(rig, ANIMATE, fake, message(picture))

    modal = opened(fake)
    assert modal.title == "Animate this image"
    seen = shown(modal)
    assert seen["texts"] == [], "one picture: nothing to say about which"
    prompt = seen["fields"]["What should happen in the video"]
    negative = seen["fields"]["What to avoid"]
    assert prompt["required"] is False and negative["required"] is False
    assert prompt["max_length"] == 4000, "wan2.7-i2v takes 5,000; Discord at most 4,000"
    assert negative["max_length"] == 500
    assert "download" not in rig.timeline.names(), "nothing is read before the prompt"

    done = rig.fake()
    await submit(modal, done, "The cat waves", "blur")
    [job] = await rig.jobs()
    assert (job.model, job.duration) == ("wan2.7-i2v", 5)
    assert job.request.prompt == "The cat waves" and job.request.negative_prompt == "blur"
    assert job.request.media_types == {MediaType.FIRST_FRAME}
    [item] = job.request.media
    assert rig.simulator.uploads[item.url].data == IMAGE
    assert (job.guild_id, job.channel_id, job.user_id) == (10, 100, 1), "the clicker's video"
    done.response.defer.assert_awaited_once_with(ephemeral=True, thinking=True)
    assert private_replies(done) == [
        f"Queued as video #{job.id} (5 s of your quota). Progress is posted in this channel."
    ]
    assert (await rig.services.quotas.allowance(guild_id=10, user_id=1)).held_seconds == 5


async def test_continue_this_clip_continues_a_posted_video_on_wan27(
    rig: Rig, menus: VideoMenus
) -> None:
    video = rig.host.attachment("wanbot-3.mp4", CLIP, content_type="video/mp4")
    fake = rig.fake()
    await right_click(rig, CONTINUE, fake, message(video, author=member(99)))
    modal = opened(fake)
    assert modal.title == "Continue this clip"
    assert list(shown(modal)["fields"]) == ["What happens next", "What to avoid"]

    await submit(modal, rig.fake(), "The camera flies up")
    [job] = await rig.jobs()
    assert job.model == "wan2.7-i2v" and job.request.media_types == {MediaType.FIRST_CLIP}
    assert job.duration == 8, "a 3 s clip continues to 3 + 5 s, as /video continue does"
    [item] = job.request.media
    assert rig.simulator.uploads[item.url].data == CLIP


async def test_animate_uses_the_servers_default_model_that_takes_a_picture(
    rig: Rig, menus: VideoMenus
) -> None:
    await rig.services.guild_settings.update(10, default_model="wan2.6-i2v-flash")
    fake = rig.fake()
    picture = rig.host.attachment("cat.png", IMAGE, content_type="image/png")
    await right_click(rig, ANIMATE, fake, message(picture))
    modal = opened(fake)
    assert modal.prompt.max_length == MODELS["wan2.6-i2v-flash"].prompt_max
    await submit(modal, rig.fake(), "Waves")
    [job] = await rig.jobs()
    assert job.model == "wan2.6-i2v-flash"


async def test_of_several_pictures_the_first_is_taken_and_said(rig: Rig, menus: VideoMenus) -> None:
    first = rig.host.attachment("a.png", IMAGE, content_type="image/png")
    other = samples.make_image(640, 480, hue=2)
    second = rig.host.attachment("b.png", other, content_type="image/png")
    song = rig.host.attachment("song.wav", samples.make_audio(3.0), content_type="audio/wav")
    fake = rig.fake()
    await right_click(rig, ANIMATE, fake, message(song, first, second))
    modal = opened(fake)
    assert shown(modal)["texts"] == ["That message has 2 images: the first, “a.png”, is used."]
    await submit(modal, rig.fake(), "Go")
    [job] = await rig.jobs()
    [item] = job.request.media
    assert rig.simulator.uploads[item.url].data == IMAGE


@pytest.mark.parametrize(
    ("menu", "files", "said"),
    [
        (ANIMATE, (), "That message has no image attached."),
        (ANIMATE, (("clip.mp4", CLIP, "video/mp4", None),), "That message has no image attached."),
        (CONTINUE, (("a.png", IMAGE, "image/png", None),), "That message has no video attached."),
        (
            ANIMATE,
            (("a.png", b"%PDF-1.4", "application/pdf", None),),
            "That message has no image attached.",
        ),
        (
            ANIMATE,
            (("big.png", IMAGE, "image/png", 25 * MB),),
            "First frame: the file is 25.0 MB; wan2.7-i2v takes at most 20 MB.",
        ),
        (
            CONTINUE,
            (("huge.mp4", CLIP, "video/mp4", 120 * MB),),
            "First clip: the file is 120.0 MB; wan2.7-i2v takes at most 100 MB.",
        ),
    ],
)
async def test_a_message_without_a_usable_file_is_refused_before_the_modal(
    rig: Rig,
    menus: VideoMenus,
    menu: str,
    files: tuple[tuple[str, bytes, str, int | None], ...],
    said: str,
) -> None:
    attached = [
        rig.host.attachment(name, data, content_type=kind, size=size)
        for name, data, kind, size in files
    ]
    fake = rig.fake()
    await right_click(rig, menu, fake, message(*attached))
    [reply] = private_replies(fake)
    assert said in reply
    fake.response.send_modal.assert_not_awaited()
    assert "download" not in rig.timeline.names()
    await nothing_spent(rig)


async def test_a_bad_file_found_after_the_prompt_costs_nothing(rig: Rig, menus: VideoMenus) -> None:
    """Described as a PNG, it is not one: refused once read, after the defer, nothing charged."""
    fake = rig.fake()
    fake_png = rig.host.attachment(
        "cat.png", b"not a picture at all" * 50, content_type="image/png"
    )
    await right_click(rig, ANIMATE, fake, message(fake_png))
    done = rig.fake()
    await submit(opened(fake), done, "Go")
    [reply] = private_replies(done)
    assert "First frame" in reply
    await nothing_spent(rig)


async def test_the_servers_rules_and_the_quota_apply_before_the_modal(
    rig: Rig, menus: VideoMenus
) -> None:
    picture = rig.host.attachment("cat.png", IMAGE, content_type="image/png")
    store = rig.services.guild_settings
    await store.update(10, allowed_channels=frozenset({555}))
    fake = rig.fake()
    await right_click(rig, ANIMATE, fake, message(picture))
    assert "Videos can be made in <#555> on this server." in private_replies(fake)[0]
    fake.response.send_modal.assert_not_awaited()

    await store.update(10, allowed_channels=frozenset(), hidden_models=frozenset({"wan2.7-i2v"}))
    fake = rig.fake()
    await right_click(
        rig, CONTINUE, fake, message(rig.host.attachment("c.mp4", CLIP, content_type="video/mp4"))
    )
    assert "wan2.7-i2v is not offered on this server" in private_replies(fake)[0]

    await store.update(10, hidden_models=frozenset())
    await rig.services.quotas.set_override(10, 1, 4)
    fake = rig.fake()
    await right_click(rig, ANIMATE, fake, message(picture))
    assert "needs 5 s of your quota but you have 4 s left this week" in private_replies(fake)[0]
    fake.response.send_modal.assert_not_awaited()
    await nothing_spent(rig)


async def test_the_prompt_typed_is_checked_like_a_commands(rig: Rig, menus: VideoMenus) -> None:
    await rig.services.guild_settings.update(10, banned_words=("gore",))
    picture = rig.host.attachment("cat.png", IMAGE, content_type="image/png")
    fake = rig.fake()
    await right_click(rig, ANIMATE, fake, message(picture))
    done = rig.fake()
    await submit(opened(fake), done, "lots of GORE")
    [reply] = private_replies(done)
    assert "The prompt uses “gore”, which this server does not allow." in reply
    done.response.defer.assert_not_awaited()
    await nothing_spent(rig)


async def test_a_member_reads_the_menu_and_its_modal_in_their_language(
    rig: Rig, menus: VideoMenus
) -> None:
    ja = language("ja")
    fake = rig.fake(locale=discord.Locale.japanese)
    picture = rig.host.attachment("cat.png", IMAGE, content_type="image/png")
    await right_click(rig, ANIMATE, fake, message(picture))
    modal = opened(fake)
    assert modal.title == ja.render(MESSAGE_ACTIONS[0].name) != ANIMATE
    assert list(shown(modal)["fields"]) == [
        ja.gettext("What should happen in the video"),
        ja.gettext("What to avoid"),
    ]


async def test_menu_names_keep_discords_rules_in_every_language() -> None:
    for action in MESSAGE_ACTIONS:
        for code in CATALOGS:
            name = language(code).render(action.name)
            assert 1 <= len(name) <= 32, f"[{code}] {name!r}"
            assert name != str(action.name) or code.startswith("en"), f"[{code}] untranslated"


async def test_a_menu_is_offered_only_when_a_model_takes_its_input(rig: Rig) -> None:
    """The menus are data: one whose model does not take its input is never registered, and the
    operator's retired models take a menu away when the commands load."""
    nobody = MessageAction(_("Animate this image"), MediaType.LAST_FRAME, _("What happens next"))
    wrong_model = MessageAction(
        _("Continue this clip"), MediaType.FIRST_CLIP, _("What happens next"), "wan2.6-i2v"
    )
    assert not nobody.offered() and not wrong_model.offered()
    assert VideoMenus(rig.bot, (nobody, wrong_model)).menus == []

    cog = VideoMenus(rig.bot)
    await rig.bot.add_cog(cog)
    names = {c.name for c in rig.bot.tree.get_commands(type=discord.AppCommandType.message)}
    assert names == {ANIMATE, CONTINUE, "Edit this clip"}
    # Animate has other models; Continue not; Edit keeps its own model.
    withdraw(rig.bot.tree, frozenset({"wan2.7-i2v"}))
    names = {c.name for c in rig.bot.tree.get_commands(type=discord.AppCommandType.message)}
    assert names == {ANIMATE, "Edit this clip"}
    withdraw(rig.bot.tree, frozenset({"wan2.7-videoedit"}))
    names = {c.name for c in rig.bot.tree.get_commands(type=discord.AppCommandType.message)}
    assert names == {ANIMATE}

    await rig.bot.remove_cog(cog.qualified_name)
    assert rig.bot.tree.get_commands(type=discord.AppCommandType.message) == []


async def test_an_action_for_a_fixed_model_is_one_entry(rig: Rig) -> None:
    """A menu for a fixed model is one entry: a name, the role of the file, what to ask, the
    model (as "Edit this clip" is)."""
    action = replace(MESSAGE_ACTIONS[1], model="wan2.7-i2v")
    cog = VideoMenus(rig.bot, (action,))
    assert [menu.name for menu in cog.menus] == [CONTINUE]


def test_a_modal_is_forgotten_after_its_timeout_or_a_restart() -> None:
    opened = modal_id(1000.0, run="aaaa")
    assert len(opened) <= 100, "Discord's limit on a custom_id"
    assert not forgotten(opened, 1000.0 + MODAL_SECONDS, run="aaaa"), "still waited for"
    late = 1000.0 + MODAL_SECONDS + EXPIRY_MARGIN_SECONDS + 1
    assert forgotten(opened, late, run="aaaa")
    assert forgotten(opened, 1001.0, run="bbbb"), "opened before a restart"
    assert not forgotten("someone-elses-modal", late), "not one of ours"


async def test_a_forgotten_modal_is_answered_and_a_waited_for_one_left_alone(
    rig: Rig, menus: VideoMenus
) -> None:
    fake = rig.fake()
    await right_click(rig, ANIMATE, fake, message(rig.host.attachment("a.png", IMAGE)))
    live = opened(fake).custom_id

    for custom_id, answered in ((live, False), (modal_id(0.0, run="earlier"), True)):
        sent = rig.fake()
        sent.type = discord.InteractionType.modal_submit
        sent.data = {"custom_id": custom_id, "components": []}
        await menus.on_interaction(sent)
        replies = private_replies(sent)
        assert bool(replies) is answered, replies
    assert "That window has expired" in replies[0]
    await nothing_spent(rig)
